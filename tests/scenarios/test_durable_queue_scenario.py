"""The durable-queue scenario on a bare engine: the same crash loses writes with the
queue in memory and none with the outbox, and leaving puts the queue back."""

from __future__ import annotations

from pathlib import Path

from cachetui.engine import Engine, EngineConfig
from cachetui.scenarios import ScenarioRun, builtin_scenario


async def test_the_same_crash_loses_writes_in_memory_and_none_with_an_outbox(tmp_path: Path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"), flush_interval=3600)) as engine:
        await engine.seed(20)
        run = ScenarioRun(engine, builtin_scenario("durable-queue"), timings=False)
        await run.start()
        memory = await run.next()
        assert memory is not None and memory.values["lost_count"] == 5
        assert "5 users have lost acknowledged writes" in memory.narration
        outbox = await run.next()
        assert outbox is not None
        assert (outbox.values["lost_count"], outbox.values["replayed"]) == (0, 5)
        assert outbox.values["queue"] == "p.db.outbox"
        landed = await run.next()
        assert landed is not None and "user 3 reads v6, and the database holds v6" in (
            landed.narration
        )
        await run.leave()
        assert not engine.queue_durable and engine.policy == "write-through"
