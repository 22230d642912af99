"""A scenario's metrics: its steps count from a baseline, and leaving puts the metrics back
to their values on entry (lost writes included)."""

from __future__ import annotations

import pytest

from cachetui.scenarios import builtin_scenario
from cachetui.scenarios.runner import ScenarioRun


@pytest.fixture
def cache_url() -> str:
    return "memory://"


async def test_leaving_restores_the_metrics_of_entry(make_engine):
    engine = await make_engine("write-behind")
    for user in range(1, 4):
        await engine.update(user, {"bio": "lost before the scenario"})
    await engine.crash()
    await engine.read(9)
    entry = engine.metrics
    assert (entry.lost_writes, entry.updates, entry.reads) == (3, 3, 1)

    run = ScenarioRun(engine, builtin_scenario("crash"), timings=False)
    await run.start()
    m = engine.metrics  # the baseline: zero, but the lost writes are not hidden
    assert (m.lost_writes, m.updates, m.reads) == (3, 0, 0)
    await run.next()
    crashed = await run.next()  # 9 updates acknowledged, 5 users' writes lost
    assert crashed is not None and "5 users have lost acknowledged writes" in crashed.narration
    assert engine.metrics.lost_writes == 3 + 9  # every acknowledged update lost
    await run.back()  # to the state before the crash step, replayed from the baseline
    assert engine.metrics.lost_writes == 3
    assert (await run.next()) == crashed  # the same narration, the same numbers
    assert engine.metrics.lost_writes == 3 + 9

    await run.leave()
    m = engine.metrics
    assert (m.lost_writes, m.updates, m.reads) == (3, 3, 1)
    assert m.update_p50 == entry.update_p50
