"""kill -9 of a real process with a durable write-behind queue loses nothing: a script
drives an engine with ``--queue``-like settings and prints each acknowledgement; it is
killed for real; then the real ``cachetui`` (a plain launch: the default outbox beside
the database is replayed whatever the queue) starts, and quits the way q does."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import delete_test_keys, redis_or_skip
from tests.test_signals import TIMEOUT, Terminal, env  # noqa: F401 - env is a fixture

pytestmark = pytest.mark.timeout(3 * TIMEOUT)  # up to TIMEOUT at each of its steps

DRIVER = """
import asyncio, sys
from cachetui.engine import Engine, EngineConfig

async def main() -> None:
    config = EngineConfig(db_path=sys.argv[1], policy="write-behind", queue_url=sys.argv[2],
                          flush_interval=3600)
    engine = await Engine(config).start()
    await engine.seed(200)
    n = 0
    while True:
        n += 1
        user = 1 + n % 150
        profile = await engine.update(user, {"followers": n})
        print(f"ack {profile.user_id} {profile.version}", flush=True)

asyncio.run(main())
"""


def acknowledged_until_killed(db: Path, queue: str, count: int) -> dict[int, int]:
    """Run the driver, SIGKILL it after ``count`` acknowledgements: user → newest acked
    version."""
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(db), queue],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: dict[int, int] = {}
    try:
        assert driver.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        while len(acked) < count or sum(acked.values()) < count * 2:
            line = driver.stdout.readline()
            assert line, driver.stderr.read() if driver.stderr else "driver ended"
            _, user, version = line.split()
            acked[int(user)] = int(version)
            assert time.monotonic() < deadline
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(TIMEOUT)
        for line in driver.stdout:  # acknowledgements printed before the kill landed
            _, user, version = line.split()
            acked[int(user)] = max(acked.get(int(user), 0), int(version))
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == -signal.SIGKILL
    return acked


def versions(db: Path) -> dict[int, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT user_id, version FROM profiles"))


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite://"
        return
    url = redis_or_skip()
    yield url
    delete_test_keys(url, tmp_path)  # this test's stream and cache keys, no other's


def test_kill_9_with_a_durable_queue_loses_no_acknowledged_write(tmp_path, env, queue):  # noqa: F811
    db = tmp_path / "profiles.db"
    acked = acknowledged_until_killed(db, queue, count=100)
    before = versions(db)
    assert any(before[user] < version for user, version in acked.items())  # were pending

    # a plain launch: the default outbox is replayed; a stream when --cache names its server
    extra = [] if queue == "sqlite://" else ["--cache", queue]
    app = Terminal([sys.executable, "-m", "cachetui", "--db", str(db), *extra], env)
    try:
        # named by where they were: the outbox (its path), or the Redis stream (its key)
        source = rb"the outbox" if queue == "sqlite://" else rb"the redis"
        app.wait_for(rb"recovered \d+ writes? from " + source)
        os.kill(app.pid, signal.SIGTERM)  # the path of q: flush, then exit
        assert app.wait() == 0
    finally:
        app.close()
    after = versions(db)
    assert all(after[user] >= version for user, version in acked.items())
