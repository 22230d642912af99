"""What is said on stderr at exit (issue 32, item 8 and the trial): an engine never
closed names where a durable queue keeps its writes (an outbox file, or a Redis Stream:
never "the outbox memory", never "never reached" for a write that is kept), and the
report of a quit is wrapped to the terminal's real width, or not at all off a terminal."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import redis

from cachetui.cli.quit_report import SignalReport, parked_lines, stderr_width
from cachetui.engine import Engine, EngineConfig
from tests.conftest import delete_test_keys, redis_or_skip

LEFT_OPEN = textwrap.dedent(
    """
    import asyncio, sys
    from cachetui.engine import Engine, EngineConfig
    KEEP = []
    async def main(db, queue):
        engine = Engine(EngineConfig(db_path=db, policy="write-behind", queue_url=queue,
                                     flush_interval=3600))
        await engine.start()
        await engine.seed(10)
        await engine.update(4, {"bio": "kept"})
        KEEP.append(engine)  # never closed: the warning at exit speaks
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_an_engine_never_closed_names_the_durable_queue_that_keeps_its_writes(tmp_path):
    redis_url = redis_or_skip()
    said = {}
    for queue in ("sqlite://", redis_url):
        db = str(tmp_path / f"{len(said)}.db")
        result = subprocess.run(
            [sys.executable, "-c", LEFT_OPEN, db, queue],
            capture_output=True,
            text=True,
            timeout=30,
        )
        said[queue] = result.stderr
    assert "1 acknowledged write stays in the outbox " in said["sqlite://"]
    assert "0.db.outbox, replayed at the next start: (user 4, v2)" in said["sqlite://"]
    stream = said[redis_url]
    key = re.search(r"redis stream (\S+) at", stream)
    if key is not None:  # the stream this test left: gone from the shared test database
        with redis.Redis.from_url(redis_url) as client:
            client.delete(key.group(1))
    assert "1 acknowledged write stays in the redis stream cachetui:queue:" in stream
    assert "replayed at the next start: (user 4, v2)" in stream
    for text in said.values():
        assert "never reached" not in text and "outbox memory" not in text


def test_the_quit_report_wraps_to_the_width_it_is_given_and_not_off_a_terminal():
    report = SignalReport(
        signal.SIGTERM,
        lost=[(u, 100 + u) for u in range(1, 40)],
        reason="database is down (injected outage)",
        parked=[(u, 2, "rejected") for u in range(50, 70)],
        db_path="/home/someone/.local/share/cachetui/profiles.db",
    )
    for width in (60, 80, 132):
        lines = report.stderr_lines(width)
        assert all(len(line) <= width for line in lines), width
        assert len(lines) > 4
        joined = " ".join(" ".join(lines).split())
        for user in (1, 39):  # a user and its version are never cut apart
            assert f"user {user} v{100 + user}" in joined
    lines = report.stderr_lines(None)  # a pipe, a log: one line each, not wrapped
    assert len(lines) == 4 and lines[1].startswith("  lost (user, newest version): user 1 v101")
    assert len(parked_lines(report.parked, report.db_path, None)) == 2


def test_the_width_is_the_terminals_and_none_off_a_terminal(tmp_path: Path):
    assert stderr_width() is None  # pytest captures stderr: no terminal
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 57, 0, 0))
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from cachetui.cli.quit_report import stderr_width; print(stderr_width())",
            ],
            stderr=terminal,
            stdout=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.stdout.strip() == "57"


async def test_a_close_that_gives_up_names_the_durable_queue_that_keeps_the_writes(tmp_path):
    """The close event says where the kept writes are: the outbox file, or the stream
    (a Redis queue is no outbox)."""
    redis_url = redis_or_skip()
    said = {}
    try:
        for queue in ("sqlite://", redis_url):
            config = EngineConfig(
                db_path=str(tmp_path / f"{len(said)}.db"),
                policy="write-behind",
                queue_url=queue,
                flush_interval=3600,
            )
            engine = Engine(config)
            await engine.start()
            await engine.seed(10)
            await engine.update(4, {"bio": "kept"})
            engine.faults.db_down = True
            await engine.close(timeout=0.2)
            said[queue] = [e.detail for e in engine.recent_events() if "stay" in e.detail]
    finally:
        delete_test_keys(redis_url, tmp_path)
    assert len(said["sqlite://"]) == 1
    assert "1 write stays in the outbox " in said["sqlite://"][0]
    (kept,) = said[redis_url]
    assert re.search(r"1 write stays in the (redis stream|fleet queue) cachetui:queue:", kept)
