"""The far-database scenario: the same user read and updated under no cache,
write-through and write-behind with the database 2 ms away — through a link in front of
a real PostgreSQL server, or with the latency fault on SQLite — each number measured.

Link tests may assert a lower bound on time: a relay that adds nothing cannot pass."""

from __future__ import annotations

import pytest

from cachetui.cli.command import build_parser
from cachetui.cli.options import config_from_args
from cachetui.engine import Engine, EngineConfig
from cachetui.scenarios import ScenarioRun, builtin_scenario

STEPS = ("no-cache", "write-through", "write-behind", "write-behind")


async def play(engine: Engine) -> list:
    run = ScenarioRun(engine, builtin_scenario("far-database"))
    await run.start()
    frames = []
    while (frame := await run.next()) is not None:
        frames.append(frame)
        assert engine.policy.value == STEPS[frame.index]
    await run.leave()
    return frames


def ms(text: str) -> float:
    number, unit = text.split()
    return float(number) / (1000 if unit == "µs" else 1)


def check_measured(frames: list) -> None:
    """Each step's numbers are the engine's: the counts are exact, and the summary quotes
    each policy's medians as its own step said them."""
    cache_off, through, behind, flush = (f.values for f in frames)
    assert (cache_off["reads"], cache_off["updates"], cache_off["hits"]) == (10, 10, 0)
    assert cache_off["db_reads"] == 20  # a read each, and each update reads the row
    assert cache_off["db_transactions"] == 10
    assert (through["misses"], through["hits"], through["db_transactions"]) == (1, 9, 10)
    assert (behind["hits"], behind["updates"], behind["coalesced"]) == (10, 10, 9)
    assert behind["db_transactions"] == 0 and behind["pending"] == 1
    assert (flush["db_writes"], flush["db_transactions"]) == (1, 1)
    summary = frames[-1].narration
    for step, name in ((cache_off, "no cache"), (through, "write-through")):
        assert f"{name} {step['read_ms']} / {step['update_ms']}" in summary
    assert f"write-behind {behind['read_ms']} / {behind['update_ms']}" in summary
    # the database far away: every no-cache call and every write-through commit pays it
    # (at least 2 ms, less the histogram's 6 % bucket width)
    assert ms(cache_off["read_ms"]) >= 1.85 and ms(through["update_ms"]) >= 1.85


async def test_on_sqlite_the_latency_fault_puts_the_database_2ms_away(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        await engine.seed(50)
        frames = await play(engine)
        assert "2.0 ms away (latency added to each call: SQLite)" in frames[0].narration
        check_measured(frames)
        assert engine.faults.db_latency == 0  # put back on leaving


async def test_on_postgresql_the_link_is_set_to_2ms_and_measured(postgres_url):
    config = EngineConfig(db_url=postgres_url, db_rtt=0.01)  # the user's own link: 10 ms
    async with Engine(config) as engine:
        await engine.seed(50)
        link = engine.link
        assert link is not None
        frames = await play(engine)
        said = frames[0].narration
        assert "2.0 ms away through a link, measured " in said, said
        measured = said.split("measured ", 1)[1].split(":")[0]
        assert ms(measured) >= 2  # through the relay: at least its RTT
        check_measured(frames)
        assert engine.faults.db_latency == 0
        assert link.rtt == 0.01  # the user's RTT back on leaving


def test_the_command_line_starts_a_2ms_link_for_it_on_postgresql(tmp_path):
    parser = build_parser()
    url = "postgresql://postgres@127.0.0.1:5432/cachetui_test"

    def rtt(*argv: str) -> float | None:
        return config_from_args(parser.parse_args(list(argv))).db_rtt

    assert rtt("--scenario", "far-database", "--db", url) == pytest.approx(0.002)
    assert rtt("--scenario", "far-database", "--db", url, "--db-rtt", "5ms") == 0.005
    assert rtt("--scenario", "write-behind", "--db", url) is None  # sets no db-rtt
    assert rtt("--db", url) is None
    assert rtt("--scenario", "far-database", "--db", str(tmp_path / "p.db")) is None
