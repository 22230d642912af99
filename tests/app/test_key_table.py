"""The panes' table: a repaint draws only the rows that changed; keys and clicks move the
cursor and follow a user; colours, ellipses and narrow columns are drawn as before."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from cachetui.app.widgets.key_table import Column, KeyTable
from cachetui.app.widgets.row_strip import row_strip
from tests.app.conftest import settle


class CountingTable(KeyTable):
    """Records which lines it draws."""

    NARROWING = (("drop", "note"),)

    def __init__(self) -> None:
        super().__init__([Column("user", 4, fit=True), Column("name", 8), Column("note", 6)])
        self.drawn: list[int] = []
        self.selected: list[int] = []

    def render_line(self, y: int):  # type: ignore[no-untyped-def]
        self.drawn.append(y)
        return super().render_line(y)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingTable()

    def on_key_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        self.query_one(CountingTable).selected.append(event.user)


def people(count: int, renamed: dict[int, Text | str] | None = None) -> list:
    renamed = renamed or {}
    return [(u, (str(u), renamed.get(u, f"name{u}"), "")) for u in range(1, count + 1)]


async def shown(app: TableApp, pilot, rows: list, *, focus: bool = False) -> CountingTable:
    """The app's table showing ``rows``, drawn once (and focused)."""
    table = app.query_one(CountingTable)
    table.sync(rows)
    if focus:
        table.focus()
    await pilot.pause()
    return table


def in_view(table: KeyTable) -> int:
    """How many rows fit under the header."""
    return table.scrollable_content_region.height - 1


def line(table: KeyTable, y: int) -> str:
    return table.render_line(y).text


async def test_a_repaint_draws_only_the_lines_whose_row_changed():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await shown(app, pilot, people(30))
        assert line(table, 0).split() == ["user", "name", "note"]
        assert line(table, 3).split() == ["3", "name3"]
        table.drawn.clear()
        table.sync(people(30, {3: "Ada"}))  # one row changed
        await pilot.pause()
        assert table.drawn == [3]  # the header is line 0: row 3 is line 3
        assert line(table, 3).split() == ["3", "Ada"]
        table.drawn.clear()
        table.sync(people(30, {3: "Ada"}))  # nothing changed: nothing drawn
        await pilot.pause()
        assert table.drawn == []
        table.sync(people(30, {3: Text("Ada", style="red")}))  # only its colour
        await pilot.pause()
        assert table.drawn == [3]
        assert any(
            s.style and s.style.color and s.style.color.name == "red"
            for s in table.render_line(3)
            if s.text == "Ada"
        )
        table.drawn.clear()
        table.sync(people(31, {3: Text("Ada", style="red")})[1:])  # 1 went, 31 came: all move up
        await pilot.pause()
        assert sorted(table.drawn) == list(range(1, in_view(table) + 1))  # every row line
        assert line(table, 1).split() == ["2", "name2"]


async def test_keys_move_the_cursor_and_enter_selects_its_user():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await shown(app, pilot, people(30), focus=True)
        await pilot.press("down", "down", "enter")
        assert table.user_at_cursor() == 3 and table.selected == [3]
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + in_view(table)  # a page: the rows under the header
        await pilot.press("end")
        assert table.user_at_cursor() == 30
        assert table.scroll_y == 30 - in_view(table)  # the last row in view
        await pilot.press("home")
        assert table.user_at_cursor() == 1 and table.scroll_y == 0
        table.sync(people(5))  # the rows under the cursor went: it stays on a row
        await pilot.press("end")
        table.sync(people(2))
        assert table.user_at_cursor() == 2


async def test_the_cursor_stays_on_its_user_while_rows_come_and_go_around_it():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await shown(app, pilot, people(30), focus=True)
        table.move_to_user(5)
        rows = people(30)
        table.sync([(100 + u, cells) for u, cells in rows[:3]] + rows)  # three rows above
        await pilot.pause()
        assert table.user_at_cursor() == 5 and table.cursor_row == 7
        assert table.scroll_y == 3  # and on the same line of the screen: rows moved past it
        await pilot.press("enter")
        assert table.selected == [5]  # enter follows the row the cursor shows
        table.sync([row for row in people(30) if row[0] != 5])  # its user went
        await pilot.pause()
        assert table.cursor_row == 7 and table.user_at_cursor() == 9  # it keeps its place


async def test_a_click_moves_the_cursor_and_a_second_click_selects():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await shown(app, pilot, people(30))
        await pilot.click(CountingTable, offset=(2, 4))  # line 4: the fourth row
        assert table.user_at_cursor() == 4 and table.selected == []
        await pilot.click(CountingTable, offset=(2, 4))
        assert table.selected == [4]
        await pilot.click(CountingTable, offset=(2, 0))  # the header: nothing
        assert table.user_at_cursor() == 4 and table.selected == [4]


