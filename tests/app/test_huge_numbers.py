"""Numbers typed into the dashboard that the database (or int()) cannot hold are a
message in the dialog, never a crash: a user id past 2**63-1, followers past it, 5,000
digits, a digit such as '²' that int() refuses."""

from __future__ import annotations

from cachetui.app.screens.edit import EditScreen
from tests.app.conftest import settle
from tests.conftest import db_row

SIZE = (160, 45)
TOO_BIG = str(2**63)
THOUSANDS = "9" * 5000  # past int()'s limit of 4,300 digits


async def test_numbers_nothing_can_hold_are_a_message_in_the_dialogs(make_app, tmp_path):
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        app.screen.query_one("#user-id").value = THOUSANDS
        await pilot.press("enter")
        await pilot.pause()
        assert "ids run 1–200" in str(app.screen.query_one("#error").content)
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("e")
        await pilot.pause()
        for typed, said in (
            (TOO_BIG, "9223372036854775808"),  # no such user: a database cannot hold it
            (THOUSANDS, "ids are at most"),
            ("²", "is not a digit 0–9"),  # the one rule of numeric fields
        ):
            app.screen.query_one("#user_id").value = typed
            await pilot.click("#user_id")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, EditScreen)  # alive, and still asking
            assert said in str(app.screen.query_one("#error").content).replace(",", "")
        app.screen.query_one("#user_id").value = "5"
        await pilot.click("#user_id")
        await pilot.press("enter")
        await pilot.pause()
        for typed, said in (
            (TOO_BIG, "followers must be <= 9223372036854775807"),
            ("²", "is not a digit 0–9"),
            (THOUSANDS, "followers must be <= 9223372036854775807 (the largest the database"),
        ):
            app.screen.query_one("#followers").value = typed
            await pilot.pause()  # the error line may change height: click where Save is now
            await pilot.click("#save")
            await pilot.pause()
            assert isinstance(app.screen, EditScreen)
            error = str(app.screen.query_one("#error").content)
            assert said in error.replace(",", "") and len(error) < 200  # never the 5,000 digits
        await settle(app, pilot)
        assert app.engine.pending_writes() == []  # nothing queued
    assert db_row(path, 5).version == 1
