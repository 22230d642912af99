"""Links in front of the test Redis server and of an echo server of the test's own, and a
few helpers that talk raw TCP through them (timing what the relay does to each byte)."""

from __future__ import annotations

import gc
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from cachetui.engine.database import giving_up
from cachetui.engine.lab.link import Link
from tests.conftest import TEST_REDIS_URL, redis_or_skip


@pytest.fixture(scope="module")
def module_redis_link() -> Iterator[Link]:
    redis_or_skip()
    with Link.for_url(TEST_REDIS_URL, rtt=0.0) as link:
        yield link


@pytest.fixture
def redis_link(module_redis_link: Link) -> Iterator[Link]:
    """A started link to the test Redis server (shared by a module's tests): no delay, no
    partition, at the start and end of each test."""
    link = module_redis_link
    link.partition = None
    link.rtt = 0.0
    link.jitter = 0.0
    yield link
    link.partition = None
    link.rtt = 0.0
    link.jitter = 0.0


@pytest.fixture
def brief_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a database call begun after a close gave up still gets
    (:data:`~cachetui.engine.database.giving_up.GRACE`, 1 s) cut to 0.1 s. A close behind
    a blackhole waits it out once or twice (its retry, its pool's workers): these tests
    assert what is given up and what is named, not how long a late call may try."""
    monkeypatch.setattr(giving_up, "GRACE", 0.1)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, int]]:
    """A TCP echo server in a thread of the test process."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


def connect(link: Link, timeout: float = 5.0) -> socket.socket:
    assert link.address is not None
    sock = socket.create_connection(link.address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def ping(sock: socket.socket) -> float:
    """Seconds one inline Redis PING takes through ``sock``."""
    started = time.monotonic()
    sock.sendall(b"PING\r\n")
    assert receive(sock, 7) == b"+PONG\r\n"
    return time.monotonic() - started


@pytest.fixture(autouse=True)
def _garbage_collected_here() -> Iterator[None]:
    """Collect a test's garbage (connections a partition closed, their coroutines) before
    the next test: collected later, its finalizers may run inside pytest's parse of a
    module, which CPython 3.11.7 here reports as "SystemError: AST constructor recursion
    depth mismatch", ending the run (seen with tests/link/test_lost_commits.py, -n 0)."""
    yield
    gc.collect()
