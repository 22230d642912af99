"""The windowed metrics (the last 5 s in 1 s buckets, per policy) with an injected clock,
and what a metrics reset keeps."""

from __future__ import annotations

import pytest

from cachetui.engine import WritePolicy

BEHIND, THROUGH = WritePolicy.WRITE_BEHIND, WritePolicy.WRITE_THROUGH


class SteppedClock:
    """Monotonic seconds that move only when a test moves them."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache_url() -> str:
    """The window does not depend on the store: the in-process one only."""
    return "memory://"


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


async def test_the_window_keeps_the_last_five_one_second_buckets(make_engine, clock):
    engine = await make_engine("write-through", metrics_clock=clock)
    clock.now = 1000.2
    for user in range(1, 6):
        await engine.read(user)  # five misses in second 1000
    clock.now = 1001.5
    for user in range(1, 4):
        await engine.read(user)  # three hits in second 1001
    await engine.update(1, {"bio": "second 1001"})
    w = engine.metrics_window().current
    assert (w.reads, w.hits, w.misses, w.updates, w.db_writes) == (8, 3, 5, 1, 1)
    assert w.hit_ratio == pytest.approx(3 / 8)
    assert w.seconds == pytest.approx(1.5)  # the engine started at 1000.0
    assert w.reads_per_s == pytest.approx(8 / 1.5)
    assert w.read_p50_us is not None and w.update_p99_us is not None

    clock.now = 1005.1  # second 1000 has left the window (1001–1005)
    w = engine.metrics_window().current
    assert (w.reads, w.hits, w.misses, w.updates) == (3, 3, 0, 1)
    assert w.seconds == pytest.approx(4.1)

    clock.now = 1006.0  # and now second 1001 too
    w = engine.metrics_window().current
    assert (w.reads, w.updates, w.db_writes) == (0, 0, 0)
    assert (w.hit_ratio, w.read_p50_us, w.update_p50_us) == (None, None, None)
    assert w.reads_per_s == 0.0 and w.seconds == pytest.approx(4.0)  # 1002.0–1006.0
    m = engine.metrics  # the totals since the start are untouched by the window
    assert (m.reads, m.updates) == (8, 1)


async def test_each_policy_keeps_its_own_window_after_a_switch(make_engine, clock):
    engine = await make_engine("write-behind", metrics_clock=clock)
    clock.now = 1000.5
    for user in range(1, 5):
        await engine.update(user, {"bio": "behind"})
    clock.now = 1001.5
    await engine.set_policy("write-through")  # drains the queue: 4 writes, 1 commit
    clock.now = 1002.0
    for user in range(1, 3):
        await engine.update(user, {"bio": "through"})

    window = engine.metrics_window()
    assert window.policy is THROUGH and window.current is window.by_policy[THROUGH]
    behind, through = window.by_policy[BEHIND], window.by_policy[THROUGH]
    # the drain on leaving write-behind is write-behind's
    assert (behind.updates, behind.db_writes, behind.db_transactions) == (4, 4, 1)
    assert (through.updates, through.db_writes, through.db_transactions) == (2, 2, 2)
    assert behind.update_p50_us is not None and through.update_p50_us is not None
    assert behind.ended_ago == pytest.approx(0.5) and through.ended_ago == 0.0
    assert (behind.seconds, through.seconds) == (pytest.approx(1.5), pytest.approx(0.5))
    assert window.overall.updates == 6 and window.overall.seconds == pytest.approx(2.0)

    clock.now = 1030.0  # long after: write-behind's last five seconds are still there
    window = engine.metrics_window()
    assert window.by_policy[BEHIND].updates == 4
    assert window.by_policy[BEHIND].ended_ago == pytest.approx(28.5)
    assert window.current.updates == 0 and window.overall.updates == 0

    await engine.set_policy("write-behind")  # back: its window restarts from now
    await engine.update(9, {"bio": "behind again"})
    window = engine.metrics_window()
    assert window.current.policy is BEHIND and window.current.updates == 1
    # write-through's own last five seconds (1026–1030) were idle
    assert window.by_policy[THROUGH].updates == 0
    assert window.by_policy[THROUGH].seconds == pytest.approx(4.0)


async def test_a_switch_mid_second_splits_the_second(make_engine, clock):
    engine = await make_engine("write-behind", metrics_clock=clock)
    clock.now = 1000.1
    await engine.update(1, {"bio": "a"})
    clock.now = 1000.6
    await engine.set_policy("no-cache")
    await engine.read(2)
    window = engine.metrics_window()
    assert (window.by_policy[BEHIND].updates, window.by_policy[BEHIND].reads) == (1, 0)
    no_cache = window.by_policy[WritePolicy.NO_CACHE]
    assert (no_cache.updates, no_cache.reads, no_cache.db_reads) == (0, 1, 1)


async def test_reset_clears_totals_and_window_but_keeps_lost_parked_and_conflicts(
    make_engine, clock
):
    engine = await make_engine("write-behind", metrics_clock=clock)
    await engine.update(1, {"bio": "mine"})  # v2 pending, built on v1
    await engine.external_update(1, {"location": "theirs"})
    await engine.flush()  # a conflict: parked as a dead letter
    for user in range(2, 5):
        await engine.update(user, {"bio": "lost"})
    await engine.crash()  # three acknowledged writes lost
    await engine.read(5)
    before = engine.metrics
    assert (before.lost_writes, before.conflicts, before.dead_letters) == (3, 1, 1)
    saved = engine.counters.copy()

    clock.now += 0.5
    engine.reset_metrics()
    m = engine.metrics
    assert (m.lost_writes, m.conflicts, m.dead_letters) == (3, 1, 1)
    assert (m.reads, m.hits, m.misses, m.updates, m.db_writes, m.db_transactions) == (
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert (m.read_p50, m.update_p99, m.coalesced, m.peak_pending) == (None, None, 0, 0)
    window = engine.metrics_window()
    assert window.current.updates == 0 and window.current.seconds == 0.0
    assert list(window.by_policy) == [BEHIND]

    await engine.read(5)
    engine.reset_metrics(start_from=saved)  # back to the values of the copy, exactly
    m = engine.metrics
    assert (m.reads, m.updates, m.lost_writes) == (before.reads, before.updates, 3)
    assert m.update_p50 == before.update_p50
