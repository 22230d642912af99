"""While the workload cannot reach its target, the panes repaint at 2 Hz (not 4) and the
header says so: a repaint's cost goes back to the work."""

from __future__ import annotations

import asyncio
import time

from cachetui.app.refresh import BUSY_REFRESH_SECONDS, REFRESH_SECONDS
from tests.app.conftest import settle, text_of


async def test_panes_repaint_half_as_often_while_the_engine_sets_the_rate(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=(240, 45)) as pilot:  # wide: the header's whole note
        await settle(app, pilot)
        workload = app.workload
        assert workload is not None
        app.engine.faults.db_latency = 0.05  # every update waits: the engine sets the rate
        workload.max_in_flight = 8
        workload.set_rate(2_000)
        workload.start()
        try:
            for _ in range(100):  # until the workload has measured itself
                if workload.limited_by is not None:
                    break
                await asyncio.sleep(0.1)
            assert workload.limited_by == "engine" and app.refresher.panes_slowed
            app.show_status()
            assert "panes 2/s" in " ".join(text_of(app, "#status").split())
            # a tick one 4 Hz period after a repaint keeps still; one 2 Hz period after, paints
            refresher = app.refresher
            refresher.changed, refresher.painted_at = True, time.monotonic() - REFRESH_SECONDS
            painted = refresher.painted_at
            await refresher.tick()
            assert refresher.painted_at == painted
            refresher.painted_at = time.monotonic() - BUSY_REFRESH_SECONDS
            await refresher.tick()
            assert refresher.painted_at > painted
        finally:
            await workload.stop()
        assert not app.refresher.panes_slowed  # stopped: the panes go back to 4 Hz


async def test_the_idle_dashboard_does_not_repaint_while_nothing_changes(make_app):
    """No workload, no key pressed: the timers keep ticking, nothing is painted again
    (bar the slow repaint that moves the ages on). Whatever the engine does in the
    background while idle (its flusher's empty flushes, the store's checks) sends no
    event that would make every tick repaint."""
    app = make_app(policy="write-behind", flush_interval=0.05)  # the flusher wakes often
    app.live = True
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        refresher = app.refresher
        await refresher.refresh_view()
        painted, seen = refresher.painted_at, len(app.engine.recent_events())
        for _ in range(6):  # a tick every REFRESH_SECONDS: six of them, ~1.5 s
            await asyncio.sleep(REFRESH_SECONDS)
        assert app.engine.recent_events()[seen:] == []
        assert refresher.painted_at == painted, "an idle tick repainted the panes"
        await app.engine.update(3, {"bio": "a change"})  # the timer runs: a change paints
        for _ in range(20):
            await asyncio.sleep(REFRESH_SECONDS / 2)
            if refresher.painted_at != painted:
                break
        assert refresher.painted_at != painted, "a change was never painted: no timer ran"
