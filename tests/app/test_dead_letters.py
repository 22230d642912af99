"""Dead letters in the dashboard: the states in the panes, the view (d) and its keys, P
(reject the followed user's writes), the quit path and what the app says at start.

Real SQLite triggers make the database reject a row; another writer is a real external
write. What is asserted is what the user sees, and the database behind it."""

from __future__ import annotations

import signal
import sqlite3

from rich.color import Color, ColorSystem
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from cachetui.app.screens.dead_letters import DeadLettersScreen
from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.app.states import DARK, LIGHT, SYMBOLS, legend
from cachetui.app.widgets.activity import kind_style
from cachetui.app.widgets.dead_letter_table import DeadLetterTable
from cachetui.cli.quit_report import SignalReport, parked_lines
from cachetui.engine import Engine, EngineConfig, EventKind, KeyState
from tests.app.conftest import notifications, rows, settle, text_of
from tests.conftest import db_version
from tests.waits import at_exit, wait_until

SIZE = (160, 45)
NEW = (KeyState.REJECTED, KeyState.CONFLICT)


def said(app, text: str) -> bool:
    return any(text in n for n in notifications(app))


def view_rows(app) -> dict[int, list[str]]:
    """The view's rows as the user sees them: user id → plain cell texts."""
    table = app.screen.query_one(DeadLetterTable)
    return {
        user: [c.plain if isinstance(c, Text) else str(c) for c in table.row_cells(user)]
        for user in table.users
    }


def detail(app) -> str:
    return str(app.screen.query_one("#detail", Static).content)


