"""Every built-in scenario played back to back in one session says what a fresh process
says (issue 32, item 5): a scenario leaves nothing behind that the next one's narration
would count, and a narration's numbers are the engine's — `outage` then `poison-row`
said "0 writes landed in 0 transactions … refused 0 times" (the flusher, still backing
off after the outage, flushed behind the step's back), and `another-writer` on a
well-used database said "built on v1" where the base was v301."""

from __future__ import annotations

import asyncio

from cachetui.engine import Engine, EngineConfig
from cachetui.scenarios import builtin_scenarios
from cachetui.scenarios.runner import ScenarioRun

#: Between two steps a presenter talks: longer than a flusher's backoff (retry_cap).
PRESENTER_PAUSE = 0.06


def config(path) -> EngineConfig:
    return EngineConfig(db_path=str(path), flush_interval=2.0, retry_base=0.01, retry_cap=0.02)


async def narrations(engine: Engine, name: str, pause: float = PRESENTER_PAUSE) -> list[str]:
    scenario = next(s for s in builtin_scenarios() if s.name == name)
    run = ScenarioRun(engine, scenario, timings=False)
    await run.start()
    said = []
    while (frame := await run.next()) is not None:
        said.append(frame.narration)
        await asyncio.sleep(pause)
    await run.leave()
    return said


async def test_every_scenario_back_to_back_says_what_a_fresh_process_says(tmp_path):
    names = [s.name for s in builtin_scenarios()]
    assert names.index("outage") < names.index("poison-row")
    fresh = {}
    for name in names:
        (tmp_path / name).mkdir()
        async with Engine(config(tmp_path / name / "profiles.db")) as engine:
            await engine.seed(1000)
            fresh[name] = await narrations(engine, name, pause=0)
    (tmp_path / "session").mkdir()
    async with Engine(config(tmp_path / "session" / "profiles.db")) as engine:
        await engine.seed(1000)
        for name in names:
            assert await narrations(engine, name) == fresh[name], name


async def test_another_writer_names_the_version_the_queued_write_was_built_on(tmp_path):
    async with Engine(config(tmp_path / "used.db")) as engine:
        await engine.seed(1000)
        for n in range(20):  # a well-used row: user 7 at v21
            await engine.update(7, {"followers": n})
        said = await narrations(engine, "another-writer")
    assert "queued as v22, built on v21; the database still holds v21" in said[1]
    assert "holds v23 now. The queue still holds v22, built on v21." in said[2]
    assert "found the row at v23, not at v21" in said[3]
