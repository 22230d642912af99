"""The verdicts on screen: the metrics strip's verdict line per policy, `v` the
violations with their evidence, enter a user's timeline, escape back."""

from __future__ import annotations

from rich.text import Text

from cachetui.app.widgets.metrics_strip import MetricsStrip
from tests.app.conftest import settle

SIZE = (160, 45)


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