async def done(app, pilot) -> None:
    """Wait for the keys' workers (the view repaints itself; the panes are not asserted)."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def answer(pilot, key: str) -> None:
    """Answer the confirmation (settle() would wait for the worker that awaits it)."""
    await wait_until(lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")
    await pilot.press(key)


async def park_rejected(app, user: int) -> None:
    """A write-behind update of ``user`` the database refuses, flushed: a dead letter."""
    await app.engine.set_policy("write-behind")
    await app.engine.reject_writes(user)
    await app.engine.update(user, {"bio": "refused"})
    await app.engine.flush()


async def park_conflict(app, user: int) -> None:
    """A write-behind update of ``user`` whose row another writer changes before the
    flush: a dead letter of kind conflict."""
    await app.engine.set_policy("write-behind")
    await app.engine.update(user, {"bio": "mine"})
    await app.engine.external_update(user, {"bio": "theirs"})
    await app.engine.flush()


# -- the states ---------------------------------------------------------------------------
def test_the_new_states_stay_apart_in_16_colours_and_without_colour():
    assert len(set(SYMBOLS.values())) == len(KeyState)  # a symbol of its own each
    for palette in (DARK, LIGHT):
        looks = {}
        for state in KeyState:
            style = Style.parse(palette.states[state])
            colour = style.color or Color.default()
            looks[state] = (colour.downgrade(ColorSystem.STANDARD).number, bool(style.reverse))
        for new in NEW:
            assert looks[new][1]  # reversed: survives NO_COLOR, which only drops colours
            others = [looks[s] for s in KeyState if s is not new]
            assert looks[new] not in others, (palette.dark, new)
    plain = legend(DARK).plain
    assert "⊘ rejected" in plain and "≠ conflict" in plain
    # the events that park a write or report a conflict are badges too
    for kind in (EventKind.DEAD_LETTER, EventKind.CONFLICT):
        assert "reverse" in kind_style(kind, DARK)


async def test_p_rejects_the_followed_users_writes_and_the_panes_show_the_dead_letter(
    make_app, tmp_path
):
    app = make_app(policy="write-through")
    db_file = str(tmp_path / "profiles.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("P")  # nobody followed yet
        await settle(app, pilot)
        assert said(app, "follow a user first")
        await pilot.press("g", "1", "3", "enter", "P")
        await settle(app, pilot)
        assert "DB rejects user 13's writes" in text_of(app, "#status")
        assert said(app, "cachetui_lab_reject_13")
        await pilot.press("u")  # write-through: the caller is told, as a rejection
        await settle(app, pilot)
        assert said(app, "Update of user 13 rejected: lab: every write of user 13 is rejected")
        assert db_version(db_file, 13) == 1
        await pilot.press("2", "u", "u", "f")  # write-behind: acknowledged, then parked
        await settle(app, pilot)
        assert said(app, "parked as dead letters (d): user 13 v3 (rejected)")
        assert "⊘ rejected" in rows(app, "#cache")[13]
        assert rows(app, "#database")[13][:2] == ["▸13", "1"]
        assert "⊘ rejected" in rows(app, "#database")[13]
        assert "1 dead letter: d" in text_of(app, "#status")
        assert "⊘ 1 parked" in str(app.query_one("#queue").border_title)
        log = [e.kind for e in app.engine.recent_events()]
        assert EventKind.DEAD_LETTER in log
        await pilot.press("P")  # again: accepted
        await settle(app, pilot)
        assert "rejects" not in text_of(app, "#status")
        assert said(app, "its dead letter waits for a retry (d, then r)")
        with sqlite3.connect(db_file) as conn:
            triggers = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'cachetui_lab%'"
            )
            assert triggers.fetchall() == []


# -- the view ------------------------------------------------------------------------------
async def test_d_lists_the_letters_and_r_retries_the_selected_one(make_app, tmp_path):
    app = make_app(policy="write-behind")
    db_file = str(tmp_path / "profiles.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await park_rejected(app, 13)
        await pilot.press("d")
        await done(app, pilot)
        assert isinstance(app.screen, DeadLettersScreen)
        assert view_rows(app) == {
            13: [" 13", "⊘ rejected", "2", "1", "–", "3", "lab: every write of user 13 is rejected"]
        }
        assert "rejected by the database after 3 tries" in detail(app)
        await pilot.resize_terminal(80, 24)  # a projector: the whole view still shows
        await pilot.pause()
        table = app.screen.query_one(DeadLetterTable)
        assert table.shown_columns[:5] == ["user", "state", "v", "base", "db v"]
        hint = app.screen.query_one(".hint").region
        assert hint.bottom <= 24 and hint.right <= 80
        await pilot.resize_terminal(*SIZE)
        await pilot.press("r")  # the trigger is still there: parked again
        await done(app, pilot)
        assert said(app, "user 13 was parked again: lab: every write of user 13 is rejected")
        assert 13 in view_rows(app)
        await app.engine.accept_writes(13)  # the cause fixed (P, with user 13 followed)
        await pilot.press("escape", "o", "d")  # a DB outage, and the view again
        await done(app, pilot)
        await pilot.press("r")
        await done(app, pilot)
        assert said(app, "back in the write queue, but the database is not taking writes")
        assert said(app, "database is down")
        assert view_rows(app) == {} and db_version(db_file, 13) == 1
        app.engine.faults.db_down = False  # back up: the flusher lands it
        await app.engine.flush()
        assert db_version(db_file, 13) == 2 and app.engine.dead_letters() == []
        await pilot.press("escape")
        await done(app, pilot)
        assert not isinstance(app.screen, DeadLettersScreen)
        assert "dead letter" not in text_of(app, "#status")


async def test_shift_r_retries_all_and_delete_discards_only_after_a_confirmation(
    make_app, tmp_path
):
    app = make_app(policy="write-behind")
    db_file = str(tmp_path / "profiles.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await park_rejected(app, 13)
        await park_conflict(app, 7)
        await app.engine.accept_writes(13)
        await pilot.press("d")
        await done(app, pilot)
        assert set(view_rows(app)) == {13, 7}
        assert view_rows(app)[7][1:5] == ["≠ conflict", "2", "1", "2"]  # v2 on v1, DB had v2
        await pilot.press("R")
        await done(app, pilot)
        assert said(app, "user 13 landed in the database")
        assert said(app, "user 7 was parked again: conflict: built on v1 but the database has v2")
        assert set(view_rows(app)) == {7}
        assert db_version(db_file, 13) == 2 and db_version(db_file, 7) == 2  # theirs stays
        await pilot.press("delete")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), "delete asked")
        assert "reads then see the database's v2" in app.screen.message
        await answer(pilot, "n")  # keep it
        await done(app, pilot)
        assert said(app, "user 7's dead letter is kept")
        assert [d.user_id for d in app.engine.dead_letters()] == [7]
        await pilot.press("delete")
        await answer(pilot, "y")
        await done(app, pilot)
        assert said(app, "user 7's v2 (conflict) is dropped; reads see the database's v2")
        assert app.engine.dead_letters() == [] and view_rows(app) == {}
        assert app.engine.metrics.discarded == 1
        assert "No dead letters" in detail(app)
        assert db_version(db_file, 7) == 2
        assert (await app.engine.read(7)).bio == "theirs"


# -- quitting and starting ---------------------------------------------------------------------
async def test_quit_dialog_and_close_path_count_the_parked_letters(make_app):
    app = make_app(policy="write-behind", flush_timeout=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await park_rejected(app, 13)
        await app.engine.update(1, {"bio": "pending"})
        await pilot.press("o", "q")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), "q asked")
        message = app.screen.message
        assert "1 acknowledged write is still pending" in message
        assert "1 dead letter stays parked in the database (not lost" in message
        exiting = at_exit(app, lambda: app.engine.running)
        await pilot.press("y")
        await wait_until(lambda: exiting, "y made the app exit")
    assert exiting == [False]  # y closed the engine, not the unmount after
    assert app.session.parked_on_exit == [(13, 2, "rejected")]
    lines = parked_lines(app.session.parked_on_exit, "/data/profiles.db")
    assert lines[0].startswith("cachetui: 1 dead letter stays parked in /data/profiles.db")
    assert lines[1] == "  parked: user 13 v2 (rejected)"


def test_a_quit_on_a_signal_names_the_parked_letters_too(tmp_path):
    report = SignalReport(signal.SIGTERM, flushed=2, parked=[(13, 2, "rejected")], db_path="p.db")
    lines = report.stderr_lines()
    assert lines[0] == "cachetui: quit on SIGTERM: 2 pending writes flushed"
    assert lines[1].startswith("cachetui: 1 dead letter stays parked in p.db")
    assert report.exit_code == 0  # parked is not lost
    report.write_log(tmp_path / "cachetui.log")
    assert "parked: user 13 version 2 (rejected)" in (tmp_path / "cachetui.log").read_text()


async def test_start_names_leftover_lab_triggers_and_parked_letters(make_app, tmp_path):
    db_file = str(tmp_path / "profiles.db")
    engine = Engine(EngineConfig(db_path=db_file, policy="write-behind", flush_interval=3600))
    async with engine:
        await engine.seed(200)
        await engine.reject_writes(13)
        await engine.update(13, {"bio": "refused"})
        await engine.flush()
    with sqlite3.connect(db_file) as conn:  # what a killed run leaves behind
        conn.execute(
            "CREATE TRIGGER cachetui_lab_reject_5 BEFORE UPDATE ON profiles "
            "WHEN new.user_id = 5 BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert said(app, "Lab triggers removed: removed 1 lab trigger left over")
        assert said(app, "cachetui_lab_reject_5")
        assert said(app, "1 dead letter: 1 write was parked by an earlier run")
        assert "1 dead letter: d" in text_of(app, "#status")
        assert "⊘ rejected" in rows(app, "#database")[13]
        await pilot.press("d")
        await done(app, pilot)
        await pilot.press("enter")  # follow the letter's user in the panes
        await done(app, pilot)
        assert not isinstance(app.screen, DeadLettersScreen) and app.followed == 13
