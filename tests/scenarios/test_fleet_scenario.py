"""The fleet scenario, headless, for real: two ``cachetui worker`` processes beside an
engine on one SQLite file and one Redis fleet queue; worker a is SIGKILLed mid-burst; the
narration says its stranded writes were claimed and landed, and the verdict (its history
against the database) finds nothing lost. Leaving stops the other worker."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cachetui.engine import Engine, EngineConfig
from cachetui.scenarios import ScenarioRun, builtin_scenario
from tests.conftest import delete_test_keys


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_killed_workers_writes_are_claimed_and_land_and_none_is_lost(
    tmp_path: Path, redis_url: str
):
    config = EngineConfig(
        db_path=str(tmp_path / "fleet.db"),
        queue_url=redis_url,
        fleet=True,
        instance_name="dash",
        flush_interval=3600,
    )
    try:
        async with Engine(config) as engine:
            await engine.seed(100)
            run = ScenarioRun(engine, builtin_scenario("fleet"), timings=False)
            await run.start()
            try:
                await play(run)
            finally:
                await run.abandon()  # no worker left running, whatever failed
    finally:
        delete_test_keys(redis_url, tmp_path)


async def play(run: ScenarioRun) -> None:
    """The three steps, with what each must say."""
    started = await run.next()
    assert started is not None
    assert started.values["workers"] == "a, b" and started.values["failed"] == 0
    pids = [w.process.pid for w in run.shared.workers.workers.values()]
    await asyncio.sleep(0.5)  # mid-burst: both are writing
    killed = await run.next()
    assert killed is not None and killed.values["killed"] == "a"
    assert gone(pids[0])
    landed = await run.next()
    assert landed is not None
    values = landed.values
    assert values["fleet_acked"] > 0, "worker a acknowledged nothing before its kill"
    assert values["claimed_left"] == 0
    assert values["fleet_lost"] == 0
    assert "0 users lost a write" in landed.narration
    assert values["claimed_by"] != "nobody"
    await run.leave()
    assert all(gone(pid) for pid in pids)  # b was stopped (and reaped) on leaving


async def test_without_a_fleet_queue_the_first_step_says_how_to_start_one(tmp_path: Path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        await engine.seed(10)
        run = ScenarioRun(engine, builtin_scenario("fleet"), timings=False)
        await run.start()
        try:
            frame = await run.next()
        finally:
            await run.abandon()
        assert frame is not None and frame.values["workers"] == "none"
        assert "2 starts failed: a worker needs the fleet queue: start cachetui on this " in (
            frame.narration
        )
        assert "--queue redis://HOST:6379/0" in frame.narration
