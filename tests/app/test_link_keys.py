"""The app with a link in front of a real PostgreSQL server (``--db-rtt``): the header
shows the RTT measured through the link, ``l`` changes the link's RTT live, ``o`` walks
off → DB outage → link blackhole → link reset → off and each state does what it says.
Without a link, ``l`` and ``o`` keep their in-engine meaning (tests/app/test_keys.py).

These tests may assert a lower bound on time (a relay that adds nothing cannot pass)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from cachetui.app.app import CacheTuiApp
from cachetui.app.link_keys import next_rtt, rtt_cycle
from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from tests.app.conftest import FIXED_CLOCK, settle, text_of

SIZE = (160, 45)
RTT = 0.02
DB_TIMEOUT = 5  # seconds: connect and statement timeout


def linked_app(url: str, **options: object) -> CacheTuiApp:
    options.setdefault("policy", "write-through")
    options.setdefault("db_timeout", 3)
    options.setdefault("db_rtt", RTT)
    config = EngineConfig(
        db_url=url,
        capacity=50,
        flush_interval=3600.0,
        flush_timeout=0.3,
        retry_base=0.01,
        retry_cap=0.05,
        clock=lambda: FIXED_CLOCK,
        **options,  # type: ignore[arg-type]
    )
    return CacheTuiApp(Engine(config), seed_profiles=50, live=False, timings=False, seed=7)


def header(app: CacheTuiApp) -> str:
    return " ".join(text_of(app, "#status").split())


def log_text(app: CacheTuiApp) -> str:
    return "\n".join(line.text for line in app.query_one("#log").lines)


def measured_ms(app: CacheTuiApp) -> float:
    found = re.search(r"db link rtt \S+ \(measured ([\d.]+)(ms|µs)\)", header(app))
    assert found, header(app)
    value = float(found.group(1))
    return value if found.group(2) == "ms" else value / 1000


def test_l_cycles_from_the_start_value_through_10_50_and_0_3_ms():
    assert rtt_cycle(0.002) == (0.002, 0.01, 0.05, 0.0003)
    assert rtt_cycle(0.01) == (0.01, 0.05, 0.0003)
    assert [next_rtt(0.002, r) for r in (0.002, 0.01, 0.05, 0.0003)] == [0.01, 0.05, 0.0003, 0.002]
    assert next_rtt(0.002, 0.123) == 0.002  # set elsewhere: back to the start value


async def test_header_shows_the_measured_rtt_and_l_changes_the_links_rtt(postgres_url):
    app = linked_app(postgres_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        link = app.engine.link
        assert link is not None and link.rtt == RTT
        await asyncio.to_thread(link.probe)
        app.refresher.sample()  # what the app does every second
        assert "db link rtt 20.0ms (measured" in header(app)
        assert measured_ms(app) >= RTT * 1000  # through the relay: at least its RTT
        link.jitter = 0.002
        app.refresher.sample()
        assert "jitter p50 200µs p99 2.0ms" in header(app)
        link.jitter = 0.0

        await pilot.press("l")
        await settle(app, pilot)
        assert link.rtt == 0.01
        assert "db link rtt 10.0ms" in header(app)
        assert "RTT 20.0ms → 10.0ms" in log_text(app)
        await pilot.press("l")  # 50 ms: reads of uncached users each pay it
        await settle(app, pilot)
        assert link.rtt == 0.05
        await asyncio.to_thread(link.probe)
        app.refresher.sample()
        assert measured_ms(app) >= 50
        started = time.perf_counter()
        for user in range(1, 11):
            await app.engine.read(user)  # write-through, cold cache: 10 database reads
        assert time.perf_counter() - started >= 10 * 0.05
        await pilot.press("l", "l")  # 0.3 ms, then back to the start value
        await settle(app, pilot)
        assert link.rtt == RTT


async def test_o_walks_outage_blackhole_reset_and_off_and_each_does_what_it_says(postgres_url):
    app = linked_app(postgres_url, db_timeout=DB_TIMEOUT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        engine, link = app.engine, app.engine.link
        assert link is not None
        assert "Outage/partition" in [b.binding.description for b in app.active_bindings.values()]

        await pilot.press("o")  # DB outage: in the engine, fails at once
        await pilot.pause()
        assert engine.faults.db_down and link.partition is None
        assert "DB down" in header(app)
        with pytest.raises(DatabaseUnavailable, match="injected outage"):
            await engine.read(41)

        await pilot.press("o")  # blackhole: the outage is off, bytes are held
        await pilot.pause()
        assert not engine.faults.db_down and link.partition == "blackhole"
        assert "db link blackhole: bytes held" in header(app)
        read = asyncio.create_task(engine.read(42))
        await asyncio.sleep(0.5)
        assert not read.done()  # held, not failed
        link.partition = None  # lifted: the held bytes travel on
        assert (await asyncio.wait_for(read, DB_TIMEOUT)).user_id == 42
        link.partition = "blackhole"

        await pilot.press("o")  # reset: the connections are reset, a call fails at once
        await pilot.pause()
        assert link.partition == "reset" and not engine.faults.db_down
        assert "db link reset: connections refused" in header(app)
        # refused, not held: it fails as an outage (a held call would wait for ever; a
        # caller waits at most --db-timeout for a pool connection the server refuses)
        with pytest.raises(DatabaseUnavailable) as refused:
            await asyncio.wait_for(engine.read(43), DB_TIMEOUT + 3)
        assert "cannot be reached" in str(refused.value), str(refused.value)

        await pilot.press("o")  # off: the database answers through the link again
        await settle(app, pilot)
        assert link.partition is None and not engine.faults.db_down
        assert "db link rtt" in header(app) and "⚠" not in header(app)
        assert (await engine.read(43)).user_id == 43
        said = log_text(app)
        for line in ("DB outage: every database call fails", "link blackhole:", "link reset:"):
            assert line in said
        assert "faults off: the database answers" in said


async def play_far_database(app: CacheTuiApp, pilot) -> list[str]:
    """far-database start to end in the app, as a presenter plays it: the narrations."""
    await settle(app, pilot)
    run = app.scenario_run
    assert run is not None and run.frame is not None and run.frame.is_intro
    said = []
    for _ in range(4):
        await pilot.press("space")
        await settle(app, pilot)
        assert run.frame is not None
        said.append(run.frame.narration)
        assert " ".join(said[-1].split()[:6]) in " ".join(text_of(app, "#scenario-banner").split())
    assert run.frame.is_last
    await pilot.press("escape")
    await settle(app, pilot)
    assert app.scenario_run is None
    return said


async def test_far_database_plays_in_the_app_over_the_link(postgres_url):
    app = linked_app(postgres_url, db_rtt=0.005)  # the user's own link: 5 ms
    app.scenario_mode.initial = "far-database"
    async with app.run_test(size=SIZE) as pilot:
        said = await play_far_database(app, pilot)
        assert "away through a link, measured" in said[0]  # (timings hidden: "…")
        assert "9 of them absorbed into one pending write" in said[2]
        assert "The flush landed 1 row in 1 transaction." in said[3]
        assert app.engine.link is not None and app.engine.link.rtt == 0.005  # put back
