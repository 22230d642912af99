"""What a new-user trial found in the dashboard, each checked as the user would see it:
whole ids and versions, rates that follow the sparklines, the followed row in view, an
edit form that saves where its id says, inline errors in go-to, the workload header, the
crash dialog, and the wording."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from textual.widgets import Input, Label

from cachetui.app.screens.dialogs import CrashReportScreen, GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.screens.help import HelpScreen
from cachetui.app.widgets.key_table import KeyTable
from tests.app.conftest import build_app, notifications, rows, settle, text_of
from tests.conftest import db_row, db_version
from tests.waits import wait_until

SIZE = (160, 45)
SIZES = [(160, 45), (100, 30), (80, 24)]
PANES = ("#cache", "#queue", "#database")


def in_view(table: KeyTable, user: int) -> bool:
    """``user``'s row is on screen (below the header, within the pane's height)."""
    index = table.row_index(user)
    assert index is not None
    top = int(table.scroll_offset.y)
    shown = table.scrollable_content_region.height - table.header_height
    return top <= index < top + shown


def numbers(app) -> str:
    return " ".join(text_of(app, "#numbers").split())


# -- 1: ids and versions are never cut ---------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_six_digit_ids_and_four_digit_versions_are_shown_whole(make_app, size):
    app = make_app(profiles=100_000, policy="write-behind")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for _ in range(1216):  # v1217, coalesced into one pending write
            await app.engine.update(99_999, {"followers": 5})
        await pilot.press("g", *"99999", "enter")
        await settle(app, pilot)
        await pilot.press("g", *"100000", "enter")
        await settle(app, pilot)
        assert app.followed == 100_000
        for pane in PANES:
            table = app.query_one(pane, KeyTable)
            shown = rows(app, pane)
            assert 99_999 in shown, pane
            for index, (key, width) in enumerate(table.column_widths.items()):
                if key not in ("user", "v", "db v"):
                    continue
                widest = max(cell_len(cells[index]) for cells in shown.values())
                assert width >= widest, (pane, key)
        assert rows(app, "#queue")[99_999][:2] == [" 99999", "1217"]
        assert rows(app, "#database")[100_000][0] == "▸100000"


# -- 2: the rates shown are the latest sample --------------------------------------------------
async def test_rates_show_the_latest_sample_as_the_sparkline_labels_do(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.refresher.sample()  # the live app samples once a second; tests call it
        await pilot.press("U")
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.pause()
        updates = app.refresher.rates.updates
        assert updates > 0 and f"updates/s {updates:,.0f}" in numbers(app)
        ops = app.refresher.rates.reads + app.refresher.rates.updates
        assert str(app.query_one("#ops-label", Label).content) == f"ops/s {ops:5.0f}"
        app.refresher.sample()  # a quiet second, no repaint: the rates drop to zero on screen too
        await pilot.pause()
        assert "updates/s 0 " in numbers(app) + " " and app.refresher.rates.updates == 0


async def test_rates_move_during_a_scenario_step(tmp_path):
    app = build_app(str(tmp_path / "profiles.db"), policy="write-behind")
    app.scenario_mode.initial = "write-behind"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.press("space")  # the step's reads run; the metrics were reset at start
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.pause()
        assert app.refresher.rates.reads > 0
        assert f"reads/s {app.refresher.rates.reads:,.0f}" in numbers(app)
        await pilot.press("space")
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.press("b")  # back: the metrics restart at zero, step 1 is replayed
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.pause()
        assert app.refresher.rates.reads > 0  # counted from the reset, never negative
        assert f"reads/s {app.refresher.rates.reads:,.0f}" in numbers(app)


# -- 3: following scrolls the followed row into view -------------------------------------------
async def test_g_scrolls_the_followed_row_into_view_in_every_pane(make_app):
    app = make_app(profiles=1000, policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key in ["R", "U"]:
            await pilot.press(key)
            await settle(app, pilot)
        for pane in PANES:  # the cursor at the bottom of every pane
            table = app.query_one(pane, KeyTable)
            table.move_cursor(table.row_count - 1)
        await pilot.pause()
        queued = sorted(rows(app, "#queue"))[0]
        for user in (queued, 1):
            await pilot.press("g", *str(user), "enter")
            await settle(app, pilot)
            assert app.followed == user
            for pane in PANES:
                table = app.query_one(pane, KeyTable)
                if user in table.users:
                    assert in_view(table, user), (pane, user)
                    assert table.user_at_cursor() == user, (pane, user)
            assert in_view(app.query_one("#database", KeyTable), user)
            assert in_view(app.query_one("#cache", KeyTable), user)


# -- 4: the edit form saves to the user its id names, and shows every error --------------------
async def open_edit(app, pilot, user: int) -> EditScreen:
    await pilot.press("g", *str(user), "enter")
    await settle(app, pilot)
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(app.screen, EditScreen)
    return app.screen


async def test_edit_never_saves_to_a_user_its_id_field_does_not_name(make_app, tmp_path):
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = await open_edit(app, pilot, 1)
        before = db_row(path, 1), db_row(path, 2)
        form.query_one("#user_id", Input).value = "2"  # changed, enter not pressed
        form.query_one("#bio", Input).value = "meant for user 2"
        await pilot.pause()
        error = str(form.query_one("#error").content)
        assert "holds user 1" in error and "user 2" in error
        await pilot.click("#save")
        await pilot.pause()
        assert app.screen is form and (db_row(path, 1), db_row(path, 2)) == before
        assert "nothing saved" in str(form.query_one("#error").content)
        assert form.query_one("#user_id").has_class("-invalid")
        form.query_one("#user_id", Input).focus()
        await pilot.press("enter")  # loads user 2: the form and its id agree again
        await pilot.pause()
        assert form.current.user_id == 2 and str(form.query_one("#error").content) == ""
        form.query_one("#bio", Input).value = "meant for user 2"
        await pilot.click("#save")
        await settle(app, pilot)
        assert not isinstance(app.screen, EditScreen)
        assert db_row(path, 2).bio == "meant for user 2" and db_row(path, 1) == before[0]


async def test_edit_shows_every_field_error_at_once(make_app, tmp_path):
    path = str(tmp_path / "profiles.db")
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = await open_edit(app, pilot, 5)
        before = db_row(path, 5)
        form.query_one("#bio", Input).value = "x" * 300
        form.query_one("#followers", Input).value = "-3"
        await pilot.click("#save")
        await pilot.pause()
        error = str(form.query_one("#error").content)
        assert "bio must be" in error and "got 300" in error
        assert "followers must be >= 0, got -3" in error
        assert form.query_one("#bio").has_class("-invalid")
        assert form.query_one("#followers").has_class("-invalid")
        assert not form.query_one("#name").has_class("-invalid")
        assert db_row(path, 5) == before


# -- 5: go-to validates inline -----------------------------------------------------------------
async def test_goto_shows_inline_errors_for_out_of_range_ids_and_letters(make_app):
    app = make_app(profiles=1000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, GotoScreen)
        await pilot.press(*"5000")
        await pilot.pause()
        assert "no user 5,000: ids run 1–1,000" in str(dialog.query_one("#error").content)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and app.engine.metrics.reads == 0
        dialog.query_one("#user-id", Input).value = ""
        await pilot.press("a", "b")
        await pilot.pause()
        assert dialog.query_one("#user-id", Input).value == "ab"  # not swallowed
        assert "a user id is a number (1–1,000)" in str(dialog.query_one("#error").content)
        assert dialog.query_one("#user-id").has_class("-invalid")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        dialog.query_one("#user-id", Input).value = "7"
        await pilot.pause()
        assert str(dialog.query_one("#error").content) == ""
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.followed == 7 and not isinstance(app.screen, GotoScreen)


# -- 7: the workload header says target and achieved -------------------------------------------
async def test_workload_header_shows_achieved_and_target_rates_and_uniform_keys(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("k")  # skew 0
        assert app.workload.skew == 0
        await pilot.press("w")
        await pilot.pause()
        status = text_of(app, "#status")
        assert "▶ workload –/s of 50 target" in status and "uniform" in status
        assert "zipf 0" not in status
        assert any("uniform" in n for n in notifications(app))
        await wait_until(lambda: app.workload.achieved is not None, "the rate was measured")
        app.refresher.sample()  # once a second when live
        status = text_of(app, "#status")
        achieved = re.search(r"▶ workload ([\d,]+)/s of 50 target · 80% reads · uniform", status)
        assert achieved, status
        assert 0 < int(achieved.group(1).replace(",", "")) <= 200
        await pilot.press("w")
        await settle(app, pilot)
        assert "▶ workload" not in text_of(app, "#status")


# -- 8: the crash dialog closes with enter, and the trace forgets the old operation ------------
async def test_crash_dialog_closes_with_enter_and_the_trace_shows_the_crash(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u")
        await settle(app, pilot)
        assert app.query_one("#trace").border_subtitle
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen) and app.screen.lost
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, CrashReportScreen)
        trace = text_of(app, "#trace")
        assert "crash" in trace and "acknowledged writes lost" in trace
        assert app.query_one("#trace").border_subtitle == "crash"


async def test_crash_dialog_with_nothing_lost_closes_with_enter(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen) and not app.screen.lost
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, CrashReportScreen)


# -- 9: the event log wraps under its detail column --------------------------------------------
async def test_event_log_wraps_long_lines_under_the_detail_column(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "3", "enter")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        log = app.query_one("#log")
        lines = [strip.text.rstrip() for strip in log.lines]
        kinds = [line for line in lines if line and not line.startswith(" ")]
        continued = [line for line in lines if line.startswith(" ")]
        assert continued, lines  # something wrapped at this width
        assert all(line.startswith(" " * 13) for line in continued), lines
        assert any(line.startswith("external") for line in kinds)


# -- 10, 11: wording ---------------------------------------------------------------------------
async def test_a_stale_hit_says_what_the_database_has(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "3", "enter")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        assert any("stale until invalidated (i; no TTL set)" in n for n in notifications(app))
        await pilot.press("r")
        await settle(app, pilot)
        title = app.query_one("#trace").border_subtitle
        assert title == "read user 3 v1: hit (stale: DB has v2)"
        assert rows(app, "#cache")[3][3] == "▲ stale"


async def test_cache_pane_counts_uses_and_help_explains_them(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "uses" in app.query_one("#cache", KeyTable).shown_columns
        await pilot.press("question_mark")
        await wait_until(lambda: isinstance(app.screen, HelpScreen), "? opened the help")
        await pilot.pause()  # its text is mounted
        markdown = app.screen.query_one("Markdown")
        source = markdown.source
        assert "**uses**" in source and "reads" in source and "updates" in source
        assert "never disagree" not in source


async def test_a_one_step_scenario_says_1_step(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text('title = "Edge"\n[[step]]\nnarration = "{reads:read}."\nactions = ["read 3"]')
    app = build_app(str(tmp_path / "profiles.db"))
    app.scenario_mode.initial = str(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        banner = text_of(app, "#scenario-banner")
        assert "Edge  ·  1 step " in banner + " " and "1 steps" not in banner
        assert db_version(str(tmp_path / "profiles.db"), 3) == 1


async def test_the_edit_form_scrolls_to_its_buttons_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        dialog = app.screen.query_one(".dialog")
        for _ in range(10):
            if app.focused is not None and app.focused.id == "save":
                break
            await pilot.press("tab")
            await pilot.pause()
        assert app.focused.id == "save"
        assert dialog.max_scroll_y == 0  # one line a field: it all fits, nothing to scroll
        assert app.focused.region.bottom <= 24


async def test_knob_notices_replace_each_other(make_app):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            await pilot.press("plus")
            await pilot.pause()
        await pilot.press("m")
        await settle(app, pilot)
        notices = [n for n in notifications(app) if n.startswith("Setting:")]
        assert len(notices) == 1 and "workload mix" in notices[0]


async def test_the_crash_dialog_shows_close_at_80x24(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("U")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen) and len(app.screen.lost) > 5
        assert app.screen.query_one("#close").region.bottom <= 24


@pytest.mark.parametrize("dialog", ["g", "question_mark", "e"])
async def test_under_a_dialog_the_dashboard_keeps_still_and_keeps_its_points(make_app, dialog):
    """Textual redraws a dialog's dimmed background from the whole screen beneath at each
    change of it (60-250 ms under load): the numbers wait, the points are kept."""
    from textual.widgets import Sparkline

    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.press(dialog)
        await pilot.pause()
        await pilot.pause()
        assert len(app.screen_stack) == 2
        spark = app.query_one("#ops-spark", Sparkline)
        drawn, label = list(spark.data or []), str(app.query_one("#ops-label", Label).content)
        for _ in range(2):
            await app.engine.update(3, {"bio": "typed while the dialog is open"})
            app.refresher.sample()
        await pilot.pause()
        assert list(spark.data or []) == drawn  # nothing beneath the dialog changed
        assert str(app.query_one("#ops-label", Label).content) == label
        await pilot.press("escape")
        await settle(app, pilot)
        app.refresher.sample()
        await pilot.pause()
        # the two seconds under the dialog (an update each), then this one: three points
        now = list(spark.data or [])
        assert now[:-3] == drawn[3:] and now[-3] > 0 and now[-2] > 0


async def test_a_pane_listing_part_of_a_long_queue_or_a_big_cache_says_so(make_app):
    app = make_app(policy="write-behind", capacity=300)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for user in range(1, 151):  # queued (tests flush by hand) and cached
            await app.engine.update(user, {"bio": "one of many"})
        await app.refresh_view()
        await pilot.pause()
        queue = app.query_one("#queue", KeyTable)
        cache = app.query_one("#cache", KeyTable)
        assert len(queue.users) == 100 and len(cache.users) == 100
        assert str(queue.border_title) == "Write queue 150 · first 100 listed"
        assert "Cache 150/300 · youngest 100 listed" in str(cache.border_title)


async def test_the_header_keeps_the_workload_rate_at_80_columns(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        assert app.workload is not None and app.workload.running
        assert re.search(r"▶ workload \S+/s of [\d,]+", text_of(app, "#status"))
        await pilot.press("w")
        await settle(app, pilot)


async def test_the_event_log_stays_where_it_was_scrolled_to(make_app):
    from cachetui.app.widgets.activity import EventLog

    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        log = app.query_one("#log", EventLog)
        for _ in range(3):  # enough lines to scroll
            await pilot.press("U")
            await settle(app, pilot)
        assert log.max_scroll_y > 5 and log.scroll_y == log.max_scroll_y  # it follows
        log.scroll_to(y=2, animate=False, immediate=True)
        await pilot.press("U")
        await settle(app, pilot)
        assert log.scroll_y == 2 < log.max_scroll_y  # someone reading: it stays
        log.scroll_end(animate=False, immediate=True)
        await pilot.press("U")
        await settle(app, pilot)
        assert log.scroll_y == log.max_scroll_y  # at the end again: it follows again
