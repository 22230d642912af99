"""The dashboard with a durable queue (a crash replays, a quit with the database down
keeps the writes for the next start) and with its database file deleted under it (the
header says so; q offers a new file, or to discard)."""

from __future__ import annotations

import os
import sqlite3

from cachetui.app.screens.dialogs import ChoiceScreen, CrashReportScreen
from tests.app.conftest import settle, text_of
from tests.waits import at_exit, wait_until

SIZE = (160, 45)


async def test_a_crash_with_an_outbox_replays_and_says_so(make_app):
    app = make_app(policy="write-behind", queue_url="sqlite://")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "queue" in text_of(app, "#status") and ".outbox" in text_of(app, "#status")
        for user in (1, 2, 2):
            await app.engine.update(user, {"bio": "acknowledged"})
        await pilot.press("c")
        await wait_until(lambda: isinstance(app.screen, CrashReportScreen), "the crash report")
        assert app.screen.replayed == 2 and app.screen.lost == []
        await pilot.press("escape")
        assert len(app.engine.pending_writes()) == 2  # replayed, landing at the next flush


async def test_the_crash_dialog_counts_updates_and_users(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for user in (1, 2, 2, 2):
            await app.engine.update(user, {"bio": "acknowledged"})
        await pilot.press("c")
        await wait_until(lambda: isinstance(app.screen, CrashReportScreen), "the crash report")
        assert (app.screen.lost_updates, len(app.screen.lost)) == (4, 2)


async def test_quit_with_the_database_down_keeps_an_outbox_for_the_next_start(make_app, tmp_path):
    app = make_app(policy="write-behind", queue_url="sqlite://", flush_timeout=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.engine.update(5, {"bio": "safe in the outbox"})
        exiting = at_exit(app, lambda: app.engine.running)
        await pilot.press("o", "q")  # no "lose N writes?" dialog: nothing is lost
        await wait_until(lambda: exiting, "q made the app exit")
    assert exiting == [False]  # q closed the engine, not the unmount after
    assert app.session.kept_on_exit == (1, str(tmp_path / "profiles.db.outbox"))
    with sqlite3.connect(tmp_path / "profiles.db.outbox") as outbox:
        assert outbox.execute("SELECT user_id, version FROM outbox").fetchall() == [(5, 2)]


async def test_a_deleted_database_file_is_named_and_q_writes_a_new_one(make_app, tmp_path):
    db = tmp_path / "profiles.db"
    app = make_app(policy="write-behind", flush_timeout=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.engine.update(7, {"bio": "pending when the file went"})
        os.unlink(db)
        await settle(app, pilot)
        assert "deleted" in text_of(app, "#status")
        await pilot.press("q")
        await wait_until(lambda: isinstance(app.screen, ChoiceScreen), "q offered a new file")

        def rescued() -> tuple[bool, list[tuple[int, int]]]:
            if not db.exists():
                return app.engine.running, []
            with sqlite3.connect(db) as conn:  # a real file again, every row and the write
                found = conn.execute(
                    "SELECT count(*), max(CASE WHEN user_id = 7 THEN version END) FROM profiles"
                ).fetchall()
            return app.engine.running, found

        # judged when the rescue makes the app exit: the unmount that follows closes too
        exiting = at_exit(app, rescued)
        await pilot.click("#choice-rescue")
        await wait_until(lambda: exiting, "the rescue made the app exit")
    assert exiting == [(False, [(200, 2)])]


async def test_d_cycles_the_queue_through_the_outbox_and_back(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.engine.update(3, {"bio": "pending in memory"})
        await pilot.press("D")
        await app.workers.wait_for_complete()
        assert app.engine.queue_durable  # no server was named: memory → outbox
        assert app.engine.pending_writes() == []  # drained before it moved
        await pilot.press("D")
        await app.workers.wait_for_complete()
        assert not app.engine.queue_durable  # and back to memory
