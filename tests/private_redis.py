"""A private redis-server for one test module: on a free port and a Unix socket in a
temporary folder, optionally with a password; killed afterwards. Skipped without
redis-server, except under CI=true (then the test fails)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis


@dataclass(frozen=True)
class PrivateRedis:
    port: int
    socket: str
    password: str | None

    @property
    def url(self) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def key_count(self) -> int:
        """How many keys it holds, in all of its databases."""
        with redis.Redis.from_url(self.url) as client:
            return sum(
                int(space["keys"])
                for name, space in client.info("keyspace").items()
                if name.startswith("db")
            )


@contextlib.contextmanager
def private_redis(password: str | None = None) -> Iterator[PrivateRedis]:
    executable = shutil.which("redis-server")
    if executable is None:
        reason = "redis-server is not installed: this test needs a private one"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires redis-server: {reason}")
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="cachetui-redis-"))  # short: a socket path ≤ 107
    server = PrivateRedis(port, str(folder / "redis.sock"), password)
    secret = ["--requirepass", password] if password else []
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1",
         "--unixsocket", server.socket, "--unixsocketperm", "700", *secret,
         "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(250):  # up to ~5 s to start
            try:
                with redis.Redis.from_url(server.url, socket_connect_timeout=0.2) as client:
                    client.ping()
                break
            except redis.RedisError:
                time.sleep(0.02)
        else:
            pytest.fail("the test's redis-server did not start")
        yield server
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)
