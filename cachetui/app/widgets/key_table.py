"""A table of rows keyed by user id, drawn line by line (Textual's Line API).

Each row's line is built once and kept until the row changes (see
:mod:`~cachetui.app.widgets.table_lines`); a repaint redraws only the lines whose row
changed, moved or took the cursor. (A DataTable re-renders every visible row after any
change: ~80 ms of CPU per refresh for three panes at 160×45 against a few ms here.) Its
columns fit its width (see :func:`fit_columns`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.strip import Strip

from cachetui.app.widgets.framed_lines import BorderFrame
from cachetui.app.widgets.steady_scroll import SteadyScrollbars
from cachetui.app.widgets.table_columns import (
    Cell,
    Cells,
    Column,
    Layout,
    as_text,
    fit_columns,
    longest_fitting,
    looks,
    plain,
    project,
)
from cachetui.app.widgets.table_lines import TableLines, redrawn_runs

__all__ = ["Cells", "Column", "KeyTable", "fit_columns"]

HEADER_HEIGHT = 1


def cut_at_edge(strip: Strip, start: int, width: int, base: Style) -> Strip:
    """``width`` cells of ``strip`` from ``start``; when the line goes on past the pane's
    edge (every narrowing step taken, a number still wider than its room), its last cell
    shown is an ellipsis: ``905…``, never a number cut short that reads as another."""
    end = start + width
    if width < 1 or not strip.crop(end, strip.cell_length).text.strip():
        return strip.crop_extend(start, end, base)  # nothing but padding past the edge
    shown = strip.crop(start, end - 1)
    last = next(iter(strip.crop(end - 1, end)), None)
    style = last.style if last is not None and last.style is not None else base
    return Strip([*shown, Segment("…", style)], width)


class KeyTable(SteadyScrollbars, can_focus=True):
    """Rows keyed by user id, a header line, a row cursor. :meth:`sync` applies a new
    list of rows as a diff: only the lines that look different are drawn again.

    When the pane is too narrow for every column, it follows :attr:`NARROWING` (see
    :func:`fit_columns`); the columns change only when that choice changes.

    Keys: up/down, page up/down, home/end move the cursor (posting
    :class:`RowHighlighted`); enter, or a click on the cursor's row, posts
    :class:`RowSelected`. Once moved, the cursor stays on its user while rows change
    around it."""

    DEFAULT_CSS = """
    KeyTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .key-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .key-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .key-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .key-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .key-table--header {
                background-tint: $foreground 5%;
            }
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-table--header", "key-table--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "cursor_first", "First row", show=False),
        Binding("end,ctrl+end", "cursor_last", "Last row", show=False),
    ]
    #: Steps that make the pane narrower, least useful column first.
    NARROWING: ClassVar[Sequence[tuple[str, str]]] = ()
    #: Spaces either side of every cell.
    cell_padding = 1
    header_height = HEADER_HEIGHT

    class _RowMessage(Message):
        """Something happened to ``user``'s row of ``table``."""

        def __init__(self, table: KeyTable, user: int) -> None:
            self.table = table
            self.user = user
            super().__init__()

        @property
        def control(self) -> KeyTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to ``user``'s row."""

    class RowSelected(_RowMessage):
        """Enter (or a click) on ``user``'s row."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._column_spec = list(columns)
        self._layout: Layout = ()
        self._widths: tuple[int, ...] = ()
        self._rows_now: dict[int, tuple[Cell, ...]] = {}
        self._looks: dict[int, tuple[tuple[str, str, int], ...]] = {}
        self._order: list[int] = []
        self._index: dict[int, int] = {}
        self._cursor = 0
        self._cursor_placed = False  # the cursor was put on a user: it follows that user
        self._lines = TableLines(self, self.cell_padding)  # drawn once, kept until changed
        self._titles: tuple[str, ...] = ("",)
        self._border_frame = BorderFrame()  # content lines framed without Textual's renderer
        self._subtitles: tuple[str, ...] = ("",)

    # -- what it shows -----------------------------------------------------------------------
    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now."""
        return [self._column_spec[i].id for i, _, _ in self._layout]

    @property
    def column_widths(self) -> dict[str, int]:
        """Each shown column's width in cells (padding not included), by key."""
        return {self._column_spec[i].id: width for i, width, _ in self._layout}

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def users(self) -> list[int]:
        """The users whose rows are shown, top to bottom."""
        return list(self._order)

    def row_cells(self, user: int) -> tuple[Text | str, ...]:
        """The cells of ``user``'s row as shown (only the columns on screen), as Rich
        renders them. Raises KeyError if the pane has no row for ``user``."""
        return tuple(as_text(cell) for cell in project(self._rows_now[user], self._layout))

    def row_index(self, user: int) -> int | None:
        """``user``'s row position (0: the first row under the header); None: no row."""
        return self._index.get(user)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def user_at_cursor(self) -> int | None:
        if not self._order:
            return None
        return self._order[min(self._cursor, len(self._order) - 1)]

    # -- rows in -----------------------------------------------------------------------------
    def sync(self, rows: Sequence[tuple[int, Cells]]) -> None:
        """Show ``rows`` (user id, cells; in order, one per user): rows that vanished go,
        new ones come, and only the visible lines that now look different are redrawn."""
        wanted = {user: tuple(cells) for user, cells in rows}
        changed: set[int] = set()
        new_looks: dict[int, tuple[tuple[str, str, int], ...]] = {}
        for user, cells in wanted.items():
            seen = looks(cells)
            new_looks[user] = seen
            if self._looks.get(user) != seen:
                changed.add(user)
                self._lines.forget_row(user)
        if self._widen_to_fit([wanted[user] for user in changed]):  # the others fitted
            self._apply_layout(self._fitted())
        for user in self._rows_now.keys() - wanted.keys():
            self._lines.forget_row(user)
        before = self._order
        under_cursor = self.user_at_cursor()
        self._rows_now, self._looks = wanted, new_looks
        self._order = [user for user, _ in rows]
        self._index = {user: i for i, user in enumerate(self._order)}
        # once moved there (a key, a click, a follow), the cursor stays on its user while
        # the user is listed (rows come and go above it under load: enter must follow the
        # row it shows); else, and until then, on its position
        moved = (
            self._index.get(under_cursor)
            if under_cursor is not None and self._cursor_placed
            else None
        )
        shown_at: int | None = None  # the cursor's line on screen, if it is on screen
        top = int(self.scroll_y)
        if top <= self._cursor < top + self._visible_rows():
            shown_at = self._cursor - top
        if moved is not None:
            self._cursor = moved
        elif self._cursor >= len(self._order):
            self._cursor = max(0, len(self._order) - 1)
        resized = self._resize_virtual()
        if moved is not None and shown_at is not None and moved - shown_at != top:
            # it was on screen: it stays on the same line, the rows move past it
            self.scroll_to(y=max(0, moved - shown_at), animate=False, immediate=True)
            if int(self.scroll_y) != top:
                return  # scrolled: the whole pane is drawn again
            # at the top or the bottom already: no scroll, so the changed lines are marked
        if not resized:
            self._redraw_changed(before, changed)

    def _redraw_changed(self, before: list[int], changed: Collection[int]) -> None:
        """Mark the visible lines whose row is another user's now, or looks different."""
        top = int(self.scroll_y)
        end = top + self._visible_rows() + 1
        width = max(self.virtual_size.width, self.size.width)
        # one refresh for all: each call clears the widget's caches
        dirty = [
            Region(0, start + HEADER_HEIGHT - top, width, count)
            for start, count in redrawn_runs(before, self._order, changed, top, end)
        ]
        if dirty:
            self.refresh(*dirty)

    def _visible_rows(self) -> int:
        return max(0, self.scrollable_content_region.height - HEADER_HEIGHT)

    def _resize_virtual(self) -> bool:
        """Set the scrollable size from the rows and columns; True if that lays the
        screen out again (which redraws the whole pane).

        Rows coming and going under load change only the scrollable height: while the
        vertical scrollbar stays as it is (shown or not), that moves the scrollbar's thumb
        and nothing else on screen, so the screen is not laid out again for it (a layout
        at every repaint cost ~5 ms of CPU and a second screen update)."""
        width = sum(width + 2 * self.cell_padding for width in self._widths)
        size = Size(width, len(self._order) + HEADER_HEIGHT)
        old = self.virtual_size
        if size == old:
            return False
        window = self.scrollable_content_region.height
        if (
            self.is_mounted
            and size.width == old.width
            and window > 0
            and ((size.height > window) == (old.height > window))
        ):
            self.set_reactive(KeyTable.virtual_size, size)
            self._scroll_update(size)  # the thumb; the scroll offset kept within the rows
            return False
        self.virtual_size = size
        if self.is_mounted:  # a scrollbar that comes or goes: in this same layout, not
            self._refresh_scrollbars()  # one frame later (a frame with rows but no bar)
        return True

    # -- columns -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._apply_layout(self._fitted())

    def on_resize(self, event: events.Resize) -> None:
        self._lines.forget_all()  # the cursor's row and the header run to the pane's edge
        self._apply_layout(self._fitted())
        self._show_titles()

    def _fitted(self) -> Layout:
        # the vertical scrollbar's cells are always set aside: no layout flip when it shows
        available = (
            self.outer_size.width - self.styles.gutter.width - self.styles.scrollbar_size_vertical
        )
        return fit_columns(self._column_spec, self.NARROWING, available, self.cell_padding)

    def _apply_layout(self, layout: Layout) -> None:
        if layout == self._layout:
            return
        self._layout = layout
        self._widths = tuple(width for _, width, _ in layout)
        self._lines.forget_all()
        self._resize_virtual()
        self.refresh()

    def _widen_to_fit(self, rows: Collection[tuple[Cell, ...]]) -> bool:
        """Widen every ``fit`` column to its widest cell (they never narrow again, so
        the columns do not jump back and forth); True if one widened."""
        widened = False
        for i, column in enumerate(self._column_spec):
            if not column.fit:
                continue
            widest = max((cell_len(plain(cells[i])) for cells in rows), default=0)
            if widest > column.width:
                self._column_spec[i] = replace(column, width=widest)
                widened = True
        return widened

    def reserve(self, key: str, cells: int) -> None:
        """Make column ``key`` at least ``cells`` wide (e.g. for the largest user id)."""
        for i, column in enumerate(self._column_spec):
            if column.id == key and column.width < cells:
                self._column_spec[i] = replace(column, width=cells)
                if self.is_mounted:
                    self._apply_layout(self._fitted())

    # -- titles ------------------------------------------------------------------------------
    def set_titles(self, title: str | Sequence[str], subtitle: str | Sequence[str] = "") -> None:
        """Border title and subtitle, each given as variants from longest to shortest:
        the longest that fits the pane's width is shown."""
        self._titles = (title,) if isinstance(title, str) else tuple(title)
        self._subtitles = (subtitle,) if isinstance(subtitle, str) else tuple(subtitle)
        self._show_titles()

    def _show_titles(self) -> None:
        width = self.outer_size.width
        self.border_title = longest_fitting(self._titles, width)
        self.border_subtitle = longest_fitting(self._subtitles, width)

    # -- drawing -----------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        styles = (
            self.rich_style,
            self.get_component_rich_style("key-table--header"),
            self.get_component_rich_style("key-table--cursor"),
        )
        if self._lines.restyle(styles):  # focus, theme: every line looks different
            self.refresh()  # the lines outside ``crop`` too, next frame
        return self._border_frame.render_lines(self, crop, super().render_lines)

    def render_line(self, y: int) -> Strip:
        lines = self._lines
        base = lines.base
        scroll_x, scroll_y = self.scroll_offset
        if y < HEADER_HEIGHT:
            strip = lines.header(self._column_spec, self._layout, self._widths)
        else:
            index = y - HEADER_HEIGHT + scroll_y
            if index >= len(self._order):
                return Strip.blank(self.size.width, base)
            user = self._order[index]
            strip = lines.row(
                user,
                self._rows_now[user],
                self._layout,
                self._widths,
                under_cursor=index == self._cursor,
            )
        return cut_at_edge(strip, scroll_x, self.size.width, base)

    # -- the cursor --------------------------------------------------------------------------
    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Put the cursor on row ``row`` (clamped to the rows there are), scroll it into
        view, and post :class:`RowHighlighted` if it moved."""
        row = max(0, min(row, len(self._order) - 1))
        self._cursor_placed = True
        if row != self._cursor:
            old, self._cursor = self._cursor, row
            self.refresh_lines(old + HEADER_HEIGHT)
            self.refresh_lines(row + HEADER_HEIGHT)
            if self._order:
                self.post_message(self.RowHighlighted(self, self._order[row]))
        if scroll and self._order:
            self.scroll_to_region(
                Region(0, row + HEADER_HEIGHT, 1, 1),
                spacing=Spacing(HEADER_HEIGHT, 0, 0, 0),
                animate=False,
                force=True,
                immediate=True,
            )

    def move_to_user(self, user: int) -> bool:
        """Put the cursor on ``user``'s row and scroll it into view; False if the pane
        has no such row."""
        index = self._index.get(user)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - max(1, self._visible_rows()))

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + max(1, self._visible_rows()))

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        user = self.user_at_cursor()
        if user is not None:
            self.post_message(self.RowSelected(self, user))

    async def _on_click(self, event: events.Click) -> None:
        """A click moves the cursor to the row; a click on the cursor's row selects it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_HEIGHT:
            return
        index = offset.y - HEADER_HEIGHT + int(self.scroll_y)
        if index >= len(self._order):
            return
        event.stop()
        again = index == self._cursor
        self.move_cursor(index)
        if again:
            self.action_select_cursor()
