"""The panes' contents from one engine snapshot (app/pane_contents.py), and numbers that
are never cut short (issue 32 item 4): a narrow pane drops whole columns, a title
abbreviates its count."""

from __future__ import annotations

from textual.app import App, ComposeResult

from cachetui.app.pane_contents import (
    Look,
    PaneContent,
    compare_contents,
    dashboard_contents,
    database_rows,
)
from cachetui.app.widgets.panes import DatabasePane
from cachetui.app.widgets.table_columns import longest_fitting
from cachetui.engine import Engine, EngineConfig, KeyState, Profile


async def test_a_title_abbreviates_its_count_rather_than_be_cut(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"), policy="write-behind")) as e:
        await e.seed(20)
        await e.update(3, {"bio": "queued"})
        shot = await e.pane_snapshot()
    flush = ("flush every 2s", "flush 2s")
    board = dashboard_contents(
        shot, Look(), listed=100, first=(), db_rows=60, flush=flush, total_rows=120_000
    )
    assert longest_fitting(board.database.titles, 40) == "Database 120,000 rows"
    assert longest_fitting(board.database.titles, 16) == "DB 120,000"
    assert longest_fitting(board.database.titles, 13) == "DB 120k"  # not "DB 120,0…"
    side = compare_contents(shot, Look(), listed=40, db_rows=20, total_rows=120_000)
    assert longest_fitting(side.database.titles, 13) == "DB 120k"
    assert longest_fitting(side.queue.titles, 10) == "Q 1"
    # the snapshot's one count: the queue's title says what the queue lists
    assert [user for user, _ in board.queue.rows] == [3]
    assert longest_fitting(board.queue.titles, 40) == "Write queue 1"


class NarrowApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DatabasePane(id="database")


def profile(user: int, version: int) -> Profile:
    return Profile(user, "Ada", "", "", 0, version, "2026-09-21T00:00:00.000000Z")


async def test_a_narrow_pane_drops_whole_columns_rather_than_cut_a_number():
    """Trial finding: at 60×15 the DB pane showed 9059 for version 90596 (later 9…). A
    pane too narrow for a number now leaves its column out, whole."""
    app = NarrowApp()
    async with app.run_test(size=(15, 8)) as pilot:
        pane = app.query_one(DatabasePane)
        small = [profile(7, 3)]
        pane.show(PaneContent(database_rows(small, {7: KeyState.CLEAN}), ("DB",)))
        await pilot.pause()
        assert pane.shown_columns == ["user", "v"]  # they fit: the version is shown
        big = [profile(11_998, 90_596)]
        pane.show(PaneContent(database_rows(big, {11_998: KeyState.CLEAN}), ("DB",)))
        await pilot.pause()
        assert pane.shown_columns == ["user"]  # 90596 does not fit: left out, not cut
        assert pane.render_line(1).text.split() == ["11998"]
