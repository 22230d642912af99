"""Giving a talk: the layout at projector sizes, the z focus toggle, the light theme,
exporting the screen and the metrics."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.color import Color
from textual.command import CommandList, CommandPalette
from textual.theme import BUILTIN_THEMES
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

from cachetui.app.export import FIELDS, MetricsHistory, MetricsSample, write_export
from cachetui.app.screens.export import ExportScreen
from cachetui.app.states import DARK, LIGHT, Palette, palette_for
from cachetui.app.widgets.footer import key_width
from cachetui.app.widgets.key_table import Column, KeyTable, fit_columns
from cachetui.app.widgets.metrics_strip import Rates
from cachetui.app.widgets.status import fit_line, part
from cachetui.engine import MetricsSnapshot
from tests.app.conftest import build_app, notifications, rows, settle, text_of
from tests.waits import wait_until

SIZES = [(160, 45), (100, 30), (80, 24)]
#: What each pane keeps at each size (the rest is dropped to fit, never cut).
COLUMNS = {
    (160, 45): {
        "#cache": ["user", "v", "name", "state", "uses", "age"],
        "#queue": ["user", "v", "db v", "coal.", "age", "retry", "in-flight"],
        "#database": ["user", "v", "name", "state", "updated"],
    },
    (100, 30): {
        "#cache": ["user", "v", "state"],
        "#queue": ["user", "v", "db v", "coal.", "retry"],
        "#database": ["user", "v", "state"],
    },
    (80, 24): {
        "#cache": ["user", "v", "state"],
        "#queue": ["user", "v", "db v", "coal."],
        "#database": ["user", "v", "state"],
    },
}
BLOCKS = ["#status", "#panes", "#metrics", "#activity", "Footer"]


async def busy(app, pilot) -> None:
    """Reads, a burst, a few write-behind updates: every pane has rows."""
    await settle(app, pilot)
    for key in ["R", "u", "u", "u", "r"]:
        await pilot.press(key)
        await settle(app, pilot)


def footer_width(app) -> int:
    footer = app.query_one(Footer)
    return sum(key_width(k, footer.compact) for k in footer.query(FooterKey))


def pane_height(app, pane: str) -> int:
    return app.query_one(pane).outer_size.height


# -- layout at projector sizes ---------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_size_is_complete_and_nothing_overlaps(make_app, size):
    app = make_app(policy="write-behind")  # a long tmp_path db path in the header
    async with app.run_test(size=size) as pilot:
        await busy(app, pilot)
        width, height = size
        regions = [app.query_one(selector).region for selector in BLOCKS]
        for region in regions:
            assert region.width == width and region.height > 0
        for upper, lower in zip(regions, regions[1:], strict=False):
            assert upper.bottom <= lower.y  # stacked, never overlapping
        assert regions[-1].bottom == height
        # the three panes side by side, each with the columns it keeps at this size
        panes = [app.query_one(p, KeyTable) for p in COLUMNS[size]]
        assert sum(p.outer_size.width for p in panes) == width
        for pane, expected in zip(panes, COLUMNS[size].values(), strict=True):
            assert pane.shown_columns == expected, pane.id
            assert pane.virtual_size.width <= pane.scrollable_content_region.width + 1
            assert pane_height(app, f"#{pane.id}") >= 8
        # the header: two lines that fit, with the policy and the whole legend
        status = text_of(app, "#status").splitlines()
        assert len([line for line in status if line.strip()]) == 2
        assert all(cell_len(line.rstrip()) <= width - 2 for line in status)
        assert "WRITE-BEHIND" in status[0]
        legend = "● clean  ◆ dirty  ▲ stale  ✖ orphaned  ○ uncached  ⊘ rejected  ≠ conflict"
        assert legend in status[1]
        # the footer fits and keeps the keys a demo needs
        assert footer_width(app) <= width
        shown = {k.key for k in app.query_one(Footer).query(FooterKey)}
        assert {"1", "2", "3", "r", "u", "c", "o", "question_mark", "q"} <= shown
        # border titles are whole
        for pane in panes:
            assert "…" not in str(pane.border_title) + str(pane.border_subtitle)


async def test_narrow_panes_keep_the_state_as_its_symbol(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("R", "u")
        await settle(app, pilot)
        [(user, queued)] = rows(app, "#queue").items()
        assert rows(app, "#cache")[user] == [f" {user}", queued[1], "◆"]
        assert rows(app, "#database")[user][2] == "◆"
        await pilot.resize_terminal(160, 45)
        await settle(app, pilot)
        assert "◆ dirty" in rows(app, "#cache")[user]  # wide again: the columns come back


async def test_header_shortens_then_drops_the_least_useful_parts(make_app, tmp_path):
    app = make_app(policy="write-behind")
    db_path = str(tmp_path / "profiles.db")
    async with app.run_test(size=(220, 45)) as pilot:
        await settle(app, pilot)
        first = text_of(app, "#status").splitlines()[0]
        assert f"db {db_path}" in first and "flush 3600s · batch 100 · max 10,000" in first
        assert "cache memory (lru, capacity 50), no ttl" in first
        await pilot.resize_terminal(160, 45)  # the path shortens to the file's name
        await settle(app, pilot)
        first = text_of(app, "#status").splitlines()[0]
        assert "db profiles.db" in first and "cache memory (lru, capacity 50)" in first
        await pilot.press("o")  # a fault always stays
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        first = text_of(app, "#status").splitlines()[0]
        assert "WRITE-BEHIND" in first and "⚠ DB down" in first
        assert "cache memory  " in first and "(lru" not in first


def test_fit_line_shortens_every_part_before_dropping_any():
    parts = [
        part("[policy]"),
        part(" cache memory (lru)", " cache memory", "", drop=2),
        part(" db /a/long/path.db", " db path.db", "", drop=3),
    ]
    assert fit_line(parts, 0).plain == "[policy] cache memory (lru) db /a/long/path.db"
    assert fit_line(parts, 40).plain == "[policy] cache memory (lru) db path.db"
    assert fit_line(parts, 32).plain == "[policy] cache memory db path.db"
    assert fit_line(parts, 22).plain == "[policy] cache memory"
    assert fit_line(parts, 6).plain == "[poli…"


def test_fit_columns_follows_the_narrowing_steps_and_grows_what_may_grow():
    columns = [Column("user", 5), Column("name", 12, grow=4), Column("state", 10)]
    steps = [("drop", "name"), ("squeeze", "state")]
    assert fit_columns(columns, steps, 0) == ((0, 5, False), (1, 12, False), (2, 10, False))
    assert fit_columns(columns, steps, 40) == ((0, 5, False), (1, 16, False), (2, 10, False))
    assert fit_columns(columns, steps, 30) == ((0, 5, False), (2, 10, False))
    assert fit_columns(columns, steps, 12) == ((0, 5, False), (2, 1, True))


# -- z: focus on the panes ----------------------------------------------------------------------
async def test_z_hides_the_event_log_and_secondary_metrics_and_back(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(100, 30)) as pilot:
        await busy(app, pilot)
        before = pane_height(app, "#cache")
        assert app.query_one("#log").display and app.query_one("#trace").visible
        assert "coalesced" in text_of(app, "#numbers")
        await pilot.press("z")
        await settle(app, pilot)
        assert app.focus_panes and app.has_class("-focus-panes")
        assert app.query_one("#activity").region.height == 0
        assert app.query_one("#sparks").region.height == 0
        assert app.query_one("#metrics").outer_size.height == 3
        numbers = text_of(app, "#numbers").strip().splitlines()
        assert len(numbers) == 1 and "hit ratio" in numbers[0] and "pending" in numbers[0]
        assert pane_height(app, "#cache") >= before + 8
        await pilot.press("z")
        await settle(app, pilot)
        assert not app.focus_panes
        assert app.query_one("#activity").region.height > 0
        assert pane_height(app, "#cache") == before
        assert "coalesced" in text_of(app, "#numbers")


async def test_z_and_export_are_in_help_and_the_palette(make_app):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Focus panes (z)" in titles and "Export screen + metrics (E)" in titles
        assert {"z", "E"} <= {key for key, _ in app.KEY_HELP}
        ids = {b.id for b in app.BINDINGS}
        assert {"focus-panes", "export"} <= ids


# -- themes -------------------------------------------------------------------------------------
def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        def channel(v: int) -> float:
            c = v / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b_ = Color.parse(colour).rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b_)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def backgrounds(dark: bool) -> list[str]:
    if dark:
        theme = BUILTIN_THEMES["textual-dark"]
        return [theme.background or "#121212", theme.surface or "#1e1e1e"]
    return [
        colour
        for theme in BUILTIN_THEMES.values()
        if not theme.dark and theme.background and not theme.name.startswith("ansi")
        for colour in (theme.background, theme.surface)
        if colour
    ]


@pytest.mark.parametrize("palette", [DARK, LIGHT], ids=["dark", "light"])
def test_palette_colours_read_on_their_themes(palette: Palette):
    roles = ["ok", "pending", "stale", "bad", "db", "muted"]
    colours = [getattr(palette, role) for role in roles]
    assert len(set(colours)) == len(roles)  # all distinct
    for colour in colours:
        for background in backgrounds(palette.dark):
            assert contrast(colour, background) >= 4.5, (colour, background)
    assert palette_for(palette.dark) is palette


async def test_light_theme_recolours_panes_log_and_header(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(160, 45)) as pilot:
        await busy(app, pilot)
        table = app.query_one("#database", KeyTable)
        user = next(iter(rows(app, "#queue")))
        assert DARK.pending in str(table.row_cells(user)[1].style)
        app.theme = "textual-light"
        await settle(app, pilot)
        assert app.state_palette is LIGHT
        assert LIGHT.pending in str(table.row_cells(user)[1].style)
        log = app.query_one("#log")
        styles = {str(segment.style) for line in log.lines for segment in line}
        assert any(LIGHT.db in s or LIGHT.ok in s for s in styles)
        assert not any(DARK.ok in s for s in styles)


async def test_theme_option_and_ctrl_p_theme_switcher(make_app):
    app = make_app()
    app.theme = "textual-light"  # what --theme does
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        assert app.current_theme.name == "textual-light" and app.state_palette is LIGHT
        await pilot.press("ctrl+p")
        await wait_until(lambda: isinstance(app.screen, CommandPalette), "ctrl+p: the palette")
        commands = app.screen
        await pilot.press(*"theme")
        await wait_until(lambda: palette_offers(app, "theme"), "the palette found theme")
        await pilot.press("enter")
        await wait_until(lambda: app.screen is not commands, "the theme switcher opened")
        await pilot.press(*"dracula")
        await wait_until(lambda: palette_offers(app, "dracula"), "the switcher found dracula")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.theme == "dracula" and app.state_palette is DARK


# -- export -------------------------------------------------------------------------------------
async def open_export(app, pilot) -> ExportScreen:
    await pilot.press("E")
    await wait_until(lambda: isinstance(app.screen, ExportScreen), "E opened the export")
    await pilot.pause()  # its fields are mounted
    return app.screen


def palette_offers(app, text: str) -> bool:
    """The command palette on top lists ``text`` first (its search ran)."""
    if not isinstance(app.screen, CommandPalette):
        return False
    found = app.screen.query_one(CommandList)
    first = found.get_option_at_index(0) if found.option_count else None
    return first is not None and text in str(first.prompt).lower()


async def test_export_writes_the_screen_and_the_metrics_history(make_app, tmp_path):
    app = make_app(policy="write-behind")
    app.presenting.export_dir = str(tmp_path / "unused")
    folder = tmp_path / "talk" / "exports"  # created on the way
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.refresher.sample()
        await busy(app, pilot)
        app.refresher.sample()
        assert len(app.metrics_history) == 2
        dialog = await open_export(app, pilot)
        assert dialog.query_one("#folder", Input).value == str(tmp_path / "unused")
        dialog.query_one("#folder", Input).value = str(folder)
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportScreen)
        files = {p.suffix: p for p in folder.iterdir()}
        assert sorted(files) == [".csv", ".json", ".svg"]
        svg, csv_file, json_file = files[".svg"], files[".csv"], files[".json"]
        assert svg.stem == csv_file.stem == json_file.stem
        assert svg.stem.startswith("cachetui-") and len(svg.stem) == len("cachetui-20260101-120000")
        assert svg.read_text().lstrip().startswith("<svg")
        assert "WRITE-BEHIND" in svg.read_text().replace("&#160;", " ")
        with csv_file.open() as f:
            table = list(csv.reader(f))
        assert table[0] == list(FIELDS)
        assert len(table) == 1 + 3  # two samples and the moment of the export
        last = dict(zip(table[0], table[-1], strict=True))
        m = app.engine.metrics
        assert int(last["reads"]) == m.reads and int(last["updates"]) == m.updates
        assert last["policy"] == "write-behind"
        document = json.loads(json_file.read_text())
        assert document["fields"] == list(FIELDS) and document["screenshot"] == svg.name
        reads = FIELDS.index("reads")
        assert [s["reads"] for s in document["samples"]] == [int(r[reads]) for r in table[1:]]
        assert document["samples"][0]["reads"] == 0
        assert document["samples"][-1]["pending"] == m.pending > 0
        [message] = [n for n in notifications(app) if "Exported" in n]
        assert str(folder) in message
        assert all(p.name in message for p in (svg, csv_file, json_file))
        assert app.presenting.export_dir == str(folder)  # offered again next time


async def test_export_to_a_bad_folder_shows_an_error_and_writes_nothing(make_app, tmp_path):
    app = make_app()
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        dialog = await open_export(app, pilot)
        folder = dialog.query_one("#folder", Input)
        for bad, message in [
            (str(blocker), "is a file, not a folder"),
            (str(blocker / "sub"), "cannot create"),
            ("   ", "enter a folder"),
        ]:
            folder.value = bad
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is dialog
            assert message in text_of(dialog, "#error")
            assert folder.has_class("-invalid")
        assert sorted(tmp_path.iterdir()) == [blocker]
        folder.value = str(tmp_path / "fine")  # typing clears the error
        await pilot.pause()
        assert text_of(dialog, "#error").strip() == ""
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        assert not (tmp_path / "fine").exists()


def sample(at: float, reads: int) -> MetricsSample:
    metrics = MetricsSnapshot(**{name: 0 for name in MetricsSnapshot.__dataclass_fields__})
    metrics = dataclasses.replace(metrics, reads=reads)
    return MetricsSample(at, "write-through", metrics, Rates(reads=1.5), 0.5)


def test_history_is_bounded_and_two_exports_in_one_second_do_not_collide(tmp_path):
    history = MetricsHistory(maxlen=3)
    for second in range(5):
        history.add(sample(1_790_000_000.0 + second, second))
    assert [s.metrics.reads for s in history] == [2, 3, 4]
    when = datetime(2026, 9, 21, 12, 0, 0)
    first = write_export(str(tmp_path), "<svg/>", list(history), when=when)
    second = write_export(str(tmp_path), "<svg/>", list(history), when=when)
    extensions = (".svg", ".csv", ".json")
    assert [p.name for p in first] == [f"cachetui-20260921-120000{e}" for e in extensions]
    assert [p.name for p in second] == [f"cachetui-20260921-120000-2{e}" for e in extensions]
    rows_ = json.loads(first[2].read_text())["samples"]
    assert [r["reads"] for r in rows_] == [2, 3, 4] and rows_[0]["reads_per_s"] == 1.5
    assert Path(first[1]).read_text().splitlines()[0] == ",".join(FIELDS)


async def test_a_scenario_on_a_short_screen_takes_the_activity_rows_room(tmp_path):
    app = build_app(str(tmp_path / "profiles.db"), policy="write-behind")
    app.scenario_mode.initial = "write-behind"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("space")
        await settle(app, pilot)
        banner = app.query_one("#scenario-banner")
        assert banner.region.height >= 4 and app.has_class("-scenario")
        assert app.query_one("#activity").region.height == 0
        assert pane_height(app, "#cache") >= 8
        head, *narration = text_of(app, "#scenario-banner").splitlines()
        assert cell_len(head.rstrip()) <= banner.size.width and "step 1/" in head
        words = app.scenario_run.frame.narration.split()
        assert " ".join(" ".join(narration).split()) == " ".join(words)  # wrapped by words
        await pilot.press("escape")
        await settle(app, pilot)
        assert not app.has_class("-scenario")
        assert app.query_one("#activity").region.height == 6
