"""The open-loop workload: it fires what its schedule says is due (a clock the test moves
by hand), within its bound on operations in flight, says what limits it, counts errors,
and stops promptly with operations in flight."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine.lab.workload import ENGINE_LIMITED, LOOP_LIMITED, Workload
from tests.conftest import redis_or_skip

#: A generous bound for waiting on the event loop: never a timing assertion.
PATIENCE = 30.0


class SteppedClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def until(predicate) -> None:
    """Poll ``predicate`` (the workload has no event to wait on) for PATIENCE seconds."""
    async with asyncio.timeout(PATIENCE):
        while not predicate():  # noqa: ASYNC110 - polling the workload's counters
            await asyncio.sleep(0.002)


def finished(workload: Workload) -> int:
    s = workload.stats
    return s.reads + s.updates + s.errors


async def a_few_wakeups(workload: Workload) -> None:
    """Long enough for the driver to wake several times (it pauses 4 ms at least)."""
    for _ in range(5):
        await asyncio.sleep(Workload.TICK * 2)


@pytest.fixture
def cache_url(request: pytest.FixtureRequest) -> str:
    """The in-process store, unless a test asks for Redis too."""
    return redis_or_skip() if getattr(request, "param", "memory") == "redis" else "memory://"


async def test_it_fires_exactly_what_the_schedule_says_is_due(make_engine):
    engine = await make_engine("write-behind")
    clock = SteppedClock()
    workload = Workload(engine, keys=20, rate=1000, seed=1, clock=clock)
    workload.start()
    try:
        await a_few_wakeups(workload)
        assert workload.stats.fired == 0  # the clock has not moved: nothing is due
        clock.now += 0.050  # 50 ms at 1,000 ops/s
        await until(lambda: finished(workload) == 50)
        await a_few_wakeups(workload)
        assert workload.stats.fired == 50 and finished(workload) == 50
        assert workload.stats.reads + workload.stats.updates == 50
        assert engine.metrics.reads + engine.metrics.updates == 50

        workload.set_rate(20_000)  # the schedule restarts at the new rate
        clock.now += 0.010  # 200 due, in batches
        await until(lambda: finished(workload) == 250)
        assert workload.limited_by is None  # 250 in 60 ms: not measured long enough yet
    finally:
        await workload.stop()
    assert not workload.running and workload.in_flight == 0


async def test_a_backlog_beyond_catch_up_is_dropped_and_named(make_engine):
    engine = await make_engine("write-behind")
    clock = SteppedClock()
    workload = Workload(engine, keys=20, rate=1000, seed=1, clock=clock)
    workload.start()
    try:
        await a_few_wakeups(workload)
        clock.now += 1.0  # the driver was not woken for a second: 1,000 due
        await until(lambda: finished(workload) == 100)
        await a_few_wakeups(workload)
        # 0.1 s of the schedule is caught up, the rest dropped rather than bursted
        assert (workload.stats.fired, workload.stats.skipped) == (100, 900)
        assert workload.achieved == pytest.approx(100.0)  # per second of the clock
        assert workload.limited_by == LOOP_LIMITED
    finally:
        await workload.stop()


async def test_the_bound_on_operations_in_flight_and_an_engine_that_is_slow(make_engine):
    engine = await make_engine("write-through")
    engine.faults.db_latency = 60.0  # every database call waits a minute
    clock = SteppedClock()
    workload = Workload(engine, keys=20, rate=1000, seed=1, max_in_flight=4, clock=clock)
    workload.start()
    try:
        await a_few_wakeups(workload)
        clock.now += 0.05  # 50 due, 4 may be in flight
        await until(lambda: workload.stats.fired == 4)
        await a_few_wakeups(workload)
        assert (workload.stats.fired, workload.in_flight, finished(workload)) == (4, 4, 0)
        clock.now += 0.5
        await a_few_wakeups(workload)
        assert workload.achieved == 0.0 and workload.limited_by == ENGINE_LIMITED
    finally:
        # stop cancels the four operations stuck in the database call, and returns
        async with asyncio.timeout(PATIENCE):
            await workload.stop()
    assert workload.in_flight == 0 and not workload.running
    assert finished(workload) == 0  # cancelled: neither done nor failed
    engine.faults.db_latency = 0.0
    assert (await engine.read(3)).user_id == 3  # the engine is fine afterwards
    await engine.update(3, {"bio": "after the stop"})


async def test_errors_are_counted_with_their_cause(make_engine):
    engine = await make_engine("write-behind", seed=0)  # no profiles: every call fails
    clock = SteppedClock()
    workload = Workload(engine, keys=5, rate=1000, seed=1, clock=clock)
    workload.start()
    try:
        clock.now += 0.02
        await until(lambda: finished(workload) == 20)
        assert workload.stats.errors == 20 and workload.stats.reads == 0
        assert workload.stats.last_error.startswith("user ")
        assert workload.stats.last_error.endswith(" does not exist")
    finally:
        await workload.stop()


def test_rates_outside_one_to_fifty_thousand_are_refused():
    workload = Workload(object(), keys=5)
    for bad in (0, -5, 50_001, 2.5, True):
        with pytest.raises(ValueError, match="rate must be 1..50,000 ops/s"):
            workload.set_rate(bad)  # type: ignore[arg-type]
    assert workload.rate == 50  # unchanged
    assert Workload.RATES[-1] == Workload.MAX_RATE == 50_000


@pytest.mark.parametrize("cache_url", ["memory", "redis"], indirect=True)
async def test_stop_and_start_at_full_rate_never_hang(make_engine):
    """Stop with thousands of operations a second in flight, again and again, over both
    stores: every stop returns (the timeout is a hang detector, not a measurement)."""
    engine = await make_engine("write-behind", seed=2000, capacity=500)
    workload = Workload(engine, keys=2000, rate=50_000, seed=1)
    for _ in range(8):
        started = workload.stats.fired
        workload.start()
        await until(lambda started=started: workload.stats.fired > started + 600)
        async with asyncio.timeout(PATIENCE):
            await workload.stop()
        assert not workload.running and workload.in_flight == 0
    assert workload.stats.errors == 0, workload.stats.last_error
    await engine.flush()
    assert engine.metrics.pending == 0
