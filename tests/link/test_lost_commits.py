"""Commits whose reply a partition loses, on PostgreSQL through the real link: the
caller's update fails with an outcome unknown, its user's cache entry is dropped, and
once the link heals the engine settles it by the row's write id (landed or not); the
write-behind flusher's retry of such a batch lands it exactly once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import psycopg
import pytest

from cachetui.cli.quit_report import default_log_path
from cachetui.engine import (
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    EventKind,
    OutcomeUnknown,
    PendingWritesError,
)
from cachetui.worker.run import Worker, WorkerPlan
from tests.conftest import db_row

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("brief_grace")]


def config(url: str, policy: str, **options: object) -> EngineConfig:
    return EngineConfig(
        db_url=url, policy=policy, db_rtt=0.001, db_timeout=0.3, flush_interval=3600,
        retry_base=0.01, retry_cap=0.05, **options,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def blocker(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A session of another program that can hold user 1's row lock, so that the
    engine's UPDATE reaches the server and waits there."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


async def reached_the_server(url: str) -> None:
    """Wait until an UPDATE of profiles waits for a row lock (pg_stat_activity, read
    outside the blocker's transaction: a transaction sees one snapshot of it)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(500):
            if _waiting(watcher):
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the engine's UPDATE never reached the server")


def _waiting(conn: psycopg.Connection) -> bool:
    waiting = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE '%UPDATE profiles%'"
    ).fetchone()
    return bool(waiting and waiting[0])


async def settled(engine: Engine) -> None:
    for _ in range(1000):
        if not engine.unsettled_commits():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never settled: {engine.unsettled_commits()}")


async def test_a_commit_that_landed_but_lost_its_reply_is_settled_landed(postgres_url, blocker):
    async with Engine(config(postgres_url, "write-through")) as engine:
        await engine.seed(3)
        before = await engine.read(1)  # cached
        link = engine.link
        assert link is not None
        with blocker.transaction():
            blocker.execute("SELECT 1 FROM profiles WHERE user_id = 1 FOR UPDATE")
            update = asyncio.create_task(engine.update(1, {"bio": "reply lost"}))
            await reached_the_server(postgres_url)
            link.partition = "blackhole"  # the reply will be held
        with pytest.raises(OutcomeUnknown, match="may have landed") as lost:
            await update
        assert lost.value.user_id == 1 and lost.value.write_id is not None
        [unsettled] = engine.unsettled_commits()
        assert (unsettled.user_id, unsettled.write_id) == (1, lost.value.write_id)
        assert await engine.cache_peek([1]) == {}  # no read may serve the value before it
        with pytest.raises(DatabaseUnavailable):
            await engine.read(1)  # not the cached v1: settling needs the database
        link.partition = None
        await settled(engine)
        landed = await engine.read(1)
        assert (landed.bio, landed.version) == ("reply lost", before.version + 1)
        assert landed.write_id == lost.value.write_id == db_row(postgres_url, 1).write_id
        [outcome] = engine.settled_commits()
        assert (outcome.outcome, outcome.write_id) == ("landed", lost.value.write_id)
        metrics = engine.metrics
        assert (metrics.unknown_outcomes, metrics.settled_landed) == (1, 1)
        assert metrics.settled_not_landed == 0
        [event] = [e for e in engine.recent_events() if e.kind is EventKind.SETTLE]
        assert event.user_id == 1 and "landed" in event.detail


async def test_a_commit_held_by_a_partition_is_settled_not_landed(postgres_url):
    async with Engine(config(postgres_url, "write-around")) as engine:
        await engine.seed(3)
        before = await engine.read(2)  # cached: the update sends its commit at once
        link = engine.link
        assert link is not None
        link.partition = "blackhole"  # the statement itself is held
        with pytest.raises(OutcomeUnknown) as lost:
            await engine.update(2, {"bio": "never sent"})
        assert await engine.cache_peek([2]) == {}
        # Lifted, the held bytes would travel on (and might land first): a reset drops
        # them, as a path that broke for good would.
        link.partition = "reset"
        link.partition = None
        await settled(engine)
        [outcome] = engine.settled_commits()
        assert (outcome.outcome, outcome.write_id) == ("not landed", lost.value.write_id)
        assert db_row(postgres_url, 2) == before  # the dropped statement never ran
        assert engine.metrics.settled_not_landed == 1
        again = await engine.update(2, {"bio": "sent"})  # builds on the row as it is
        assert again.version == before.version + 1 and db_row(postgres_url, 2) == again


