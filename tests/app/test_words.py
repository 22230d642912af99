"""Words that agree with their numbers, and keys a dialog names that work there (issue
32, item 8)."""

from __future__ import annotations

import asyncio

from cachetui.app.operations import flush_summary
from cachetui.app.screens.dead_letters import DeadLettersScreen
from cachetui.app.screens.dialogs import CrashReportScreen
from cachetui.engine import Engine, EngineConfig, EventKind
from tests.app.conftest import notifications, settle, text_of

SIZE = (160, 45)


def test_a_flush_says_writes_and_transactions_in_the_right_number():
    assert flush_summary(1, 1, 0) == "flushed 1 write in 1 transaction"
    assert flush_summary(5, 3, 0) == "flushed 5 writes in 3 transactions"
    # only a rejected row was tried: three commits wrote nothing, and it says why
    assert (
        flush_summary(0, 3, 3)
        == "flushed 0 writes in 3 transactions (the database refused 3 tries)"
    )


async def test_the_crash_dialog_agrees_with_its_numbers(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for n in range(5):  # five acknowledged updates of one user
            await app.engine.update(7, {"followers": n})
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen)
        said = " ".join(str(s.content) for s in app.screen.query("Static"))
        assert "[b]5[/b] acknowledged updates of [b]1[/b] user were lost" in said


async def test_a_cache_back_after_one_write_says_one_entry(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        await engine.seed(10)
        await engine.read(3)
        back = asyncio.Event()
        details: list[str] = []

        def on_event(event) -> None:
            if event.kind is EventKind.CACHE_UP:
                details.append(event.detail)
                back.set()

        engine.subscribe(on_event)
        engine.faults.cache_down = True
        await engine.update(3, {"bio": "written while the cache was away"})
        engine.faults.cache_down = False
        await asyncio.wait_for(back.wait(), 10)
        assert details == ["1 entry written meanwhile dropped"]


async def test_p_in_the_dead_letters_view_accepts_the_rejected_users_writes(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "4", "enter", "P")
        await settle(app, pilot)
        await app.engine.update(4, {"bio": "refused"})
        await app.engine.flush()
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DeadLettersScreen)
        assert "P accepts a lab rejection" in str(app.screen.query_one("#detail").content)
        await pilot.press("P")  # the key the detail names
        await settle(app, pilot)
        assert any("DB accepts user 4's writes" in n for n in notifications(app))
        assert 4 not in app.dead_letter_keys.rejecting_users()
        await pilot.press("r")  # retried: it lands now
        await settle(app, pilot)
        assert not app.engine.dead_letters()
        await pilot.press("escape")
        await settle(app, pilot)
        assert "rejects" not in text_of(app, "#status")
