"""engine.pane_snapshot(): what the panes show, in one call, on every cache and database:
the entries, the queue, the parked writes, the rows and each user's state, with the
counts beside them (pending, writes at risk) taken at the same instant."""

from __future__ import annotations

import asyncio
import time

import pytest

from cachetui.engine import KeyState, ValidationError, Workload
from tests.conftest import BOTH_DATABASES

pytestmark = BOTH_DATABASES


async def test_one_call_lists_and_counts_what_the_stores_hold(make_engine):
    engine = await make_engine("write-behind")
    for user in (1, 5):
        await engine.read(user)  # cached, clean
    for user in (2, 3):
        await engine.update(user, {"bio": "queued"})  # pending, dirty
    await engine.read(4)
    await engine.external_update(4, {"bio": "behind the cache's back"})  # stale
    await engine.reject_writes(6)
    await engine.update(6, {"bio": "refused"})
    await engine.flush()  # 2, 3 land; 6 is parked
    await engine.update(7, {"bio": "first"})
    await engine.update(8, {"bio": "second"})

    shot = await engine.pane_snapshot(pending_limit=1, db_limit=3, users=[17, -1, 2**70])

    assert [w.user_id for w in shot.pending] == [7]  # the oldest, of two
    assert shot.pending_count == shot.metrics.pending == 2
    assert shot.writes_at_risk == 2  # a memory queue: a crash loses both
    assert [d.user_id for d in shot.dead_letters] == [6]
    assert len(shot.recent) == 3
    assert {1, 2, 3, 4, 5, 7, 17} <= set(shot.rows)  # cached, listed, asked about
    assert -1 not in shot.rows and 2**70 not in shot.rows  # no user has those ids
    assert {e.profile.user_id for e in shot.entries} >= {1, 2, 3, 4, 5, 7, 8}
    assert shot.cache_size == len(shot.entries)  # no limit: every entry
    states = shot.states
    assert (states[1], states[2], states[4]) == (KeyState.CLEAN, KeyState.CLEAN, KeyState.STALE)
    assert states[6] == KeyState.REJECTED
    # user 8's write is not listed (pending_limit 1) but is pending: dirty all the same
    assert (states[7], states[8]) == (KeyState.DIRTY, KeyState.DIRTY)
    assert shot.cache_available and shot.capacity == engine.config.capacity

    shot = await engine.pane_snapshot(cache_limit=2)
    assert len(shot.entries) == 2 and shot.cache_size > 2  # the youngest two, of all


async def test_a_durable_queue_puts_no_pending_write_at_risk(make_engine, tmp_path):
    engine = await make_engine("write-behind", queue_url=f"sqlite:///{tmp_path}/outbox.db")
    await engine.update(1, {"bio": "journalled"})
    shot = await engine.pane_snapshot()
    assert (shot.pending_count, shot.writes_at_risk) == (1, 0)


async def test_an_unreachable_cache_gives_no_entries_not_an_error(make_engine):
    engine = await make_engine()
    await engine.read(1)
    engine.faults.cache_down = True
    shot = await engine.pane_snapshot()
    assert not shot.cache_available and shot.entries == () and shot.cache_size == 0
    assert 1 in shot.rows  # the database still answers


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        ({"cache_limit": -1}, "cache_limit"),
        ({"pending_limit": True}, "pending_limit"),
        ({"db_limit": "5"}, "db_limit"),
        ({"db_limit": None}, "db_limit"),
    ],
)
async def test_a_bad_limit_is_one_clear_error(make_engine, limits, named):
    engine = await make_engine()
    with pytest.raises(ValidationError, match=named):
        await engine.pane_snapshot(**limits)


async def test_pending_and_writes_at_risk_agree_under_a_running_workload(make_engine):
    """Issue 32 item 4: the counts shown beside the panes come from the one instant the
    queue was listed, whatever the workload does between the snapshot's awaits."""
    engine = await make_engine("write-behind", seed=1000, max_pending=100_000)
    workload = Workload(engine, keys=1000, rate=2000, read_ratio=0.2, seed=3)
    workload.start()
    counts: set[int] = set()
    deadline = time.monotonic() + 10  # a bound, not a pace: it ends once the queue moved
    try:
        while len(counts) < 5 and time.monotonic() < deadline:
            shot = await engine.pane_snapshot(pending_limit=10, db_limit=5)
            counts.add(shot.pending_count)
            assert shot.pending_count == shot.metrics.pending == shot.writes_at_risk
            assert len(shot.pending) == min(10, shot.pending_count)
            for write in shot.pending:
                assert shot.states[write.user_id] == KeyState.DIRTY
            await asyncio.sleep(0.005)  # the workload's turn
    finally:
        await workload.stop()
    assert len(counts) >= 5, counts  # the queue did move while snapshots were taken
