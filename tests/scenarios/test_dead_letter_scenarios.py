"""The dead-letter scenarios on a bare engine: stepping back re-creates the dead letter and
the lab trigger exactly, and leaving (from any step) leaves neither behind, nor the rows
the scenario wrote. (The app plays them to the end in tests/app/test_scenarios.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cachetui.engine import Engine, EngineConfig
from cachetui.scenarios import ScenarioRun, builtin_scenario
from tests.conftest import db_version


def lab_state(db_file: str) -> tuple[list[str], int]:
    """The lab triggers and the dead letters the file holds, as sqlite3 sees them."""
    with sqlite3.connect(db_file) as conn:
        triggers = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'cachetui_lab%'"
            )
        ]
        (letters,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    return triggers, letters


async def test_back_and_leave_undo_the_poison_row(tmp_path: Path):
    db_file = str(tmp_path / "profiles.db")
    async with Engine(EngineConfig(db_path=db_file, flush_interval=3600)) as engine:
        await engine.seed(20)
        await engine.update(9, {"bio": "mine"})  # a dead letter from before the scenario
        await engine.reject_writes(9)
        await engine.set_policy("write-behind")
        await engine.update(9, {"bio": "mine again"})
        await engine.flush()
        await engine.accept_writes(9)
        run = ScenarioRun(engine, builtin_scenario("poison-row"), timings=False)
        await run.start()
        for _ in range(4):
            await run.next()
        assert [(d.user_id, d.version) for d in engine.dead_letters()] == [(9, 3), (4, 3)]
        frame = await run.back()  # the state after step 3: parked, the trigger on
        assert frame is not None and frame.index == 2
        assert [(d.user_id, d.version) for d in engine.dead_letters()] == [(9, 3), (4, 2)]
        assert lab_state(db_file) == (["cachetui_lab_reject_4"], 2)
        assert run.rejecting == {4}
        await run.leave()
        assert [d.user_id for d in engine.dead_letters()] == [9]  # not the scenario's
        assert lab_state(db_file) == ([], 1)
        assert all(db_version(db_file, u) == 1 for u in range(1, 7))


async def test_leaving_another_writer_with_its_conflict_parked(tmp_path: Path):
    db_file = str(tmp_path / "profiles.db")
    async with Engine(EngineConfig(db_path=db_file, flush_interval=3600)) as engine:
        await engine.seed(20)
        run = ScenarioRun(engine, builtin_scenario("another-writer"), timings=False)
        await run.start()
        for _ in range(4):
            frame = await run.next()
        assert frame is not None and "parked as a dead letter of kind conflict" in frame.narration
        assert [d.kind for d in engine.dead_letters()] == ["conflict"]
        await run.leave()
        assert engine.dead_letters() == [] and engine.pending_writes() == []
        assert lab_state(db_file) == ([], 0)
        assert db_version(db_file, 7) == 1  # the other writer's rows are put back too
