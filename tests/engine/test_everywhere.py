"""What holds under every policy (docs/engine.md, "Semantics"): per-user ordering, single
flight, draining on a policy switch, crashes, external writes, key states, metrics."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import (
    EventKind,
    Interrupted,
    KeyState,
    PendingWritesError,
    WritePolicy,
    key_state,
)
from tests.conftest import BOTH_DATABASES, db_row, db_version
from tests.waits import SteppedClock, wait_until

pytestmark = BOTH_DATABASES

POLICIES = ["write-through", "write-behind", "write-around", "no-cache"]


@pytest.mark.parametrize("policy", POLICIES)
async def test_updates_of_one_key_apply_in_order(make_engine, db_path, policy):
    engine = await make_engine(policy)
    engine.faults.db_latency = 0.002
    results = await asyncio.gather(*(engine.update(9, {"followers": i}) for i in range(20)))
    assert [p.version for p in results] == list(range(2, 22))
    assert [p.followers for p in results] == list(range(20))
    engine.faults.db_latency = 0
    await engine.flush()
    assert db_row(db_path, 9) == results[-1]
    assert await engine.read(9) == results[-1]


@pytest.mark.parametrize("policy", ["write-through", "write-behind", "write-around"])
async def test_concurrent_misses_cause_one_db_read(make_engine, policy):
    engine = await make_engine(policy)
    engine.faults.db_latency = 0.02
    profiles = await asyncio.gather(*(engine.read(11) for _ in range(50)))
    assert len({p for p in profiles}) == 1
    m = engine.metrics
    assert m.db_reads == 1 and m.hits + m.misses == 50
    # every read missed the in-process store; over Redis (another connection of the
    # pool) a read may arrive after the fill and hit
    assert m.misses == 50 if engine.store.local else m.misses >= 1


async def test_concurrent_misses_of_many_keys_share_one_query(make_engine):
    engine = await make_engine("write-through")
    await asyncio.gather(*(engine.read(u) for u in range(1, 21)))
    reads = [e for e in engine.recent_events() if e.kind is EventKind.DB_READ]
    assert len(reads) == 20 and engine.metrics.db_reads == 20


@pytest.mark.parametrize("target", ["write-through", "write-around", "no-cache"])
async def test_leaving_write_behind_drains_the_queue_first(make_engine, db_path, target):
    engine = await make_engine("write-behind")
    acked = [await engine.update(u, {"bio": "drain"}) for u in (1, 2, 3)]
    await engine.set_policy(target)
    assert engine.policy == WritePolicy(target)
    assert engine.pending_writes() == []
    assert [db_row(db_path, p.user_id) for p in acked] == acked


async def test_policy_switch_blocked_by_an_outage_keeps_write_behind(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "stuck"})
    engine.faults.db_down = True
    with pytest.raises(PendingWritesError, match="1 acknowledged write is still pending"):
        await engine.set_policy("write-through", timeout=0.1)
    assert engine.policy is WritePolicy.WRITE_BEHIND
    assert len(engine.pending_writes()) == 1
    engine.faults.db_down = False
    await engine.set_policy(WritePolicy.WRITE_THROUGH)
    assert db_version(db_path, 1) == 2


async def test_updates_during_a_drain_wait_and_then_use_the_new_policy(make_engine, db_path):
    engine = await make_engine("write-behind")
    engine.faults.db_latency = 0.05
    await engine.update(1, {"bio": "queued"})
    switching = asyncio.create_task(engine.set_policy("write-through"))
    await asyncio.sleep(0.01)
    later = await engine.update(1, {"bio": "after the switch"})
    await switching
    assert db_row(db_path, 1) == later  # written through, after the drained v2
    assert later.version == 3


async def test_crash_loses_exactly_the_pending_writes(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "landed"})
    await engine.flush()
    await engine.update(2, {"bio": "lost"})
    await engine.update(2, {"bio": "lost again"})
    await engine.update(5, {"followers": 1})
    lost = await engine.crash()
    assert lost == [(2, 3), (5, 2)]  # one (user, newest version) per user
    assert engine.metrics.lost_writes == 3  # the acknowledged updates they carried
    assert engine.last_crash.lost_updates == 3
    assert engine.pending_writes() == []
    assert db_version(db_path, 2) == 1 and db_version(db_path, 1) == 2
    crash = [e for e in engine.recent_events() if e.kind is EventKind.CRASH]
    assert crash and crash[-1].detail.startswith("2 users' acknowledged writes lost")
    if engine.store.lost_on_crash:
        # the in-process cache died with the process: the engine keeps running, cold
        assert await engine.cache_entries() == []
        assert (await engine.read(2)).version == 1
        assert engine.metrics.misses == 1
    else:
        # Redis outlives the process: the lost versions sit in the cache, newer than the
        # database, with no pending write to land them (orphaned), and are served
        cached = {e.profile.user_id: e.profile for e in await engine.cache_entries()}
        assert cached[2].version == 3 and cached[5].version == 2
        assert key_state(cached[2], None, db_row(db_path, 2)) is KeyState.ORPHANED
        assert "2 still in the cache" in crash[-1].detail
        assert (await engine.read(2)).version == 3


@pytest.mark.parametrize("policy", ["write-through", "write-around", "no-cache"])
async def test_crash_loses_nothing_without_write_behind(make_engine, db_path, policy):
    engine = await make_engine(policy)
    acked = await engine.update(2, {"bio": "safe"})
    assert await engine.crash() == []
    assert db_row(db_path, 2) == acked


async def test_external_write_leaves_the_cache_stale_until_invalidated(make_engine, db_path):
    engine = await make_engine("write-through")
    cached = await engine.read(6)
    external = await engine.external_update(6, {"bio": "changed behind your back"})
    assert external.version == 2 and db_row(db_path, 6) == external
    assert await engine.read(6) == cached  # stale
    assert key_state(cached, None, db_row(db_path, 6)) is KeyState.STALE
    await engine.invalidate(6)
    assert await engine.read(6) == external
    assert engine.metrics.external_writes == 1


async def test_external_write_stale_until_ttl(make_engine, cache_url):
    clock = SteppedClock()  # the in-process store's; Redis counts its TTL in real time
    ttl = 60.0 if cache_url == "memory://" else 0.3
    engine = await make_engine("write-through", ttl=ttl, cache_clock=clock)
    cached = await engine.read(6)
    external = await engine.external_update(6, {"followers": 123})
    assert await engine.read(6) == cached
    clock.advance(ttl)

    async def fresh() -> bool:
        return await engine.read(6) == external  # a hit on the stale entry until it expires

    await wait_until(fresh, "user 6's stale entry expired")
    assert engine.metrics.expirations == 1


async def test_key_states():
    from cachetui.engine import Profile

    v1 = Profile(1, "a", "", "", 0, 1, "t1")
    v2 = Profile(1, "a", "b", "", 0, 2, "t2")
    assert key_state(v1, None, v1) is KeyState.CLEAN
    assert key_state(v2, v2, v1) is KeyState.DIRTY
    assert key_state(None, v2, v1) is KeyState.DIRTY
    assert key_state(v1, None, v2) is KeyState.STALE
    assert key_state(v2, None, v1) is KeyState.ORPHANED
    assert key_state(None, None, v1) is KeyState.UNCACHED
    # a dead letter wins: it waits for someone to retry or discard it
    from cachetui.engine import DeadLetter

    rejected = DeadLetter("rejected", v2, 1, None, "no", 3, "t", "t")
    conflict = DeadLetter("conflict", v2, 1, 3, "conflict", 1, "t", "t")
    assert key_state(v2, None, v1, rejected) is KeyState.REJECTED
    assert key_state(None, v2, v1, conflict) is KeyState.CONFLICT
    assert key_state(v1, None, v1, None) is KeyState.CLEAN


async def test_metrics_add_up_under_write_behind(make_engine):
    engine = await make_engine("write-behind", batch_size=3)
    for i in range(30):
        await engine.update(1 + i % 4, {"followers": i})
        if i % 7 == 0:
            await engine.flush()
    lost = await engine.crash()
    m = engine.metrics
    assert m.updates == m.db_writes + m.coalesced + m.pending + m.lost_writes
    assert m.lost_writes == engine.last_crash.lost_updates >= len(lost)
    assert m.update_p50 is not None and m.update_p50 <= m.update_p99


@pytest.mark.parametrize("policy", ["write-behind", "write-through"])
async def test_an_update_in_progress_dies_with_a_crash(make_engine, db_path, policy):
    engine = await make_engine(policy)
    engine.faults.db_latency = 0.05  # user 3 is not cached: its update reads the DB first
    update = asyncio.create_task(engine.update(3, {"bio": "in progress"}))
    await asyncio.sleep(0.01)
    assert await engine.crash() == []  # nothing acknowledged was pending
    with pytest.raises(Interrupted, match="interrupted by a crash"):
        await update
    engine.faults.db_latency = 0
    assert engine.pending_writes() == []  # it did not sneak into the queue afterwards
    # the crash came during the read: write-behind never reached its queue, and
    # write-through never began its commit (a dead process commits nothing more)
    assert db_version(db_path, 3) == 1
    assert (await engine.read(3)) == db_row(db_path, 3)
    m = engine.metrics
    assert m.updates == 0 and m.failed_updates == 1


async def test_updates_waiting_for_their_turn_die_with_a_crash(make_engine, db_path):
    engine = await make_engine("write-behind")
    engine.faults.db_latency = 0.05  # user 3 is not cached: the first update reads the DB
    updates = [asyncio.create_task(engine.update(3, {"followers": n})) for n in range(3)]
    await asyncio.sleep(0.01)  # one reads the database, two wait for user 3's lock
    await engine.crash()
    results = await asyncio.gather(*updates, return_exceptions=True)
    assert all(isinstance(r, Interrupted) for r in results)
    engine.faults.db_latency = 0
    await asyncio.sleep(0.05)
    assert engine.pending_writes() == [] and db_version(db_path, 3) == 1


async def test_a_limited_cache_listing_holds_the_youngest_entries(make_engine):
    """The Cache pane of a 10,000-entry cache asks for a few hundred: the newest."""
    engine = await make_engine("write-through")
    for user in (5, 3, 9, 1):
        await engine.read(user)  # stored in this order
        await asyncio.sleep(0.003)  # Redis keeps store times in milliseconds
    assert [e.profile.user_id for e in await engine.cache_entries(limit=2)] == [1, 9]
    assert await engine.cache_entries(limit=0) == []
    assert sorted(e.profile.user_id for e in await engine.cache_entries()) == [1, 3, 5, 9]
    assert await engine.cache_size() == 4
