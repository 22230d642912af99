"""What a user types into a field (issue 32, the trial's findings): the edit form checks
as it is typed, an old error goes when its field changes, and at 80×24 the errors and the
buttons are on screen; no dialog takes a control character; and a number anywhere (a
dialog, a command-line option, a scenario line) takes the digits 0–9 only, with one error."""

from __future__ import annotations

import sqlite3

import pytest
from textual import events
from textual.widgets import Input

from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.screens.export import ExportScreen
from cachetui.cli import main
from cachetui.scenarios.actions import ActionError, parse_action
from tests.app.conftest import build_app, settle, text_of

SHORT = (80, 24)
THREE = "'٣' (U+0663 ARABIC-INDIC DIGIT THREE) is not a digit 0–9: numbers take 0–9 only"
SQUARED = "'²' (U+00B2 SUPERSCRIPT TWO) is not a digit 0–9: numbers take 0–9 only"


def db_row(path: str, user: int) -> tuple:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM profiles WHERE user_id = ?", (user,)).fetchone()


def on_screen(app, selector: str) -> bool:
    region = app.screen.query_one(selector).region
    return region.height > 0 and region.bottom <= app.size.height


async def paste(pilot, field: Input, text: str) -> None:
    field.focus()
    field.value = ""
    field.post_message(events.Paste(text))
    await pilot.pause()


async def test_typed_fields_are_checked_as_typed_and_refuse_what_they_cannot_take(
    make_app, tmp_path
):
    """One app (80×24) for the edit form, go-to and export: each checked as typed."""
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-through", profiles=20)
    async with app.run_test(size=SHORT) as pilot:
        await settle(app, pilot)
        app.follow(4)
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, EditScreen)
        await pilot.pause()
        assert form.current is not None  # loaded: the fields hold user 4
        before = db_row(path, 4)
        followers = form.query_one("#followers", Input)
        followers.focus()
        followers.value = ""
        await pilot.press("-", "3")  # typed: the error shows with no Save pressed
        assert "followers must be >= 0, got -3" in text_of(form, "#error")
        assert followers.has_class("-invalid") and followers.has_focus
        assert on_screen(app, "#error") and on_screen(app, "#save") and on_screen(app, "#cancel")
        followers.value = "12"  # corrected: its error goes
        await pilot.pause()
        assert text_of(form, "#error").strip() == ""
        assert not followers.has_class("-invalid")

        # a paste with control characters (BEL, ESC): said at once, named, never saved
        await paste(pilot, form.query_one("#name", Input), "Ann\x07")
        await paste(pilot, form.query_one("#bio", Input), "red\x1b[31m")
        said = text_of(form, "#error")
        assert "name holds a control character (U+0007 BEL) at character 4" in said
        assert "bio holds a control character (U+001B ESC) at character 4" in said
        await form.save()
        assert app.screen is form and db_row(path, 4) == before
        await paste(pilot, form.query_one("#name", Input), "Ann")
        assert "name holds" not in text_of(form, "#error")
        await paste(pilot, form.query_one("#bio", Input), "red")
        assert text_of(form, "#error").strip() == ""

        # the id field: '²' is no longer dropped without a word, '٣' is no user 3
        user_id = form.query_one("#user_id", Input)
        user_id.focus()
        user_id.value = ""
        await pilot.press("²")
        assert user_id.value == "²" and f"user id: {SQUARED}" in text_of(form, "#error")
        user_id.value = "٣"
        await pilot.pause()
        assert f"user id: {THREE}" in text_of(form, "#error")
        user_id.post_message(Input.Submitted(user_id, user_id.value))
        await pilot.pause()
        assert form.current is not None and form.current.user_id == 4
        followers.value = "٣"
        await pilot.pause()
        assert f"followers: {THREE}" in text_of(form, "#error")
        followers.value = "12"
        user_id.value = "4"
        await pilot.pause()
        assert text_of(form, "#error").strip() == ""

        # an error of a Save that failed (the database down) goes at the next change
        app.engine.faults.db_down = True
        await form.save()
        assert app.screen is form and "down" in text_of(form, "#error")
        app.engine.faults.db_down = False
        followers.value = "123"
        await pilot.pause()
        assert text_of(form, "#error").strip() == ""
        await pilot.click("#save")
        await pilot.pause()
        assert not isinstance(app.screen, EditScreen)
        assert db_row(path, 4)[1:5] == ("Ann", "red", before[3], 123)

        # go to: the same rules
        await pilot.press("g")
        dialog = app.screen
        assert isinstance(dialog, GotoScreen)
        field = dialog.query_one("#user-id", Input)
        for typed, said in (("٣", THREE), ("²", SQUARED)):
            field.value = typed
            dialog.submit(typed)
            await pilot.pause()
            assert f"user id: {said}" in text_of(dialog, "#error")
            assert app.screen is dialog  # not user 3
        await paste(pilot, field, "3\x07")
        assert "user id holds a control character (U+0007 BEL)" in text_of(dialog, "#error")
        dialog.dismiss(None)
        await pilot.pause()

        # export: a folder with an ESC in it is said at once, and nothing is written
        app.action_export()
        await pilot.pause()
        export = app.screen
        assert isinstance(export, ExportScreen)
        folder = export.query_one("#folder", Input)
        await paste(pilot, folder, str(tmp_path / "out\x1b"))
        assert "the folder holds a control character (U+001B ESC)" in text_of(export, "#error")
        export.submit()
        await pilot.pause()
        assert app.screen is export and not list(tmp_path.glob("out*"))
        await paste(pilot, folder, str(tmp_path / "out"))
        assert text_of(export, "#error").strip() == ""


@pytest.mark.parametrize("typed", ["٣", "²", "１"])
@pytest.mark.parametrize(
    "argv",
    [
        ["--profiles"],
        ["--flush-interval"],
        ["--db-rtt"],
        ["bench", "--ops"],
        ["serve", "--port"],
        ["worker", "--rate"],
        ["link", "--listen", ":1", "--to", ":2", "--rtt"],
    ],
)
def test_every_numeric_option_takes_the_digits_0_to_9_only(argv, typed, capsys):
    value = typed + ("ms" if argv[-1].endswith("rtt") else "")
    with pytest.raises(SystemExit) as exited:
        main([*argv, value])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {argv[-1]}: {typed!r} (U+" in last
    assert last.endswith("is not a digit 0–9: numbers take 0–9 only")


@pytest.mark.parametrize(
    "line",
    [
        "read ٣",
        "update 1 followers=٣",
        "read 1 x٣",
        "latency ٢ms",
        "error-rate ٣%",
        "max-pending ٣",
    ],
)
def test_a_scenario_line_takes_the_digits_0_to_9_only(line):
    with pytest.raises(ActionError, match="is not a digit 0–9"):
        parse_action(line)


def test_the_edit_form_at_80x24_shows_its_errors_and_buttons(snap_compare):
    """The look: one line a field, the errors as typed, Cancel and Save on screen."""
    app = build_app(policy="write-through", profiles=20)

    async def run_before(pilot) -> None:
        await settle(app, pilot)
        app.follow(4)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        form.query_one("#bio", Input).value = "pasted\x07"
        form.query_one("#followers", Input).value = "-3"
        await pilot.pause()

    assert snap_compare(app, terminal_size=SHORT, run_before=run_before)