async def test_a_flush_whose_reply_is_lost_lands_exactly_once(postgres_url, blocker):
    async with Engine(config(postgres_url, "write-behind")) as engine:
        await engine.seed(3)
        acked = [await engine.update(uid, {"bio": "behind a blackhole"}) for uid in (1, 2)]
        link = engine.link
        assert link is not None
        counted = engine.metrics
        with blocker.transaction():
            blocker.execute("SELECT 1 FROM profiles WHERE user_id = 1 FOR UPDATE")
            flush = asyncio.create_task(engine.flush(timeout=0.5))
            await reached_the_server(postgres_url)
            link.partition = "blackhole"
        with pytest.raises(PendingWritesError):
            await flush  # the batch landed; its reply did not come back
        assert [db_row(postgres_url, uid) for uid in (1, 2)] == acked
        link.partition = None
        await engine.flush(timeout=10)  # the retry finds its write ids in the rows
        assert [db_row(postgres_url, uid) for uid in (1, 2)] == acked
        assert engine.pending_writes() == [] and engine.dead_letters() == []
        metrics = engine.metrics
        assert metrics.conflicts == 0
        # what landed is counted once: two rows in one transaction (the lost batch's)
        assert metrics.db_writes - counted.db_writes == 2
        assert metrics.db_transactions - counted.db_transactions == 1
        assert any(
            e.kind is EventKind.REPLAY and "landed already" in e.detail
            for e in engine.recent_events()
        )


async def answering(engine: Engine) -> None:
    """Wait (at most 10 s) until the database answers through the link again."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            await engine.db_recent(1)
            return
        except DatabaseUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_commit_of_unknown_outcome_is_settled_by_close_at_the_latest(postgres_url):
    engine = Engine(config(postgres_url, "write-around"))
    await engine.start()
    try:
        await engine.seed(3)
        await engine.read(2)  # cached: the update sends its commit at once
        link = engine.link
        assert link is not None
        link.partition = "blackhole"
        with pytest.raises(OutcomeUnknown) as lost:
            await engine.update(2, {"bio": "never sent"})
        link.partition = "reset"  # the held statement is dropped, then the path is back
        link.partition = None
        await answering(engine)  # the pool has reconnected (later on a loaded machine)
    finally:
        await engine.close()
    assert engine.unsettled_commits() == []
    [outcome] = engine.settled_commits()
    assert (outcome.outcome, outcome.write_id) == ("not landed", lost.value.write_id)


async def test_a_commit_the_database_cannot_settle_at_close_is_reported_unknown(postgres_url):
    """Through ``cachetui worker``'s quit path (the app's, without a screen): the commit
    close could not settle is named in the quit report, and the exit status is 1."""
    engine = Engine(config(postgres_url, "write-around", flush_timeout=0.3))
    plan = WorkerPlan("w", rate=1, read_ratio=1, keys=3, zipf=0, seconds=None, profiles=3)
    worker = Worker(engine, plan, None)
    run = asyncio.create_task(worker.run())
    try:
        while not engine.running or await engine.db_count() < 3:  # noqa: ASYNC110 - bounded by the test's timeout
            await asyncio.sleep(0.01)
        await engine.read(2)
        assert engine.link is not None
        engine.link.partition = "blackhole"
        with pytest.raises(OutcomeUnknown) as lost:
            await engine.update(2, {"bio": "held"})
    finally:
        worker.stop(signal.SIGTERM)
        result = await run
    [unknown] = engine.unsettled_commits()  # still listed: its outcome is unknown
    write_id = lost.value.write_id
    assert (unknown.user_id, unknown.write_id) == (2, write_id)
    [event] = [e for e in engine.recent_events() if "unknown outcome not settled" in e.detail]
    assert "user 2 v2" in event.detail and "may have landed" in event.detail
    assert result.exit_code == 1 and result.report.unknown == [(2, 2, write_id)]
    text = "\n".join(result.lines)
    assert "1 commit of unknown outcome not settled" in text and "may have landed" in text
    assert f"user 2 v2 ({write_id})" in text
    log = default_log_path().read_text()
    assert f"unknown outcome: user 2 version 2 write id {write_id}" in log


async def test_a_lost_reply_found_landed_counts_its_row_and_transaction(postgres_url, blocker):
    async with Engine(config(postgres_url, "write-through")) as engine:
        await engine.seed(3)
        await engine.read(1)
        link = engine.link
        assert link is not None
        before = engine.metrics
        with blocker.transaction():
            blocker.execute("SELECT 1 FROM profiles WHERE user_id = 1 FOR UPDATE")
            update = asyncio.create_task(engine.update(1, {"bio": "reply lost"}))
            await reached_the_server(postgres_url)
            link.partition = "blackhole"
        with pytest.raises(OutcomeUnknown):
            await update
        link.partition = None
        await settled(engine)
        after = engine.metrics
        assert after.settled_landed == 1
        assert after.db_writes == before.db_writes + 1  # it landed: one row written
        assert after.db_transactions == before.db_transactions + 1
