"""`cachetui compare`: every key goes to both engines; faults and crashes show the two
policies' different outcomes side by side."""

from __future__ import annotations

from textual.widgets import Input

from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.engine import WritePolicy
from tests.compare.conftest import build_compare, outcome, settle
from tests.waits import wait_until

#: The projector size the issue asks to be readable (and a third of 160×45's painting).
SIZE = (100, 30)


async def test_each_key_goes_to_both_engines_in_the_same_order():
    app = build_compare()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r", "R", "u", "U", "x")
        await settle(app, pilot)
        await pilot.press("g")  # go to user 42: read it and follow it
        await wait_until(lambda: isinstance(app.screen, GotoScreen), "g asked for a user")
        await pilot.press("4", "2", "enter")
        await settle(app, pilot)
        assert app.followed == 42
        await pilot.press("e")  # edit the followed user: a new name, saved on both
        await wait_until(lambda: isinstance(app.screen, EditScreen), "e opened the form")
        app.screen.query_one("#name", Input).value = "Ada Compare"
        app.screen.query_one("#name", Input).focus()
        await pilot.press("enter")
        await wait_until(lambda: not isinstance(app.screen, EditScreen), "enter saved")
        await settle(app, pilot)
        a, b = app.mirror.lanes
        keyed = a.stats.started
        await pilot.press("w")  # the workload: its operations go to both
        await wait_until(lambda: a.stats.started > keyed + 10, "the workload's operations")
        await pilot.press("w")
        await settle(app, pilot)
        assert list(a.log) == list(b.log)
        kinds = {kind for _, kind, _ in a.log}
        assert kinds == {"read", "update", "external"}
        assert a.stats.started == b.stats.started > 2 * 100 + 3  # two bursts, keys, workload
        ma, mb = a.engine.metrics, b.engine.metrics
        assert (ma.reads, ma.updates, ma.external_writes) == (
            mb.reads,
            mb.updates,
            mb.external_writes,
        )
        await b.engine.flush()
        for lane in (a, b):
            assert (await lane.engine.db_rows([42]))[42].name == "Ada Compare"


async def test_an_outage_and_a_crash_show_the_two_outcomes_side_by_side():
    """An outage: write-through fails the caller, write-behind acknowledges and the write
    lands once the DB is back. A crash: write-through loses nothing, write-behind loses
    what it had acknowledged and not yet written."""
    app = build_compare()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await wait_until(lambda: isinstance(app.screen, GotoScreen), "g asked for a user")
        await pilot.press("7", "enter")
        await settle(app, pilot)
        through, behind = app.engines
        await pilot.press("l", "L", "O")  # every fault goes to both sides
        for engine in app.engines:
            faults = engine.faults
            assert (faults.db_latency, faults.db_error_rate, faults.cache_down) == (0.01, 0.1, True)
        await pilot.press("l", "l", "l", "L", "L", "O")  # and back off
        for engine in app.engines:
            faults = engine.faults
            assert (faults.db_latency, faults.db_error_rate, faults.cache_down) == (0, 0, False)
        await pilot.press("o", "u")
        await settle(app, pilot)
        assert "Update of user 7 failed" in outcome(app, 0)
        assert through.metrics.failed_updates == 1
        assert "acknowledged" in outcome(app, 1)
        assert [w.user_id for w in behind.pending_writes()] == [7]
        assert "1 write at risk on write-behind" in str(app.query_one("#difference").content)
        await pilot.press("o", "f")  # the DB is back: the acknowledged write lands
        await settle(app, pilot)
        assert behind.pending_writes() == []
        assert (await behind.db_rows([7]))[7].version == (await through.db_rows([7]))[7].version + 1
        await pilot.press("u", "u", "c")
        await settle(app, pilot)
        assert "nothing lost" in outcome(app, 0)
        assert "2 acknowledged updates of 1 user lost" in outcome(app, 1)  # user 7's two
        assert (through.metrics.lost_writes, behind.metrics.lost_writes) == (0, 2)


async def test_the_same_policy_with_a_durable_queue_keeps_its_writes_over_a_crash(tmp_path):
    app = build_compare(
        "write-behind",
        "write-behind",
        db_a=str(tmp_path / "a.db"),
        db_b=str(tmp_path / "b.db"),
        queue_b="sqlite://",
    )
    assert app.label_b == f"{WritePolicy.WRITE_BEHIND} (sqlite://)"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u", "c")
        await settle(app, pilot)
        assert "2 acknowledged updates of 2 users lost" in outcome(app, 0)
        assert "replayed from the durable queue" in outcome(app, 1)


async def test_a_side_and_the_difference_line_agree_on_its_pending_writes():
    """Trial finding: under load the write-behind side said "pending 156" while the
    difference line said "52 writes at risk": the halves repaint in turn and the line read
    the engine later. Both now come from the side's one snapshot."""
    app = build_compare("write-through", "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        behind = app.engines[1]
        for user in range(1, 4):
            await behind.update(user, {"bio": "queued"})
        await app.refresh_view()  # both halves see 3 pending
        for user in range(4, 10):  # the queue grows; only the other half repaints
            await behind.update(user, {"bio": "queued later"})
        await app.refresh_view((0,))
        shown = str(app.side(1).query_one(".side-metrics").content)
        line = str(app.query_one("#difference").content)
        assert "pending 3" in " ".join(shown.split()) and "3 writes at risk" in line, (shown, line)
        await app.refresh_view((1,))  # its turn: both move together
        shown = str(app.side(1).query_one(".side-metrics").content)
        line = str(app.query_one("#difference").content)
        assert "pending 9" in " ".join(shown.split()) and "9 writes at risk" in line, (shown, line)


async def test_pending_and_writes_at_risk_agree_under_a_running_workload():
    """Issue 32 item 4: with the workload running and the halves repainting in turn (as
    the timer does), the write-behind side's queue title, its "pending" and the
    difference line's "writes at risk" name the same count at every repaint."""
    import re
    import time

    from cachetui.app.widgets.panes import QueuePane

    app = build_compare("write-through", "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        assert app.workload is not None and app.workload.running
        seen: set[int] = set()
        deadline = time.monotonic() + 15  # a bound: it ends once the queue moved
        side = 0
        while len(seen) < 4 and time.monotonic() < deadline:
            await app.refresh_view((side,))  # one half per tick, in turn
            side = 1 - side
            half = app.side(1)
            if half.snapshot is None:
                continue
            title = str(half.query_one(QueuePane).border_title)
            metrics = " ".join(str(half.query_one(".side-metrics").content).split())
            line = str(app.query_one("#difference").content)
            queued = re.search(r"[Qq]ueue ([\d,]+)", title)
            pending = re.search(r"pending ([\d,]+)", metrics)
            at_risk = re.search(r"([\d,]+) writes? at risk", line)
            assert queued and pending, (title, metrics)
            risk = at_risk.group(1) if at_risk else "0"  # none at risk: not said
            counts = {queued.group(1), pending.group(1), risk}
            assert len(counts) == 1, (title, metrics, line)
            seen.add(int(counts.pop().replace(",", "")))
            await pilot.pause(0.02)  # the workload's turn
        await pilot.press("w")
        assert len(seen) >= 4, seen  # the queue grew while the halves repainted
