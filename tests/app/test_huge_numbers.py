"""Numbers typed into the dashboard that the database cannot hold are a message in the
form, never a crash: a user id past 2**63-1, followers past it."""

from __future__ import annotations

from cachetui.app.screens.edit import EditScreen
from tests.app.conftest import settle
from tests.conftest import db_row

SIZE = (160, 45)
TOO_BIG = str(2**63)


async def test_the_edit_form_names_numbers_the_database_cannot_hold(make_app, tmp_path):
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.click("#user_id")
        await pilot.press(*TOO_BIG, "enter")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)  # alive, and still asking
        error = str(app.screen.query_one("#error").content)
        assert "9223372036854775808" in error.replace(",", "")
        app.screen.query_one("#user_id").value = ""
        await pilot.click("#user_id")
        await pilot.press("5", "enter")
        await pilot.pause()
        app.screen.query_one("#followers").value = TOO_BIG
        await pilot.click("#save")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        assert "followers must be <= 9,223,372,036,854,775,807" in str(
            app.screen.query_one("#error").content
        )
        await settle(app, pilot)
        assert app.engine.pending_writes() == []  # nothing queued
    assert db_row(path, 5).version == 1


async def test_digits_int_refuses_are_a_message_in_both_dialogs(make_app):
    app = make_app(policy="write-behind")
    thousands = "9" * 5000  # past int()'s limit of 4,300 digits
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        app.screen.query_one("#user-id").value = thousands
        await pilot.press("enter")
        await pilot.pause()
        assert "ids run 1–200" in str(app.screen.query_one("#error").content)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        for typed, said in ((thousands, "ids are at most"), ("²", "not a user id")):
            app.screen.query_one("#user_id").value = typed
            await pilot.click("#user_id")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, EditScreen)
            assert said in str(app.screen.query_one("#error").content)
        app.screen.query_one("#user_id").value = "5"
        await pilot.click("#user_id")
        await pilot.press("enter")
        await pilot.pause()
        for typed in ("²", thousands):
            app.screen.query_one("#followers").value = typed
            await pilot.click("#save")
            await pilot.pause()
            assert "followers must be a whole number" in str(app.screen.query_one("#error").content)
        assert app.engine.pending_writes() == []
