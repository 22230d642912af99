"""A process killed at any step of a durable write-behind write: what the next start
makes of what it left. The child engine kills itself (SIGKILL) at the step
``CACHETUI_CRASH_AT`` names; then another program writes the row; then a new engine
replays the durable queue. A write that had landed is recognised by its write id and
dropped (never applied twice, never a conflict); one that had not is replayed, and
meets the other program's write as a conflict."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cachetui.engine import Engine, EngineConfig, ValidationError
from cachetui.engine.crash_points import STEPS
from tests.conftest import TEST_REDIS_URL, db_row, delete_test_keys, redis_or_skip

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from cachetui.engine import Engine, EngineConfig

    async def main(db, queue):
        engine = Engine(EngineConfig(db_path=db, policy="write-behind", queue_url=queue,
                                     flush_interval=3600))
        await engine.start()
        await engine.seed(3)
        acknowledged = await engine.update(1, {"bio": "acknowledged"})
        print(acknowledged.write_id, flush=True)
        await engine.flush()
        await engine.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)
LANDED = ("flush-committed", "flush-journaled")


def killed_at(step: str, db: str, queue: str, child: str = CHILD) -> str | None:
    """Run the child with the crash point armed; the write id it acknowledged (None if
    it died before the acknowledgement)."""
    done = subprocess.run(
        [sys.executable, "-c", child, db, queue],
        env={**os.environ, "CACHETUI_CRASH_AT": step},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip() or None


def another_program_writes(db: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE profiles SET location = 'Elsewhere' WHERE user_id = 1")


async def restart(db: str, queue: str, conflict: str) -> Engine:
    engine = Engine(
        EngineConfig(
            db_path=db,
            policy="write-behind",
            queue_url=queue,
            conflict=conflict,  # type: ignore[arg-type]
            flush_interval=3600,
        )
    )
    await engine.start()
    await engine.flush()
    return engine


QUEUES = [pytest.param("sqlite://", step, "reject", id=f"outbox-{step}") for step in STEPS] + [
    pytest.param("sqlite://", "flush-committed", "overwrite", id="outbox-overwrite"),
    pytest.param("redis", "flush-committed", "reject", id="stream-flush-committed"),
    pytest.param("redis", "flush-taken", "overwrite", id="stream-flush-taken-overwrite"),
]


@pytest.mark.parametrize(("queue", "step", "conflict"), QUEUES)
async def test_a_kill_at_each_step_of_a_flush(tmp_path: Path, queue, step, conflict):
    db = str(tmp_path / "profiles.db")
    if queue == "redis":
        queue = redis_or_skip(TEST_REDIS_URL)
    try:
        write_id = killed_at(step, db, queue)
        assert (write_id is None) == (step == "append-committed")
        landed = step in LANDED
        another_program_writes(db)  # location 'Elsewhere', one version up, no write id
        engine = await restart(db, queue, conflict)
        try:
            row = db_row(db, 1)
            assert row is not None
            if landed:
                # the write is there once: the other program's write on top, untouched
                assert (row.version, row.write_id, row.bio) == (3, None, "acknowledged")
                assert row.location == "Elsewhere"
                assert engine.dead_letters() == [] and engine.metrics.conflicts == 0
                assert (engine.recovered, engine.recovered_landed) == (
                    (0, 1) if step == "flush-committed" else (0, 0)
                )
            elif conflict == "reject":  # never landed: replayed, built on v1, the row is v2
                [letter] = engine.dead_letters()
                assert (letter.kind, letter.profile.bio) == ("conflict", "acknowledged")
                assert write_id is None or letter.write_id == write_id
                assert row.version == 2 and row.bio != "acknowledged"
                assert row.location == "Elsewhere"
            else:  # overwrite: the replayed write lands over the other program's (lost)
                assert (row.version, row.bio) == (3, "acknowledged")
                assert row.location != "Elsewhere"
                assert write_id is None or row.write_id == write_id
        finally:
            await engine.close()
    finally:
        if queue.startswith("redis"):
            delete_test_keys(queue, tmp_path)


async def test_an_unknown_crash_point_is_refused_at_start(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CACHETUI_CRASH_AT", "flush-commited")
    engine = Engine(EngineConfig(db_path=str(tmp_path / "p.db")))
    with pytest.raises(ValidationError, match="flush-committed"):
        await engine.start()
    assert not (tmp_path / "p.db").exists()  # refused before anything was opened


BEHIND_A_FLIGHT = textwrap.dedent(
    """
    import asyncio, sys
    from cachetui.engine import Engine, EngineConfig

    async def main(db, queue):
        engine = Engine(EngineConfig(db_path=db, policy="write-behind", queue_url=queue,
                                     flush_interval=3600))
        await engine.start()
        await engine.seed(3)
        await engine.update(1, {"bio": "A"})
        engine.faults.db_latency = 0.3  # A's batch waits on its way to the database
        flush = asyncio.ensure_future(engine.flush())
        await asyncio.sleep(0.1)
        print((await engine.update(1, {"bio": "B, queued behind A"})).write_id, flush=True)
        await flush

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize("queue", ["sqlite://", "redis"])
async def test_a_write_queued_behind_a_landed_one_is_not_a_conflict(tmp_path: Path, queue):
    """Killed after A's batch committed, while B (built on A) waited behind it: B's
    entry still names A's base; A in the row is the same engine's earlier write, so B
    lands on it at the restart (no conflict, no other writer)."""
    db = str(tmp_path / "profiles.db")
    if queue == "redis":
        queue = redis_or_skip(TEST_REDIS_URL)
    try:
        b_id = killed_at("flush-committed", db, queue, BEHIND_A_FLIGHT)
        engine = await restart(db, queue, "reject")
        try:
            assert engine.dead_letters() == [] and engine.metrics.conflicts == 0
            row = db_row(db, 1)
            assert row is not None and (row.bio, row.write_id, row.version) == (
                "B, queued behind A",
                b_id,
                3,
            )
        finally:
            await engine.close()
    finally:
        if queue.startswith("redis"):
            delete_test_keys(queue, tmp_path)
