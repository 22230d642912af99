"""SVG snapshots of the compare screen at 160×45 and at the projector size 100×30:
write-through against write-behind after the same updates, during a DB outage
(write-through fails the caller, write-behind acknowledges)."""

from __future__ import annotations

import pytest

from cachetui.app.screens.dialogs import GotoScreen
from tests.compare.conftest import build_compare, settle
from tests.waits import wait_until


@pytest.mark.parametrize("size", [(160, 45), (100, 30)], ids=["160x45", "100x30"])
def test_compare_screen(snap_compare, size):
    app = build_compare(profiles=300)

    async def run_before(pilot) -> None:
        await settle(app, pilot)
        await pilot.press("R", "u", "u", "u", "u", "u")
        await settle(app, pilot)
        await pilot.press("g")  # follow user 1 (cached on both), then update it in an outage
        await wait_until(lambda: isinstance(app.screen, GotoScreen), "g asked for a user")
        await pilot.press("1", "enter")
        await settle(app, pilot)
        await pilot.press("o", "u")
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
