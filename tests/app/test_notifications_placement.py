"""Notifications never cover what the audience should read (issue 32, item 3): on the
dashboard they stay inside the Events pane, as many as it holds, whole; in a dialog they
never cover its buttons (the DB-down quit dialog's Quit, the edit form's Save)."""

from __future__ import annotations

import pytest
from textual.widgets import Button
from textual.widgets._toast import Toast

from cachetui.app.screens.dialogs import ConfirmScreen
from tests.app.conftest import settle

SIZES = [(160, 45), (100, 30), (80, 24)]


def toasts(app):
    return [t for t in app.screen.query(Toast) if t.region.area]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_toasts_stay_inside_the_events_pane(make_app, size):
    app = make_app(policy="write-behind")
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(app, pilot)
        for key in ("U", "R", "f", "l", "U"):  # five notifications in a row
            await pilot.press(key)
            await settle(app, pilot)
        await pilot.pause()
        shown = toasts(app)
        assert shown
        events = app.query_one("#log").region.shrink((1, 1, 1, 1))  # inside its border
        for toast in shown:
            assert events.contains_region(toast.region), (toast.region, events)
        metrics = app.query_one("#metrics").region
        assert not any(metrics.overlaps(t.region) for t in shown)


async def test_toasts_never_cover_the_buttons_of_the_quit_dialog(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("U", "o")
        await settle(app, pilot)
        await pilot.press("q")  # "Flushing … before quitting" while it asks
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, ConfirmScreen):
                break
        assert isinstance(app.screen, ConfirmScreen)
        app.notify("a notification while the dialog asks", timeout=30)
        await pilot.pause()
        await pilot.pause()
        shown = toasts(app)
        assert shown
        for button in app.screen.query(Button):
            assert not any(button.region.overlaps(t.region) for t in shown), button.label
        await pilot.press("escape")
        app.engine.faults.db_down = False
