"""Seeding reports its progress and can be stopped: the start-up of `--profiles 10000000`
shows how far it is and honours signals (issue 32, item 6)."""

from __future__ import annotations

import asyncio

from cachetui.engine import Engine, EngineConfig


async def test_seed_reports_its_progress_chunk_by_chunk(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        seen: list[int] = []
        assert await engine.seed(45_000, progress=seen.append) == 45_000
        await asyncio.sleep(0)  # the last report is scheduled on the loop
        assert seen == [20_000, 40_000, 45_000]
        assert await engine.db_count() == 45_000


async def test_a_cancelled_seed_keeps_nothing_and_the_next_seeds_afresh(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        started = asyncio.Event()
        seeding = asyncio.create_task(engine.seed(2_000_000, progress=lambda done: started.set()))
        await started.wait()
        seeding.cancel()
        await asyncio.gather(seeding, return_exceptions=True)
        assert seeding.cancelled()
        assert await engine.db_count() == 0  # rolled back: one transaction
        assert await engine.seed(10) == 10
