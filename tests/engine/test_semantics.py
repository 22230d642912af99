"""Each row of the semantics table (docs/engine.md, "Semantics"), per policy, checked
against the SQLite file."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import DatabaseUnavailable, EventKind, KeyState, key_state
from tests.conftest import BOTH_DATABASES, db_row, db_version
from tests.waits import SteppedClock, wait_until

pytestmark = BOTH_DATABASES

CACHING = ["write-through", "write-behind", "write-around"]


# -- update ------------------------------------------------------------------------------
async def test_write_through_update_commits_db_then_sets_cache(make_engine, db_path):
    engine = await make_engine("write-through")
    acked = await engine.update(1, {"bio": "through"})
    assert acked.version == 2 and acked.bio == "through"
    assert db_row(db_path, 1) == acked  # committed before the ack
    assert (await engine.cache_entries())[0].profile == acked
    kinds = [e.kind for e in engine.trace(engine.recent_events()[-1].op_id)]
    assert (
        kinds.index(EventKind.DB_WRITE)
        < kinds.index(EventKind.CACHE_SET)
        < kinds.index(EventKind.ACK)
    )
    assert engine.metrics.db_writes == 1 and engine.metrics.db_transactions == 1


async def test_write_behind_update_acks_at_once_and_queues(make_engine, db_path):
    engine = await make_engine("write-behind")
    acked = await engine.update(1, {"bio": "behind"})
    assert acked.version == 2
    assert db_version(db_path, 1) == 1  # not yet in the database
    [pending] = engine.pending_writes()
    assert pending.profile == acked and pending.coalesced == 0
    assert (await engine.cache_entries())[0].profile == acked
    assert key_state(acked, pending.profile, db_row(db_path, 1)) is KeyState.DIRTY
    await engine.flush()
    assert db_row(db_path, 1) == acked
    assert engine.pending_writes() == []


async def test_write_around_update_commits_db_and_invalidates(make_engine, db_path):
    engine = await make_engine("write-around")
    await engine.read(1)  # cached
    acked = await engine.update(1, {"bio": "around"})
    assert db_row(db_path, 1) == acked
    assert await engine.cache_entries() == []  # invalidated
    before = engine.metrics.misses
    assert await engine.read(1) == acked  # the next read misses and refills
    assert engine.metrics.misses == before + 1


async def test_no_cache_goes_straight_to_the_database(make_engine, db_path):
    engine = await make_engine("no-cache")
    await engine.read(1)
    await engine.read(1)
    acked = await engine.update(1, {"bio": "direct"})
    assert db_row(db_path, 1) == acked
    assert await engine.cache_entries() == []
    m = engine.metrics
    assert (m.hits, m.misses, m.db_reads) == (0, 2, 3)  # 2 reads + the update's read


# -- DB failure during update --------------------------------------------------------------
@pytest.mark.parametrize("policy", ["write-through", "write-around", "no-cache"])
async def test_db_failure_fails_the_update_and_changes_nothing(make_engine, db_path, policy):
    engine = await make_engine(policy)
    before = await engine.read(1)
    cached_before = [e.profile for e in await engine.cache_entries()]
    engine.faults.db_down = True
    with pytest.raises(DatabaseUnavailable, match="database is down"):
        await engine.update(1, {"bio": "never"})
    assert [e.profile for e in await engine.cache_entries()] == cached_before
    assert db_row(db_path, 1) == before
    assert engine.metrics.updates == 0 and engine.metrics.failed_updates == 1
    engine.faults.db_down = False
    assert await engine.read(1) == before


async def test_write_behind_rides_out_an_outage_with_retries(make_engine, db_path):
    engine = await make_engine("write-behind", flush_interval=0.02)
    await engine.read(1)
    engine.faults.db_down = True
    acked = await engine.update(1, {"bio": "patient"})  # succeeds: cached current
    await wait_until(lambda: engine.metrics.retries >= 2, "the flusher retried twice")
    assert db_version(db_path, 1) == 1
    assert engine.metrics.retries >= 2
    [pending] = engine.pending_writes()
    assert pending.retries >= 2 and pending.profile == acked
    engine.faults.db_down = False
    for _ in range(100):
        if not engine.pending_writes():
            break
        await asyncio.sleep(0.02)
    assert db_row(db_path, 1) == acked


async def test_update_needing_the_db_fails_when_it_is_down(make_engine):
    engine = await make_engine("write-behind")
    engine.faults.db_down = True
    with pytest.raises(DatabaseUnavailable):
        await engine.update(2, {"bio": "uncached"})  # current must come from the DB
    assert engine.pending_writes() == []


# -- reads -------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", CACHING)
async def test_read_miss_fills_and_hit_is_served_from_cache(make_engine, policy):
    engine = await make_engine(policy)
    first = await engine.read(4)
    engine.faults.db_down = True  # a hit must not touch the database
    assert await engine.read(4) == first
    m = engine.metrics
    assert (m.hits, m.misses, m.db_reads) == (1, 1, 1)


async def test_write_behind_hit_is_newer_than_the_database(make_engine, db_path):
    engine = await make_engine("write-behind")
    acked = await engine.update(4, {"location": "Lisbon"})
    assert await engine.read(4) == acked
    assert db_version(db_path, 4) == 1


@pytest.mark.parametrize("lose_it", ["evicted", "expired", "invalidated"])
async def test_read_your_writes_from_the_queue(make_engine, db_path, cache_url, lose_it):
    clock = SteppedClock()  # the in-process store's; Redis counts its TTL in real time
    ttl = None
    if lose_it == "expired":
        ttl = 60.0 if cache_url == "memory://" else 0.3
    engine = await make_engine("write-behind", capacity=2, ttl=ttl, cache_clock=clock)
    acked = await engine.update(1, {"bio": "dirty"})
    if lose_it == "evicted":
        await engine.read(2)
        await engine.read(3)
    elif lose_it == "expired":
        clock.advance(60.0)

        async def expired() -> bool:
            return 1 not in [e.profile.user_id for e in await engine.cache_entries()]

        await wait_until(expired, "user 1's entry expired")
    else:
        await engine.invalidate(1)
    assert 1 not in [e.profile.user_id for e in await engine.cache_entries()]
    engine.faults.db_down = True  # served from the queue, not the database
    assert await engine.read(1) == acked
    assert any(e.kind is EventKind.QUEUE_HIT for e in engine.recent_events())
    engine.faults.db_down = False
    await engine.flush()
    assert db_row(db_path, 1) == acked


async def test_eviction_neither_writes_back_nor_pins(make_engine, db_path):
    engine = await make_engine("write-behind", capacity=1)
    await engine.update(1, {"bio": "a"})
    await engine.update(2, {"bio": "b"})  # evicts dirty user 1
    assert [e.profile.user_id for e in await engine.cache_entries()] == [2]
    assert db_version(db_path, 1) == 1  # no write-back on eviction
    assert {p.user_id for p in engine.pending_writes()} == {1, 2}
    assert engine.metrics.evictions == 1
