"""The live numbers: the 5 s window beside the totals, per policy, the reset key (M), and
the workload's achieved rate and errors in the header. The window's clock is injected
(``EngineConfig.metrics_clock``): the test moves time, nothing here waits on it."""

from __future__ import annotations

import asyncio
import re

from tests.app.conftest import notifications, settle, text_of

SIZE = (160, 45)


def numbers(app) -> str:
    return text_of(app, "#numbers")


def value(app, label: str) -> str:
    """What the metrics strip shows after ``label`` (up to two spaces)."""
    found = re.search(rf"(?:^|\s){re.escape(label)} (.+?)(?:\s\s|$)", numbers(app), re.M)
    assert found, f"{label!r} not in {numbers(app)!r}"
    return found.group(1).strip()


async def test_windowed_numbers_per_policy_and_the_reset_key(make_app):
    now = [1_000.0]
    app = make_app(policy="write-through", metrics_clock=lambda: now[0])
    app.timings = True  # the windowed numbers are latencies: shown only with timings
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        engine = app.engine
        for user in (1, 2, 1, 1):  # two misses, two hits
            await engine.read(user)
        for user in (3, 4):
            await engine.update(user, {"followers": 5})
        await settle(app, pilot)
        assert value(app, "hit 5s") == "50.0%"
        assert value(app, "read 5s") != "–"  # e.g. "3µs / 120µs"
        assert value(app, "update 5s") != "–"
        assert value(app, "reads") == "4"

        # write-behind beside write-through: each policy's update p50 over its window
        await pilot.press("2")
        await app.workers.wait_for_complete()
        now[0] += 1.0
        for user in (3, 4, 5):
            await engine.update(user, {"followers": 6})
        await settle(app, pilot)
        subtitle = str(app.query_one("#metrics").border_subtitle)
        assert subtitle.startswith("update p50 5s: write-behind ")
        assert " · write-through " in subtitle

        # 6 s later the window is empty; the totals stay
        now[0] += 6.0
        await settle(app, pilot)
        assert value(app, "read 5s") == "– / –"
        assert value(app, "update 5s") == "– / –"
        assert value(app, "hit 5s") == "–"
        assert value(app, "reads") == "4"
        assert value(app, "updates acked") == "5"

        # M: the totals start again too
        await engine.read(1)
        await pilot.press("M")
        await settle(app, pilot)
        assert any(n.startswith("Metrics reset") for n in notifications(app))
        assert value(app, "reads") == "0"
        assert value(app, "updates acked") == "0"
        assert value(app, "read 5s") == "– / –"
        await engine.read(1)
        await settle(app, pilot)
        assert value(app, "reads") == "1"
        assert value(app, "hit 5s") == "100.0%"


async def test_a_workload_whose_every_operation_fails_says_so_in_the_header(make_app):
    app = make_app(profiles=0)  # no user 1: every read and update fails
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        async with asyncio.timeout(10):  # the workload fails at once: never spin for ever
            while app.workload.stats.errors < 3:
                await pilot.pause(0.05)
        app.show_status()
        await pilot.pause()
        header = text_of(app, "#status")
        assert "every workload operation fails: " in header
        assert "does not exist" in header
        await pilot.press("w")
