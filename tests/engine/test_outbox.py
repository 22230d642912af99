"""The durable write-behind queue (an outbox file): an update is acknowledged once its
entry is committed there, a crash replays it, a process that is gone has its entries
taken over at the next start, and a replay never applies a write twice."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cachetui.engine import (
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    PendingWritesError,
    ValidationError,
)
from cachetui.engine.queue import outbox as outbox_module
from cachetui.engine.queue.url import server_outbox_path
from tests.conftest import BOTH_DATABASES, db_sql, db_version, delete_test_keys

pytestmark = BOTH_DATABASES

memory_store = pytest.mark.parametrize("cache_url", ["memory://"])
DEAD_OWNER = "999999999:1:1"  # no such pid


def outbox_file(db_path: str) -> str:
    """The default outbox of the database at ``db_path``: ``<file>.outbox`` beside a
    SQLite file; ``<user data dir>/outbox-<database id>.db`` for a server's database."""
    if "://" not in db_path:
        return db_path + ".outbox"
    [(database_id,)] = db_sql(db_path, "SELECT value FROM cachetui_meta WHERE key = 'database_id'")
    return server_outbox_path(str(database_id))


def outbox_rows(db_path: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(outbox_file(db_path))) as db:
        return db.execute(
            "SELECT user_id, version, base_version FROM outbox ORDER BY user_id"
        ).fetchall()


def orphan(db_path: str) -> None:
    """What a kill -9 leaves: the entries' owner is gone."""
    with contextlib.closing(sqlite3.connect(outbox_file(db_path))) as db, db:
        db.execute("UPDATE outbox SET owner = ?", (DEAD_OWNER,))


@memory_store
async def test_an_update_is_acknowledged_once_in_the_outbox_and_leaves_it_once_landed(
    make_engine, db_path
):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    assert engine.queue_durable and engine.queue_location == outbox_file(db_path)
    await engine.update(1, {"bio": "one"})
    for n in range(3):  # coalesced: one entry, its first base kept
        await engine.update(2, {"followers": n})
    assert outbox_rows(db_path) == [(1, 2, 1), (2, 4, 1)]
    await engine.flush()
    assert outbox_rows(db_path) == []
    assert (db_version(db_path, 1), db_version(db_path, 2)) == (2, 4)


