"""Compare shows each side's verdict line: what its policy cost in correctness."""

from __future__ import annotations

from textual.widgets import Static

from tests.compare.conftest import build_compare, settle

SIZE = (200, 45)


def verdict(app, index: int) -> str:
    return app.side(index).query_one(".verdict", Static).content.plain


async def test_each_side_shows_its_own_verdict():
    app = build_compare("write-behind", "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "7", "enter")
        await settle(app, pilot)
        for key in ("u", "u"):
            await pilot.press(key)
            await settle(app, pilot)
        app.engines[0].verdicts()  # judged before the crash: pending, not lost
        await app.engines[0].crash()  # side A only: its queued writes are lost
        await settle(app, pilot)
        a, b = verdict(app, 0), verdict(app, 1)
    assert a.startswith("write-behind: 2 lost · 0 stale · RYW ✓")
    assert b.startswith("write-behind: 0 lost · 0 stale · RYW ✓")
