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
import redis

from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from tests.conftest import TEST_REDIS_URL, db_row, delete_test_keys, redis_or_skip
from tests.delay_relay import DelayRelay


def stream_entries(engine: Engine) -> list[dict[bytes, bytes]]:
    with redis.Redis.from_url(TEST_REDIS_URL) as client:
        return [f for _, f in client.xrange(f"cachetui:queue:{engine.db.database_id}")]


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


async def then_nothing_is_replayed(db: str, queue: str, acknowledged: str) -> None:
    again = await engine_over(db, queue)
    try:
        assert (again.recovered, again.recovered_landed) == (0, 0)
        await again.flush()
        row = db_row(db, 1)
        assert row is not None and (row.bio, row.version) == (acknowledged, 2)
        assert again.dead_letters() == []
    finally:
        await again.close()


@pytest.mark.parametrize("how", ["caller gives up", "reply times out", "connection reset"])
async def test_an_append_of_unknown_outcome_leaves_no_orphan_in_the_stream(tmp_path: Path, how):
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    host, port = "127.0.0.1", int(TEST_REDIS_URL.split(":")[2].split("/")[0])
    try:
        async with DelayRelay(host, port) as relay:
            timeout = "?socket_timeout=0.3" if how == "reply times out" else ""
            queue = relay.url("redis", "/15" + timeout)
            engine = await engine_over(db, queue)
            if how == "connection reset":
                relay.reset_next_reply()
            else:
                relay.hold = 1.0
            with pytest.raises((TimeoutError, DatabaseUnavailable)):
                await asyncio.wait_for(engine.update(1, {"bio": "never acknowledged"}), 0.6)
            relay.hold = 0.0
            acknowledged = await engine.update(1, {"bio": "acknowledged"})
            entries = stream_entries(engine)
            assert [f[b"w"].decode() for f in entries] == [acknowledged.write_id]
            assert (await engine.read(1)).bio == "acknowledged"
            await engine.close()  # clean: the acknowledged write lands, its entry goes
            assert stream_entries(engine) == []  # and no orphan is left to replay
        await then_nothing_is_replayed(db, TEST_REDIS_URL, "acknowledged")
    finally:
        delete_test_keys(TEST_REDIS_URL, tmp_path)


async def test_the_next_acknowledgement_waits_until_the_orphan_is_removed(tmp_path: Path):
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    port = int(TEST_REDIS_URL.split(":")[2].split("/")[0])
    try:
        async with DelayRelay("127.0.0.1", port) as relay:
            engine = await engine_over(db, relay.url("redis", "/15?socket_timeout=0.3"))
            relay.hold = 5.0  # the queue stops answering for a while
            with pytest.raises(DatabaseUnavailable):
                await engine.update(1, {"bio": "never acknowledged"})
            with pytest.raises(DatabaseUnavailable, match="outcome is unknown"):
                await engine.update(1, {"bio": "not acknowledged either"})
            relay.hold = 0.0
            acknowledged = await engine.update(1, {"bio": "acknowledged"})
            assert [f[b"w"].decode() for f in stream_entries(engine)] == [acknowledged.write_id]
            await engine.close()
        row = db_row(db, 1)
        assert row is not None and row.write_id == acknowledged.write_id
        assert stream_entries(engine) == []
    finally:
        delete_test_keys(TEST_REDIS_URL, tmp_path)


async def test_a_late_append_of_a_withdrawn_write_is_refused(tmp_path: Path):
    """The request itself was held (not only its reply): it reaches the server after the
    entry was withdrawn, and the append script refuses it."""
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    try:
        engine = await engine_over(db, TEST_REDIS_URL)
        queue = engine._core.outbox  # noqa: SLF001 - the journal itself, as a late request
        assert queue is not None
        write = (await engine.read(2))._replace(bio="late", version=2, write_id="x:0:1")
        await queue.withdraw(write, None)
        await queue.append_many([(write, 1)])
        assert stream_entries(engine) == []
        await engine.close()
    finally:
        delete_test_keys(TEST_REDIS_URL, tmp_path)


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


LEAVING = {
    "close": lambda engine: engine.close(),
    "set_queue": lambda engine: engine.set_queue("memory://"),
    "set_policy": lambda engine: engine.set_policy("write-through"),
}


@pytest.mark.parametrize("leave", LEAVING.values(), ids=LEAVING)
async def test_the_queue_is_not_left_with_an_orphan_in_it(tmp_path: Path, leave):
    """Closing, switching the queue or leaving write-behind while a write of unknown
    outcome cannot be removed fails (nothing changes); once it can, it goes first."""
    redis_or_skip()
    db = str(tmp_path / "profiles.db")
    port = int(TEST_REDIS_URL.split(":")[2].split("/")[0])
    try:
        async with DelayRelay("127.0.0.1", port) as relay:
            engine = await engine_over(db, relay.url("redis", "/15?socket_timeout=0.3"))
            relay.hold = 5.0
            with pytest.raises(DatabaseUnavailable):
                await engine.update(1, {"bio": "never acknowledged"})
            with pytest.raises(DatabaseUnavailable, match="outcome is unknown"):
                await leave(engine)
            assert engine.running and engine.queue_durable
            relay.hold = 0.0
            await leave(engine)
            assert [f for f in stream_entries(engine) if b"never" in f[b"p"]] == []
            if engine.running:
                await engine.close()
        row = db_row(db, 1)
        assert row is not None and row.bio != "never acknowledged"
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
