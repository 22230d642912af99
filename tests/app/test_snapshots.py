"""SVG snapshots of the main screen per policy, the help screen and the edit form; for
talks, the dashboard at projector sizes (100×30, 80×24), focused (z), in the light theme,
and during a scenario step.

Deterministic: fixed seed and clock, an in-memory database, no refresh timer, and no
durations or ages on screen.
"""

from __future__ import annotations

import pytest

from cachetui.app.screens.edit import EditScreen
from cachetui.app.screens.help import HelpScreen
from tests.app.conftest import build_app, settle
from tests.waits import wait_until

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
        await wait_until(lambda: isinstance(pilot.app.screen, HelpScreen), "? opened the help")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_edit_form_shows_a_validation_error(snap_compare):
    app = build_app(policy="write-through")

    async def run_before(pilot) -> None:
        await _prepare(pilot, [])
        app = pilot.app
        await pilot.press("e")
        await wait_until(lambda: isinstance(app.screen, EditScreen), "e opened the form")
        await pilot.pause()
        await pilot.press("4", "2", "enter")  # the user id field has the focus
        await wait_until(lambda: app.screen.query_one("#name").value, "user 42 was loaded")
        app.screen.query_one("#name").value = ""
        app.screen.query_one("#name").focus()
        await pilot.press("enter")
        await wait_until(lambda: str(app.screen.query_one("#error").content), "the error")
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# -- giving a talk: projector sizes, the z focus, the light theme, a scenario step --------------
BUSY = ["R", "u", "u", "u", "u", "u", "u", "r"]


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_projector_layout(snap_compare, size):
    app = build_app(policy="write-behind", profiles=300)

    async def run_before(pilot) -> None:
        await _prepare(pilot, BUSY)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_focus_on_the_panes_at_80x24(snap_compare):
    app = build_app(policy="write-behind", profiles=300)

    async def run_before(pilot) -> None:
        await _prepare(pilot, [*BUSY, "z"])

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_light_theme_at_100x30(snap_compare):
    app = build_app(policy="write-behind", profiles=300)
    app.theme = "textual-light"

    async def run_before(pilot) -> None:
        await _prepare(pilot, [*BUSY, "3", "x"])  # a stale entry too

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_scenario_step_at_80x24(snap_compare, tmp_path):
    app = build_app(str(tmp_path / "profiles.db"), policy="write-behind", profiles=300)
    app.scenario_mode.initial = "write-behind"

    async def run_before(pilot) -> None:
        await _prepare(pilot, ["space", "space"])

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_big_ids_and_versions_at_60x15(snap_compare):
    """Issue 32 item 4: at 60×15 a version of 90596 read 9059 (cut without a mark). No
    number in the panes is cut now: a pane drops whole columns (the state's symbol, then
    the version) until the user's id fits, and a title abbreviates its count (DB 12k)."""
    app = build_app(policy="write-behind", profiles=12_000)

    async def run_before(pilot) -> None:
        await settle(app, pilot)
        engine = app.engine
        rows = await engine.db_rows([11_998, 11_999, 12_000, 7])
        await engine.restore_rows(
            p._replace(version=90_596 + i) for i, p in enumerate(rows.values())
        )
        for user in (7, 11_998, 11_999):
            await engine.read(user)
        await engine.update(12_000, {"bio": "queued"})
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=(60, 15), run_before=run_before)