@memory_store
async def test_a_crash_loses_nothing_the_outbox_replays_it(make_engine, db_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    for user in range(1, 6):
        await engine.update(user, {"bio": "before the crash"})
        await engine.update(user, {"followers": 7})
    assert await engine.crash() == []
    report = engine.last_crash
    assert (report.lost, report.lost_updates, report.replayed) == ([], 0, 5)
    assert engine.metrics.lost_writes == 0
    await engine.flush()
    assert [db_version(db_path, u) for u in range(1, 6)] == [3] * 5

    memory = await make_engine("write-behind", seed=0)  # the memory queue, for contrast
    await memory.update(9, {"bio": "lost"})
    await memory.update(9, {"bio": "lost again"})
    assert await memory.crash() == [(9, 3)]
    assert (memory.last_crash.lost_updates, memory.last_crash.replayed) == (2, 0)


@memory_store
async def test_a_dead_owners_entries_are_replayed_at_start_whatever_the_queue(make_engine, db_path):
    first = await make_engine("write-behind", queue_url="sqlite://")
    await first.update(3, {"bio": "acknowledged, then kill -9"})
    await first.update(4, {"bio": "landed before the kill"})
    await first.flush()
    await first.update(3, {"followers": 1})
    await first.update(4, {"followers": 2})
    live = await make_engine("write-behind", queue_url="sqlite://", seed=0)
    await live.update(5, {"bio": "a live engine's entry"})
    orphan_first = [(u, v) for u, v, _ in outbox_rows(db_path) if u != 5]
    with contextlib.closing(sqlite3.connect(outbox_file(db_path))) as db, db:
        db.execute("UPDATE outbox SET owner = ? WHERE user_id != 5", (DEAD_OWNER,))

    # a plain engine (memory queue, write-through) replays the default outbox
    later = await make_engine("write-through", seed=0)
    assert later.recovered == 2
    assert sorted((p.user_id, p.version) for p in later.pending_writes()) == orphan_first
    await later.flush()
    assert (db_version(db_path, 3), db_version(db_path, 4)) == (3, 3)
    assert [u for u, _, _ in outbox_rows(db_path)] == [5]  # never another live engine's
    assert db_version(db_path, 5) == 1
    del first, live


@memory_store
async def test_a_replay_of_a_write_that_already_landed_is_a_no_op(make_engine, db_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    await engine.update(6, {"bio": "landed, but the outbox did not hear of it"})
    with contextlib.closing(sqlite3.connect(outbox_file(db_path))) as db:
        kept = db.execute("SELECT * FROM outbox").fetchall()
    await engine.flush()
    with contextlib.closing(sqlite3.connect(outbox_file(db_path))) as db, db:
        db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?)", kept)
    orphan(db_path)

    replaying = await make_engine("write-behind", seed=0)
    # recognised by its write id at start: dropped, counted, not queued
    assert (replaying.recovered, replaying.recovered_landed) == (0, 1)
    assert replaying.pending_writes() == []
    await replaying.flush()
    assert db_version(db_path, 6) == 2  # not applied twice, no version going down
    assert replaying.metrics.conflicts == 0 and replaying.dead_letters() == []
    assert outbox_rows(db_path) == []


@memory_store
async def test_closing_with_the_database_down_keeps_the_writes_in_the_outbox(make_engine, db_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    await engine.update(8, {"bio": "safe in the outbox"})
    engine.faults.db_down = True
    assert await engine.close(timeout=0.1) == []  # no PendingWritesError: nothing is lost
    assert outbox_rows(db_path) == [(8, 2, 1)]
    again = await make_engine("write-behind", queue_url="sqlite://", seed=0)
    assert again.recovered == 1
    await again.flush()
    assert db_version(db_path, 8) == 2


@memory_store
async def test_an_outbox_of_another_database_is_refused(make_engine, db_path, tmp_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    await engine.update(1, {"bio": "pending"})
    other = str(tmp_path / "other.db")
    with (
        contextlib.closing(sqlite3.connect(outbox_file(db_path))) as source,
        contextlib.closing(sqlite3.connect(other + ".outbox")) as copy,
    ):
        source.backup(copy)  # a WAL file is copied with its log
    orphan(other)
    stranger = Engine(EngineConfig(db_path=other, policy="write-behind"))
    with pytest.raises(DatabaseUnavailable, match="belongs to another database"):
        await stranger.start()
    assert not stranger.running


@memory_store
async def test_a_cancelled_durable_update_leaves_no_trace(make_engine, db_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    await engine.update(2, {"bio": "acknowledged"})
    outbox = engine._core.outbox
    assert outbox is not None
    reached, release = asyncio.Event(), asyncio.Event()
    real = outbox.append_many

    async def paused(rows):  # after the commit, before the caller resumes
        result = await real(rows)
        reached.set()
        await release.wait()
        return result

    outbox.append_many = paused  # type: ignore[method-assign]
    withdrawn = asyncio.Event()
    engine.subscribe(lambda e: withdrawn.set() if "never acknowledged" in e.detail else None)
    task = asyncio.create_task(engine.update(2, {"bio": "never acknowledged"}))
    async with asyncio.timeout(5):
        await reached.wait()
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):  # taken back by write id, in the background
        await withdrawn.wait()
    assert outbox_rows(db_path) == [(2, 2, 1)]  # the entry as it was
    assert (await engine.read(2)).bio == "acknowledged"


@pytest.mark.parametrize(
    ("url", "db", "message"),
    [
        ("kafka://x", "p.db", "unknown queue URL"),
        ("sqlite:/x", "p.db", "unknown queue URL"),
        ("sqlite://relative", "p.db", "sqlite:///relative/path"),
        ("sqlite://", ":memory:", "needs a database file"),
    ],
)
def test_bad_queue_urls_are_refused_before_anything_opens(url, db, message):
    with pytest.raises(ValidationError, match=message):
        EngineConfig(db_path=db, queue_url=url)


def test_owners_of_this_process_are_alive_only_while_open():
    owner = outbox_module.this_owner()
    assert not outbox_module.owner_alive(owner)
    assert not outbox_module.owner_alive(DEAD_OWNER)


def test_an_owner_killed_but_not_yet_reaped_is_dead():
    """A SIGKILLed owner whose parent has not waited for it yet (a zombie) runs no
    more: its writes may be taken over at once, not after heartbeats go stale."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        owner = f"{child.pid}:{start}:1"
        assert outbox_module.owner_alive(owner)
        child.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.01)
        assert not outbox_module.owner_alive(owner)
    finally:
        child.kill()
        child.wait()


# -- the same promises with a Redis Stream ---------------------------------------------------
def stream_entries(redis_url: str, engine: Engine) -> list[tuple[int, int, int]]:
    """(user, version, base) of each entry in the engine's stream, oldest first."""
    key = f"cachetui:queue:{engine.db.database_id}"
    with redis.Redis.from_url(redis_url) as client:
        return [(int(f[b"u"]), int(f[b"v"]), int(f[b"b"])) for _, f in client.xrange(key)]


def orphan_stream(redis_url: str, engine: Engine) -> None:
    """What a kill -9 on another host leaves: entries of an owner with no heartbeat."""
    key = f"cachetui:queue:{engine.db.database_id}"
    with redis.Redis.from_url(redis_url) as client:
        for entry_id, fields in client.xrange(key):
            fields[b"o"] = b"elsewhere/1:1:1"
            client.xadd(key, fields)
            client.xdel(key, entry_id)


@pytest.fixture
def stream_url(redis_url: str, tmp_path: Path) -> Iterator[str]:
    yield redis_url
    delete_test_keys(redis_url, tmp_path)  # this test's streams, no other's


@memory_store
async def test_a_stream_acknowledges_replays_a_crash_and_empties_as_writes_land(
    make_engine, db_path, stream_url
):
    engine = await make_engine("write-behind", queue_url=stream_url)
    assert engine.queue_durable and "redis stream" in engine.queue_location
    await engine.update(1, {"bio": "one"})
    await engine.update(1, {"bio": "two"})
    await engine.update(2, {"bio": "one"})
    assert stream_entries(stream_url, engine) == [(1, 2, 1), (1, 3, 1), (2, 2, 1)]
    assert await engine.crash() == [] and engine.last_crash.replayed == 2
    await engine.flush()
    assert (db_version(db_path, 1), db_version(db_path, 2)) == (3, 2)
    assert stream_entries(stream_url, engine) == []
    assert "appendonly" in engine.queue_persistence


@memory_store
async def test_a_stream_left_by_a_gone_owner_is_replayed_by_an_engine_over_that_server(
    make_engine, db_path, stream_url
):
    first = await make_engine("write-behind", queue_url=stream_url)
    await first.update(4, {"bio": "acknowledged elsewhere"})
    await first.update(4, {"followers": 3})
    orphan_stream(stream_url, first)
    # a plain engine whose cache is that server: the stream is replayed
    later = await make_engine("write-through", seed=0, cache_url=stream_url)
    assert later.recovered == 1
    await later.flush()
    assert db_version(db_path, 4) == 3
    assert stream_entries(stream_url, later) == []


@memory_store
async def test_switching_the_queue_live_drains_first(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "pending in memory"})
    engine.faults.db_down = True
    with pytest.raises(PendingWritesError):
        await engine.set_queue("sqlite://", timeout=0.1)
    assert not engine.queue_durable and len(engine.pending_writes()) == 1  # as it was
    engine.faults.db_down = False

    await engine.set_queue("sqlite://")
    assert engine.queue_durable and db_version(db_path, 1) == 2  # drained first
    await engine.update(2, {"bio": "journaled"})
    assert outbox_rows(db_path) == [(2, 2, 1)]
    assert await engine.crash() == []

    await engine.set_queue("memory://")
    assert not engine.queue_durable and db_version(db_path, 2) == 2
    await engine.update(3, {"bio": "in memory again"})
    assert outbox_rows(db_path) == []
