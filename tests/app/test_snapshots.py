"""SVG snapshots of the main screen per policy, the help screen and the edit form.

Deterministic: fixed seed and clock, an in-memory database, no refresh timer, and no
durations or ages on screen.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import build_app, settle

SIZE = (160, 45)


async def _prepare(pilot, keys: list[str]) -> None:
    app = pilot.app
    await settle(app, pilot)
    for key in keys:
        await pilot.press(key)
        await settle(app, pilot)
    app.clear_notifications()
    await settle(app, pilot)


@pytest.mark.parametrize("policy", ["write-through", "write-behind", "write-around", "no-cache"])
def test_main_screen_per_policy(snap_compare, policy):
    app = build_app(policy=policy, profiles=300)

    async def run_before(pilot) -> None:
        await _prepare(pilot, ["R", "u", "u", "u", "u", "u", "u", "r"])

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare):
    app = build_app(policy="write-behind")

    async def run_before(pilot) -> None:
        await _prepare(pilot, [])
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_edit_form_shows_a_validation_error(snap_compare):
    app = build_app(policy="write-through")

    async def run_before(pilot) -> None:
        await _prepare(pilot, [])
        await pilot.press("e")
        await pilot.pause(0.2)
        await pilot.press("4", "2", "enter")  # the user id field has the focus
        await pilot.pause(0.2)
        pilot.app.screen.query_one("#name").value = ""
        pilot.app.screen.query_one("#name").focus()
        await pilot.press("enter")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
