"""The relay's child process: started and stopped by its :class:`Link`, gone (reaped) once
``stop()`` returns, gone too when its parent dies; a start that cannot listen says why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cachetui.engine.lab.link import Link, LinkError
from tests.link.conftest import connect, receive


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_child_is_gone_after_stop(echo_server: tuple[str, int]):
    link = Link(echo_server, rtt=0.0)
    link.start()
    pid = link.pid
    assert pid is not None and pid != os.getpid() and running(pid)
    with connect(link) as sock:
        sock.sendall(b"x")
        receive(sock, 1)
        link.stop()
        assert sock.recv(1) == b""  # its connections closed with it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie: no process at all
    link.stop()  # again: nothing to do
    with pytest.raises(LinkError, match="not running"):
        link.stats()


def test_the_child_exits_when_its_parent_dies(echo_server: tuple[str, int], tmp_path: Path):
    code = (
        "import os, sys\n"
        "from cachetui.engine.lab.link import Link\n"
        f"link = Link(('127.0.0.1', {echo_server[1]}), rtt=0.0)\n"
        "link.start()\n"
        "print(link.pid, flush=True)\n"
        "os._exit(0)  # no stop(): the parent is gone, its pipes closed\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    pid = int(result.stdout)
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(pid)


def test_a_start_that_cannot_listen_says_why_and_leaves_nothing(echo_server: tuple[str, int]):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        link = Link(echo_server, rtt=0.0, listen=taken.getsockname())
        with pytest.raises(LinkError, match="cannot listen on 127.0.0.1:.*in use"):
            link.start()
    finally:
        taken.close()
    assert link.pid is not None and not running(link.pid)
    assert not link.running


def test_a_client_of_an_unreachable_server_is_reset(echo_server: tuple[str, int]):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there
    with Link(("127.0.0.1", port), rtt=0.0) as link, connect(link) as sock:
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
        stats = link.stats()
    assert stats["refused"] == 1 and "refused" in str(stats["error"]).lower()
