"""Text the program did not write is shown literally in the dashboard: typed input,
profile fields, the database's errors, a scenario file's words. None is read as markup
(``[/`` killed the app with a MarkupError), none changes how the screen looks, and no
control character reaches the terminal. A fixed set of nasty strings per widget."""

from __future__ import annotations

import sqlite3
import textwrap

from textual.widgets import Input, Static
from textual.widgets._toast import Toast

from cachetui.app.screens.dead_letters import DeadLettersScreen
from cachetui.app.screens.dialogs import CrashReportScreen, GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.dead_letter_table import DeadLetterTable
from cachetui.app.widgets.key_table import KeyTable
from cachetui.literal import printable
from cachetui.scenarios import load_scenario_file
from tests.app.conftest import build_app, settle

SIZE = (160, 45)

#: Typed, stored or raised: each must show as it is.
NASTY = (
    "[/",
    "[/b]",
    "[bold red]x",
    "[link=http://x]y[/link]",
    "[@click=app.quit]q[/]",
    "\x1b[2J",
    "\x07bell",
    "a\nb",
    "界隈" * 8,
    "[" * 60 + "/" * 60,
)
#: What a database's CHECK constraint says (the issue's dead letter).
CHECK = "name NOT GLOB '*[/\\]*' [bold red]x[/] \x1b[2J\x07"


def drawn(widget) -> str:
    """The widget's lines as the terminal gets them (every cell's character)."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def toasts(app) -> str:
    """Every notification on screen, as drawn (a toast renders its message)."""
    return "\n".join(toast.render().plain for toast in app.screen.query(Toast))


def shows(text: str, seen: str) -> bool:
    """``text`` appears in ``seen`` character for character (wrapped anywhere; its
    control characters as spaces), and ``seen`` carries no control character."""
    clean = all(c.isprintable() or c == "\n" for c in seen)
    return clean and "".join(printable(text).split()) in "".join(seen.split())


def reject_with(db_path: str, user: int, message: str) -> None:
    """A real trigger in the database file: every update of ``user`` fails with
    ``message`` (a constraint would say so)."""
    quoted = message.replace("'", "''")
    with sqlite3.connect(db_path) as db:
        db.execute(
            f"CREATE TRIGGER nasty_{user} BEFORE UPDATE ON profiles WHEN NEW.user_id = {user} "
            f"BEGIN SELECT RAISE(ABORT, '{quoted}'); END"
        )
    db.close()


async def test_typed_text_in_the_go_to_dialog_and_the_edit_form_shows_literally(tmp_path):
    app = build_app(str(tmp_path / "profiles.db"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "[", "/")  # the keys
        await pilot.pause()
        assert isinstance(app.screen, GotoScreen)
        error = app.screen.query_one("#error", Static)
        assert "'[/'" in drawn(error)
        field = app.screen.query_one("#user-id", Input)
        for text in NASTY:
            field.value = text
            await pilot.pause()
            assert shows(repr(text.strip())[1:-1], drawn(error)), text
        await pilot.press("escape", "e")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        app.screen.query_one("#user_id", Input).focus()
        await pilot.press("5", "enter")
        await pilot.pause()
        app.screen.query_one("#followers", Input).focus()
        await pilot.press("ctrl+u", "[", "/", "b", "]", "enter")  # the followers
        await pilot.pause()
        assert isinstance(app.screen, EditScreen) and app.is_running
        assert "[/b]" in drawn(app.screen.query_one("#error", Static))
        await pilot.press("escape")
        assert app.is_running


async def test_profiles_and_database_errors_with_markup_show_literally(tmp_path):
    db_path = str(tmp_path / "profiles.db")
    app = build_app(db_path, policy="write-through")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for user, text in enumerate(NASTY, 1):  # another writer stored these
            name = text[:64]
            await app.engine.external_update(user, {"name": name, "bio": text, "location": name})
            await app.engine.read(user)  # cached too: the Cache pane lists the name
        reject_with(db_path, 13, CHECK)
        await pilot.press("g", "1", "3", "enter")
        await settle(app, pilot)
        await pilot.press("u")  # write-through: the database's error comes back
        await settle(app, pilot)
        await pilot.pause()
        assert app.is_running
        assert shows(CHECK, toasts(app)), (toasts(app), list(app._notifications))
        assert shows(CHECK.replace("\n", " "), drawn(app.query_one("#trace", TracePane)))
        log = app.query_one("#log", EventLog)
        log.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert shows("name NOT GLOB '*[/\\]*' [bold red]x[/]", drawn(log))
        for pane in ("#cache", "#database"):
            lines = drawn(app.query_one(pane, KeyTable))
            for text in ("[/", "[/b]", "[bold red]x", "[@click=a", "[link=http", "界隈界隈"):
                assert text in lines, (pane, text, lines)  # (a narrow column cuts names)
            assert all(c.isprintable() or c == "\n" for c in lines)
        # write-behind: the rejected write is parked, with the constraint's words
        await app.engine.set_policy("write-behind")
        await app.engine.update(13, {"bio": "refused"})
        await app.engine.flush()
        await pilot.press("d")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, DeadLettersScreen) and app.is_running
        assert shows(CHECK, drawn(app.screen.query_one("#detail", Static)))
        table = drawn(app.screen.query_one(DeadLetterTable))
        assert "name NOT GLOB '*[/\\]*'" in table and shows("", table), table


async def test_a_scenario_file_and_a_queue_path_with_markup_show_literally(tmp_path):
    nasty = "[/] [bold red]x [link=http://x]y[/link] [@click=app.quit]q[/]"
    good = tmp_path / "talk.toml"
    good.write_text(
        textwrap.dedent(
            f"""\
            name = "talk"
            title = "Talk {nasty}"
            description = "Shows {nasty}"

            [[step]]
            narration = "Step {nasty} \\u001b[2J"
            actions = ["read 7"]
            """
        )
    )
    (tmp_path / "[red]bad[").mkdir()
    bad = tmp_path / "[red]bad[" / "b].toml"  # its path says [red]bad[/b].toml
    bad.write_text('name = "x"\ntitle = "[/"\n[[step]]\nactions = ["fly [/b] to [bold]"]\n')
    folder = tmp_path / "[red]q[" / "b]"  # the outbox's path says [red]q[/b]
    folder.mkdir(parents=True)
    app = build_app(
        str(tmp_path / "profiles.db"),
        policy="write-behind",
        queue_url=f"sqlite:///{folder}/outbox.db",
    )
    app.scenario_mode.initial = str(bad)  # as --scenario gives it: its error is notified
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.pause()
        assert app.is_running
        assert "[red]bad[/b].toml" in toasts(app), toasts(app)
        await app.engine.update(1, {"bio": "acknowledged"})
        await pilot.press("c")  # the crash report names the outbox it replayed from
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, CrashReportScreen) and app.is_running
        said = "\n".join(drawn(static) for static in app.screen.query(Static))
        assert shows("[red]q[/b]/outbox.db", said), said
        await pilot.press("escape")
        await pilot.pause()
        app.start_scenario(load_scenario_file(good))
        await settle(app, pilot)
        await pilot.press("space")
        await settle(app, pilot)
        banner = drawn(app.query_one("#scenario-banner"))
        assert app.is_running
        assert shows(f"Step {nasty}", banner), banner
