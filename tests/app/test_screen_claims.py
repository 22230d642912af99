"""Issue 13, the screen's side: what the screen says is true, every action reachable."""

from __future__ import annotations

import re

import pytest
from rich.color import ColorSystem
from rich.style import Style
from textual import events
from textual.widgets import Input, Label
from textual.widgets._footer import FooterKey

from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.states import DARK, LIGHT
from cachetui.engine import KeyState
from cachetui.scenarios import builtin_scenarios
from tests.app.conftest import notifications, rows, settle, text_of
from tests.waits import wait_until

SIZE = (160, 45)


def burst(app, *keys: str) -> None:
    """Keys as a fast typist sends them: all queued at once, none waiting for the screen."""
    for key in keys:
        char = "\r" if key == "enter" else key
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_keys_typed_right_after_g_reach_the_dialog(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        burst(app, "g", "1", "2", "3", "enter")  # one burst, before the dialog mounts
        await settle(app, pilot)
        assert not isinstance(app.screen, GotoScreen)
        assert app.followed == 123
        assert app.engine.policy.value == "write-through"  # "1" was not the policy key


async def test_i_invalidates_the_followed_user(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "7", "enter")  # read (cached) and followed
        await settle(app, pilot)
        assert 7 in rows(app, "#cache")
        await pilot.press("i")
        await settle(app, pilot)
        assert 7 not in rows(app, "#cache")
        assert "User 7 invalidated: its next read misses" in notifications(app)[-1]
        app.follow(None)
        await pilot.press("i")  # nobody followed: says how to follow one
        await settle(app, pilot)
        assert "follow a user first" in notifications(app)[-1]


async def test_the_palette_describes_each_action_in_words(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert "Invalidate (i)" in commands and "Help (?)" in commands
        assert "Rate + (+)" in commands
        assert not any("question_mark" in t or "plus" in t for t in commands)
        assert not any(h.startswith("cachetui:") for h in commands.values())
        assert not any(t.startswith(("Leave scenario", "Next step")) for t in commands)
        assert commands["Quit (q)"] == "flush pending writes to the database, then quit"
        assert "Quit" not in commands  # Textual's "as soon as possible"
        app.start_scenario(builtin_scenarios()[0])
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Leave scenario (esc)" in titles


async def test_a_scenario_sets_up_quietly_and_its_step_traces_only_its_operation(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "4", "2", "enter")  # a miss and a cache fill, before
        await settle(app, pilot)
        before = len(app.engine.recent_events())
        app.start_scenario(next(s for s in builtin_scenarios() if s.name == "no-cache"))
        await settle(app, pilot)
        assert "cache-fill" not in text_of(app, "#trace")  # the intro: no operation yet
        # its setup does not flood the Events pane: no knob set to what it already was
        setup = [e.detail for e in app.engine.recent_events()[before:]]
        assert not [d for d in setup if "off" in d or "0 ms" in d or "0%" in d], setup
        assert len(setup) == len(set(setup)), setup  # nothing said twice
        await pilot.press("space")  # step 1 runs under no-cache: no miss, no fill
        await settle(app, pilot)
        trace = text_of(app, "#trace")
        assert "miss" not in trace and "cache-fill" not in trace
        assert app.refresher.trace_op  # the step's read is the trace shown
        assert app.query_one("#trace").border_subtitle.startswith("scenario step 1")
        await pilot.press("escape")
        await settle(app, pilot)
        assert "scenario step" not in str(app.query_one("#trace").border_subtitle)


async def test_a_read_burst_accounts_for_every_use_of_the_cache(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")  # a cold cache: concurrent reads of a hot user miss together
        await settle(app, pilot)
        message = notifications(app)[-1]
        hits, misses = map(int, re.search(r"(\d+) hits, (\d+) misses", message).groups())
        waited = re.search(r"(\d+) waited for a read of the same user in flight", message)
        uses = sum(int(cells[4]) for cells in rows(app, "#cache").values())
        assert hits + misses == 100
        assert uses == hits + (int(waited.group(1)) if waited else 0)
        await pilot.press("0", "R")
        await settle(app, pilot)
        assert notifications(app)[-1].endswith("100 reads, all from the database (no cache)")
        await pilot.press("r")
        await settle(app, pilot)
        assert "from the database (no cache)" in app.query_one("#trace").border_subtitle


@pytest.mark.parametrize("size", [(160, 45), (80, 24)])
async def test_toasts_leave_the_last_operation_and_the_metrics_readable(make_app, size):
    """They sit inside the Events pane (issue 32, item 3: a notification is an event)."""
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("R", "x")
        await settle(app, pilot)
        await wait_until(lambda: app.screen.query("Toast"), "the toasts")
        await pilot.pause()  # placed
        toasts = list(app.screen.query("Toast"))
        for pane in ("#trace", "#metrics", "#panes"):
            region = app.query_one(pane).region
            assert not any(t.region.overlaps(region) for t in toasts), pane
        events = app.query_one("#log").region
        assert all(events.contains_region(t.region) for t in toasts)


async def test_at_80x24_the_way_to_help_and_out_stays_on_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        shown = {key.key for key in app.screen.query(FooterKey)}
        assert {"question_mark", "q"} <= shown, shown
        await pilot.press("s")
        await pilot.pause()
        hint = app.screen.query_one(".hint", Label)
        assert "esc" in str(hint.render()) and app.screen.region.contains_region(hint.region)
        await pilot.press("enter")  # the first scenario's introduction
        await settle(app, pilot)
        await pilot.press("space")
        await settle(app, pilot)
        head = text_of(app, "#scenario-banner").splitlines()[0]
        assert "space" in head and "esc" in head, head


@pytest.mark.parametrize("system", [ColorSystem.EIGHT_BIT, ColorSystem.STANDARD])
def test_every_state_looks_different_without_truecolor(system):
    for palette in (DARK, LIGHT):
        looks = set()
        for state in KeyState:
            style = Style.parse(palette.states[state])
            assert style.color is not None
            looks.add((style.color.downgrade(system).number, bool(style.reverse)))
        assert len(looks) == len(KeyState), (palette.dark, system)


async def test_the_edit_form_explains_itself_counts_no_read_and_clears_a_fixed_error(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e")  # nobody followed: the form says what to do before Save
        await pilot.pause()
        form = app.screen
        assert isinstance(form, EditScreen)
        assert "type a user id and press enter" in str(form.query_one("#error").content)
        await pilot.press("escape")
        await pilot.press("g", "5", "enter")
        await settle(app, pilot)
        reads = app.engine.metrics.reads
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert form.current.user_id == 5 and app.engine.metrics.reads == reads  # no read
        form.query_one("#bio", Input).value = "x" * 300
        form.query_one("#followers", Input).value = "-3"
        await pilot.click("#save")
        await pilot.pause()
        form.query_one("#followers", Input).value = "12"  # corrected: its error goes now
        await pilot.pause()
        error = str(form.query_one("#error").content)
        assert "followers" not in error and "bio must be" in error
        assert not form.query_one("#followers").has_class("-invalid")
        assert form.query_one("#bio").has_class("-invalid")
