"""Every key of the dashboard, asserting what the user sees and the engine/DB behind it."""

from __future__ import annotations

import pytest

from cachetui.app.link_keys import LINK_ACTIONS
from cachetui.app.scenario_mode import STEP_ACTIONS
from cachetui.app.screens.dialogs import ConfirmScreen, CrashReportScreen, GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.screens.help import HelpScreen
from cachetui.app.states import DARK
from cachetui.app.talk_mode import TALK_ACTIONS
from cachetui.engine import WritePolicy
from tests.app.conftest import notifications, rows, settle, text_of
from tests.conftest import db_row, db_version
from tests.waits import at_exit, wait_until

SIZE = (160, 45)


def status(app) -> str:
    return text_of(app, "#status")


@pytest.mark.parametrize(
    ("key", "policy"),
    [
        ("1", "write-through"),
        ("2", "write-behind"),
        ("3", "write-around"),
        ("0", "no-cache"),
    ],
)
async def test_number_keys_switch_policy(make_app, key, policy):
    start = "write-behind" if policy == "write-through" else "write-through"
    app = make_app(policy=start)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        assert app.engine.policy == WritePolicy(policy)
        assert policy.upper() in status(app)


async def test_p_cycles_policies(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen = []
        for _ in range(4):
            await pilot.press("p")
            await settle(app, pilot)
            seen.append(app.engine.policy.value)
        assert seen == ["write-behind", "write-around", "no-cache", "write-through"]


async def test_leaving_write_behind_drains_the_queue_on_screen(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            await pilot.press("u")
        await settle(app, pilot)
        assert rows(app, "#queue")
        await pilot.press("1")
        await settle(app, pilot)
        assert rows(app, "#queue") == {}
        assert app.engine.metrics.pending == 0
        assert any("Flushing" in n for n in notifications(app))


async def test_r_reads_and_shows_the_trace(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        [(user, cells)] = rows(app, "#cache").items()
        assert "● clean" in cells
        trace = text_of(app, "#trace")
        assert "miss" in trace and "db-read" in trace and "cache-fill" in trace
        assert app.engine.metrics.reads == 1


async def test_shift_r_bursts_100_reads(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        m = app.engine.metrics
        assert m.reads == 100 and m.hits + m.misses == 100
        assert m.db_reads < 100  # skewed keys: a user read twice is read from the DB once
        # the toast says what the engine counted: a user drawn again after its first read
        # filled the cache is a hit, even within the burst
        assert any(f"100 reads: {m.hits} hits, {m.misses} misses" in n for n in notifications(app))
        assert m.misses == m.db_reads
        await pilot.press("R")  # warm now
        await settle(app, pilot)
        first, m = m, app.engine.metrics
        assert m.reads == 200 and m.hits - first.hits > 50
        assert any(f"100 reads: {m.hits - first.hits} hits" in n for n in notifications(app))


async def test_u_under_write_behind_queues_a_dirty_write(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        [(user, queued)] = rows(app, "#queue").items()
        assert queued[1] == "2" and queued[2] == "1"  # v2 queued, the DB still has v1
        assert "◆ dirty" in rows(app, "#cache")[user]
        assert "◆ dirty" in rows(app, "#database")[user]
        assert db_version(str(tmp_path / "profiles.db"), user) == 1


async def test_shift_u_bursts_100_updates_and_coalesces(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("U")
        await settle(app, pilot)
        m = app.engine.metrics
        assert m.updates == 100 and m.coalesced > 0
        assert m.pending + m.coalesced == 100
        assert len(rows(app, "#queue")) == m.pending


async def test_g_goes_to_a_user_and_follows_it_in_every_pane(make_app):
    app = make_app(profiles=1000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, GotoScreen)
        await pilot.press("7", "7", "7", "enter")
        await settle(app, pilot)
        assert app.followed == 777
        assert rows(app, "#cache")[777][0] == "▸777"
        assert rows(app, "#database")[777][0] == "▸777"


async def test_g_with_an_unknown_user_says_so_inline(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "9", "9", "9", "9", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, GotoScreen)  # still asking: nothing was read
        assert "no user 9,999: ids run 1–200" in str(app.screen.query_one("#error").content)
        assert app.engine.metrics.reads == 0


async def test_e_edit_shows_validation_errors_inline_and_writes_nothing(make_app, tmp_path):
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        await pilot.click("#user_id")
        await pilot.press("5", "enter")
        await pilot.pause()
        before = db_row(path, 5)
        app.screen.query_one("#followers").value = "-3"
        await pilot.click("#save")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        assert "followers must be >= 0, got -3" in str(app.screen.query_one("#error").content)
        assert db_row(path, 5) == before
        app.screen.query_one("#followers").value = "1234"
        app.screen.query_one("#bio").value = "Edited in the form"
        app.screen.query_one("#bio").focus()
        await pilot.press("enter")  # enter in a field saves too
        await settle(app, pilot)
        assert not isinstance(app.screen, EditScreen), app.screen.query_one("#error").content
        row = db_row(path, 5)
        assert (row.followers, row.bio, row.version) == (1234, "Edited in the form", 2)
        assert rows(app, "#cache")[5][1] == "2"


async def test_x_external_write_leaves_the_cached_entry_stale(make_app, tmp_path):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "3", "enter")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        assert "▲ stale" in rows(app, "#cache")[3]
        assert rows(app, "#database")[3][1] == "2"
        assert rows(app, "#cache")[3][1] == "1"
        assert any("stale until invalidated (i; no TTL set)" in n for n in notifications(app))


async def test_f_flushes_the_queue(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u", "u")
        await settle(app, pilot)
        queued = rows(app, "#queue")
        await pilot.press("f")
        await settle(app, pilot)
        assert rows(app, "#queue") == {}
        for user, cells in queued.items():
            assert db_version(str(tmp_path / "profiles.db"), user) == int(cells[1])
            assert "● clean" in rows(app, "#database")[user]
        assert any("flushed" in n for n in notifications(app))


async def test_c_crash_names_the_lost_writes(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u")
        await settle(app, pilot)
        queued = {user: int(cells[1]) for user, cells in rows(app, "#queue").items()}
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen)
        assert app.screen.lost == sorted(queued.items())
        assert app.engine.metrics.lost_writes == len(queued)
        await pilot.press("escape")
        await settle(app, pilot)
        assert rows(app, "#cache") == {} and rows(app, "#queue") == {}


async def test_o_outage_fails_write_through_and_shows_in_the_header(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert "DB down" in status(app)
        await pilot.press("u")
        await settle(app, pilot)
        assert any("database is down" in n for n in notifications(app))
        assert app.engine.metrics.failed_updates == 1
        await pilot.press("o")
        await settle(app, pilot)
        assert "DB down" not in status(app)


async def test_o_outage_is_ridden_out_by_write_behind(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")  # warm the cache: updates need no DB read
        await settle(app, pilot)
        await pilot.press("o")
        cached = sorted(rows(app, "#cache"))
        for user in cached[:3]:
            app.action_update(user)
        await settle(app, pilot)
        assert app.engine.metrics.updates == 3 and app.engine.metrics.failed_updates == 0
        assert len(rows(app, "#queue")) == 3


async def test_l_cycles_db_latency(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen = []
        for _ in range(4):
            await pilot.press("l")
            seen.append(app.engine.faults.db_latency)
        assert seen == [0.01, 0.1, 1.0, 0.0]
        await pilot.press("l")
        await settle(app, pilot)
        assert "DB latency 10 ms" in status(app)


async def test_w_runs_a_workload_and_keys_adjust_it(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "plus")
        assert app.workload.rate == 1000
        await pilot.press("minus")
        assert app.workload.rate == 200
        await pilot.press("m")
        assert app.workload.read_ratio == 0.5
        await pilot.press("k")
        assert app.workload.skew == 0.0
        await pilot.press("w")
        await wait_until(lambda: app.workload.running, "w started the workload")
        await settle(app, pilot)
        assert "/s of 200 target" in status(app)  # achieved (– until measured) vs target

        def operations() -> int:
            m = app.engine.metrics
            return m.reads + m.updates

        await wait_until(lambda: operations() > 20, "the workload read and updated")
        await pilot.press("w")
        await settle(app, pilot)
        assert not app.workload.running
        done = operations()
        await settle(app, pilot)
        assert operations() == done  # stopped: nothing more is fired


async def test_question_mark_opens_help(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_q_flushes_pending_writes_then_quits(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u", "u")
        await settle(app, pilot)
        queued = {user: int(cells[1]) for user, cells in rows(app, "#queue").items()}
        assert queued
        db = str(tmp_path / "profiles.db")
        # judged when q makes the app exit: the unmount that follows flushes too
        exiting = at_exit(app, lambda: (app.engine.running, {u: db_version(db, u) for u in queued}))
        await pilot.press("q")
        await wait_until(lambda: exiting, "q made the app exit")
    assert exiting == [(False, queued)]  # closed, every queued write in the database


async def test_q_with_the_db_down_asks_before_losing_writes(make_app, tmp_path):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u")
        await settle(app, pilot)
        pending = app.engine.metrics.pending
        await pilot.press("o", "q")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), "q asked")
        assert f"{pending} acknowledged" in app.screen.message
        await pilot.press("n")  # stay
        await wait_until(lambda: any("still running" in n for n in notifications(app)), "stay")
        assert app.engine.running and app.engine.metrics.pending == pending
        assert app.engine.metrics.lost_writes == 0
        # judged when y makes the app exit: the unmount that follows discards them too
        exiting = at_exit(app, lambda: (app.engine.running, app.engine.metrics.lost_writes))
        await pilot.press("q")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), "q asked again")
        await pilot.press("y")
        await wait_until(lambda: exiting, "y made the app exit")
    assert exiting == [(False, pending)]


async def test_every_binding_is_in_the_command_palette(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for binding in app.BINDINGS:
            if binding.action in STEP_ACTIONS:  # those: only inside a scenario
                continue
            if binding.action in (*LINK_ACTIONS, *TALK_ACTIONS):  # with a link / in talk mode
                assert not any(t.startswith(binding.description) for t in titles), binding
                continue
            assert any(t.startswith(binding.description) for t in titles), binding


async def test_a_row_that_only_changes_state_is_recoloured(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "2", "enter")  # user 2 is in the Database pane, clean
        await settle(app, pilot)
        table = app.query_one("#database")
        assert DARK.ok in str(table.row_cells(2)[1].style)  # clean
        await pilot.press("u")  # same DB row, now dirty: only its colour changes
        await settle(app, pilot)
        assert rows(app, "#database")[2][1] == "1"
        assert DARK.pending in str(table.row_cells(2)[1].style)  # dirty
