"""An append to the durable queue whose outcome is unknown (the caller gave up, the reply
timed out, the connection reset after the request ran) never leaves an orphan entry that
a later start replays over an acknowledged write: the entry is removed by its write id
before the user's next acknowledgement (which fails while it cannot be), and at a clean
close."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from tests.conftest import TEST_REDIS_URL, db_row, delete_test_keys, redis_or_skip
from tests.delay_relay import DelayRelay


async def engine_over(db: str, queue: str, conflict: str = "reject") -> Engine:
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
    await engine.seed(3)
    return engine


async def cancelled_while_the_outbox_is_locked(db: str, call: Any) -> None:
    """Start ``call`` while another connection holds the outbox file's write lock, cancel
    it as it waits there, then release the lock: the call ends cancelled."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_outbox() -> None:  # another connection holds the outbox's write lock
        with contextlib.closing(sqlite3.connect(db + ".outbox")) as other:
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(5)
            other.rollback()

    holder = threading.Thread(target=hold_the_outbox)
    holder.start()
    locked.wait(5)
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0.05)  # it waits for the lock
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    holder.join()


@pytest.mark.parametrize("how", ["caller gives up", "reply times out"])
async def test_a_sequencer_call_of_unknown_outcome_never_lands_over_an_acknowledged_write(
    tmp_path: Path, how
):
    """With the fleet queue (a redis:// queue) the call that failed may have run (it is
    not acknowledged: an ``info`` write, it may land); the next update is sequenced after
    it, so the acknowledged write is the user's newest and what the row ends with."""
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    host, port = "127.0.0.1", int(TEST_REDIS_URL.split(":")[2].split("/")[0])
    try:
        async with DelayRelay(host, port) as relay:
            timeout = "?socket_timeout=0.3" if how == "reply times out" else ""
            queue = relay.url("redis", "/15" + timeout)
            engine = await engine_over(db, queue)
            relay.hold = 1.0
            with pytest.raises((TimeoutError, DatabaseUnavailable)):
                await asyncio.wait_for(engine.update(1, {"bio": "never acknowledged"}), 0.6)
            relay.hold = 0.0
            acknowledged = await engine.update(1, {"bio": "acknowledged"})
            entries = await engine.fleet_pending()
            assert [e.write_id for e in entries][-1:] == [acknowledged.write_id]
            assert (await engine.read(1)).bio == "acknowledged"
            await engine.close()  # clean: the acknowledged write lands, its entry goes
            assert await fleet_left(db, TEST_REDIS_URL) == 0
        row = db_row(db, 1)
        assert row is not None and (row.bio, row.write_id, row.version) == (
            "acknowledged",
            acknowledged.write_id,
            acknowledged.version,
        )
    finally:
        delete_test_keys(TEST_REDIS_URL, tmp_path)


async def fleet_left(db: str, url: str) -> int:
    """Writes in the fleet queue of the database ``db``."""
    engine = Engine(EngineConfig(db_path=db, policy="write-behind", queue_url=url))
    await engine.start()
    try:
        return len(await engine.fleet_pending())
    finally:
        await engine.close()


async def test_a_cancelled_append_to_the_outbox_file_is_taken_back_by_write_id(tmp_path: Path):
    db = str(tmp_path / "profiles.db")
    engine = await engine_over(db, "sqlite://")
    pending = await engine.update(1, {"bio": "acknowledged, pending"})
    withdrawn = asyncio.Event()
    engine.subscribe(lambda e: withdrawn.set() if "never acknowledged" in e.detail else None)
    await cancelled_while_the_outbox_is_locked(db, engine.update(1, {"bio": "cancelled"}))
    async with asyncio.timeout(5):  # taken back in the background, as its event says
        await withdrawn.wait()
    with contextlib.closing(sqlite3.connect(db + ".outbox")) as outbox:
        rows = outbox.execute("SELECT version, write_id FROM outbox").fetchall()
    assert rows == [(2, pending.write_id)]  # the acknowledged write is the entry again
    assert (await engine.read(1)).bio == "acknowledged, pending"
    await engine.close()
    assert db_row(db, 1) == pending


async def test_leaving_the_fleet_while_redis_does_not_answer_is_refused(tmp_path: Path):
    """Switching away from the fleet queue while Redis does not answer fails (nothing
    changes: still in the fleet, its write still in Redis)."""
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    port = int(TEST_REDIS_URL.split(":")[2].split("/")[0])
    try:
        async with DelayRelay("127.0.0.1", port) as relay:
            engine = await engine_over(db, relay.url("redis", "/15?socket_timeout=0.3"))
            await engine.update(1, {"bio": "acknowledged"})
            relay.hold = 5.0
            with pytest.raises(DatabaseUnavailable, match="cannot be read"):
                await engine.set_queue("memory://", timeout=0.5)
            assert engine.running and engine.queue_location.startswith("fleet queue ")
            relay.hold = 0.0
            await engine.close(timeout=0.5, discard=True)
    finally:
        delete_test_keys(TEST_REDIS_URL, tmp_path)


async def test_a_cancelled_dead_letter_retry_then_a_discard_leave_nothing_to_replay(
    tmp_path: Path,
):
    db = str(tmp_path / "profiles.db")
    engine = await engine_over(db, "sqlite://")
    await engine.reject_writes(1)
    await engine.update(1, {"bio": "to be discarded"})
    for _ in range(3):
        await engine.flush()
    [letter] = engine.dead_letters()
    await engine.accept_writes(1)
    await cancelled_while_the_outbox_is_locked(db, engine.retry_dead_letters(1))
    assert engine.dead_letters() == [letter]  # still parked
    await engine.discard_dead_letter(1)
    await engine.close()
    with contextlib.closing(sqlite3.connect(db + ".outbox")) as outbox:
        assert outbox.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    again = await engine_over(db, "sqlite://")
    try:
        assert again.recovered == 0
        assert (await again.read(1)).bio != "to be discarded"
    finally:
        await again.close()
