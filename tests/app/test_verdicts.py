"""The verdicts on screen: the metrics strip's verdict line per policy, `v` the
violations with their evidence, enter a user's timeline, escape back."""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.widgets import OptionList, Static

from cachetui.app.screens.verdicts import TimelineScreen, VerdictsScreen
from cachetui.app.widgets.metrics_strip import MetricsStrip
from cachetui.engine import Violation
from cachetui.engine.history.timeline import CACHE, DATABASE, QUEUE, Mark, Timeline
from tests.app.conftest import settle

SIZE = (160, 45)
STORES = (CACHE, QUEUE, DATABASE)


def verdict_line(app) -> str:
    title = app.query_one("#metrics", MetricsStrip).border_title or ""
    return Text.from_markup(title).plain


async def _follow(app, pilot, user: int) -> None:
    await pilot.press("g", *str(user), "enter")
    await settle(app, pilot)


async def test_write_through_reads_and_updates_show_nothing_wrong(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _follow(app, pilot, 7)
        for key in ("u", "r", "u", "r", "R"):
            await pilot.press(key)
            await settle(app, pilot)
        line = verdict_line(app)
    assert "write-through: 0 lost · 0 stale · RYW ✓" in line


async def test_write_around_with_external_writes_shows_its_stale_reads(make_app):
    app = make_app(policy="write-around")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _follow(app, pilot, 7)  # read: cached
        for key in ("x", "x", "r", "r"):  # two external writes, then two cached reads
            await pilot.press(key)
            await settle(app, pilot)
        line = verdict_line(app)
        await pilot.press("M")  # reset with the metrics
        await settle(app, pilot)
        after = verdict_line(app)
    assert "write-around: 0 lost · 2 stale (≤ 2 writes, ≤ " in line and "ms behind)" in line
    assert "write-around: 0 lost · 0 stale · RYW ✓" in after


async def test_a_reset_never_hides_a_lost_write(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _follow(app, pilot, 7)
        for key in ("u", "u", "c", "escape"):  # two writes queued, a crash loses them
            await pilot.press(key)
            await settle(app, pilot)
        before = verdict_line(app)
        await pilot.press("M")  # a reset: the stale counts start again, not the lost
        await settle(app, pilot)
        line = verdict_line(app)
    assert "write-behind: 2 lost · 0 stale" in before
    assert "write-behind: 2 lost · 0 stale" in line and app.engine.metrics.reads == 0


async def test_v_lists_violations_enter_opens_a_timeline_escape_goes_back(make_app):
    app = make_app(policy="write-around")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _follow(app, pilot, 7)
        for key in ("x", "x", "r"):
            await pilot.press(key)
            await settle(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, VerdictsScreen)
        listed = app.screen.query_one("#violations", OptionList)
        first = listed.get_option_at_index(0).prompt.plain
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        timeline = app.screen.timeline
        drawn = app.screen.query_one("#timeline", Static).content.plain
        await pilot.press("escape")
        await pilot.pause()
        back = app.screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
    assert isinstance(back, VerdictsScreen)
    assert first.startswith("stale read · write-around · user 7, keyboard · 2 writes")
    assert "read v1 by keyboard" in first and "external v3 by external" in first
    assert timeline.user == 7 and timeline.lanes == ("keyboard", "external", *STORES)
    assert "R v1 ✗" in drawn and "X v3 ✗" in drawn and "DB v3 ext" in drawn


def test_timeline_snapshot(snap_compare):
    """A fixed timeline: a write-around read that missed two external writes."""
    ms = 1_000_000
    marks = (
        Mark("keyboard", 0, 2 * ms, "read", 1),
        Mark("cache", 1 * ms, 1 * ms, "fill", 1),
        Mark("external", 5 * ms, 6 * ms, "external", 2, evidence=True),
        Mark("database", 6 * ms, 6 * ms, "landing", 2, "ext"),
        Mark("workload-0", 7 * ms, 9 * ms, "update", 3),
        Mark("database", 8 * ms, 8 * ms, "landing", 3, "tx 4"),
        Mark("cache", 8 * ms, 8 * ms, "drop", None),
        Mark("keyboard", 10 * ms, 12 * ms, "read", 1, evidence=True),
        Mark("[bold red]caller", 13 * ms, 13 * ms, "read", 3),
    )
    lanes = ("keyboard", "external", "workload-0", "[bold red]caller", *STORES)
    violation = Violation(
        "stale", 7, "write-around", False,
        [{"type": "op", "op": "read", "version": 1, "caller": "keyboard", "outcome": "ok",
          "write_id": None, "op_id": 9}],
        "keyboard", 2, 8.0,
    )  # fmt: skip

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(TimelineScreen(Timeline(7, lanes, marks), violation))

    assert snap_compare(Host(), terminal_size=(120, 30))