async def test_long_names_end_in_an_ellipsis_and_narrow_panes_drop_columns():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(CountingTable)
        table.sync(people(3, {2: "Margaret Hamilton"}))
        await pilot.pause()
        assert line(table, 2).split()[1] == "Margare…"
        assert table.shown_columns == ["user", "name", "note"]
        table.styles.width = 20  # too narrow for the note
        await pilot.pause()
        assert table.shown_columns == ["user", "name"]
        assert line(table, 0).split() == ["user", "name"]


async def test_enter_on_a_pane_row_follows_that_user_in_every_pane(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("R", "u")
        await settle(app, pilot)
        cache = app.query_one("#cache", KeyTable)
        cache.focus()
        await pilot.press("down", "down")
        user = cache.user_at_cursor()
        await pilot.press("enter")
        await settle(app, pilot)
        assert user is not None and app.followed == user
        for pane in ("#cache", "#database"):
            table = app.query_one(pane, KeyTable)
            assert table.user_at_cursor() == user
            assert str(table.row_cells(user)[0]).startswith("▸")


async def test_rows_moving_under_a_placed_cursor_at_the_top_are_redrawn():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await shown(app, pilot, people(30))
        table.move_to_user(6)
        await pilot.pause()
        table.drawn.clear()
        table.sync([row for row in people(31) if row[0] != 2])  # 2 went above, 31 came below
        await pilot.pause()
        # the view cannot scroll above its top: the rows move, the lines are drawn again
        assert table.scroll_y == 0 and table.cursor_row == 4 and table.user_at_cursor() == 6
        assert {2, 3, 4, 5} <= set(table.drawn)
        assert [line(table, y).split()[0] for y in (1, 2, 5)] == ["1", "3", "6"]


def test_control_characters_in_the_data_never_reach_the_terminal():
    strip = row_strip([("Ann\nX\tY", "red"), "a\rb"], [10, 4], Style())
    assert "\n" not in strip.text and "\t" not in strip.text and "\r" not in strip.text
    assert strip.text == " Ann X Y     a b  " and strip.cell_length == 18


def drawn(strips) -> list[list[tuple[str, object]]]:  # type: ignore[no-untyped-def]
    return [[(seg.text, seg.style) for seg in strip] for strip in strips]


async def test_the_panes_frame_their_lines_exactly_as_textual_draws_them(make_app):
    """The panes draw their content lines between the border cells themselves (Textual's
    renderer costs ~60 µs a line under load): the lines must be Textual's, focused or
    not, with the cursor, cropped or whole."""
    from textual.geometry import Region
    from textual.widget import Widget

    app = make_app(policy="write-behind")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("R", "u")
        await settle(app, pilot)
        for pane_id in ("#cache", "#queue", "#database"):
            pane = app.query_one(pane_id, KeyTable)
            for focused in (False, True):
                if focused:
                    pane.focus()
                    await pilot.press("down", "down")
                    await settle(app, pilot)
                whole = Region(0, 0, *pane.region.size)
                assert pane._border_frame._framing  # the panes take the quick way
                for crop in (whole, Region(3, 1, whole.width - 5, 4), Region(0, 0, 9, 2)):
                    ours = pane.render_lines(crop)
                    pane._styles_cache.clear()
                    textual = Widget.render_lines(pane, crop)
                    assert drawn(ours) == drawn(textual), (pane_id, focused, crop)


class BorderedApp(App[None]):
    CSS = "KeyTable { border: round $primary; height: 12; }"

    def compose(self) -> ComposeResult:
        yield KeyTable([Column("user", 6), Column("name", 8)])


async def test_a_scrollbar_that_comes_is_there_in_the_first_frame_with_the_rows(monkeypatch):
    """Rows outgrowing the pane (a queue refilling after a flush) bring the scrollbar in
    the same screen update, not one later (a frame with rows and no scrollbar)."""
    from textual.screen import Screen

    frames: list[tuple[int, bool]] = []
    update = Screen._on_timer_update

    def recorded(screen: Screen) -> None:
        update(screen)
        table = screen.app.query_one(KeyTable)
        frames.append((table.row_count, bool(table.vertical_scrollbar.region)))

    monkeypatch.setattr(Screen, "_on_timer_update", recorded)
    app = BorderedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(KeyTable)
        for count in (3, 30, 2, 40):
            frames.clear()
            table.sync(people(count))
            await pilot.pause()
            await pilot.pause()
            assert frames and frames[0] == (count, count > in_view(table)), frames


async def test_a_number_wider_than_the_pane_is_cut_with_an_ellipsis():
    """Trial finding: at 60×15 the DB pane showed ``9059`` for version 90597 — a number
    cut at the pane's edge reads as another number. Cut, it ends in an ellipsis."""
    app = TableApp()
    async with app.run_test(size=(12, 8)) as pilot:
        table = await shown(app, pilot, [(1, ("7", "Ada", "")), (2, ("7", "Adalberta", ""))])
        assert line(table, 1).split() == ["7", "Ada"]  # it fits: whole, no ellipsis
        assert line(table, 2).split() == ["7", "Adal…"]  # text past the edge: cut, marked
        table.sync([(1, ("9059712345678", "Ada", ""))])  # the number runs past the edge
        await pilot.pause()
        assert line(table, 1) == " 9059712345…"
