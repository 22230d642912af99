"""A key table's drawn lines: the header's and each row's, built once and kept until the
row, the columns or the look change; and which rows a new list of rows draws again."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from cachetui.app.widgets.row_strip import row_strip
from cachetui.app.widgets.table_columns import Cell, Column, Layout, project


class TableLines:
    """The lines of one table, ``owner`` (its width, its app's console), each kept until
    :meth:`forget_row` or :meth:`forget_all`; cells ``padding`` spaces either side."""

    def __init__(self, owner: Widget, padding: int) -> None:
        self._owner = owner
        self._padding = padding
        self._rows: dict[tuple[int, bool], Strip] = {}  # (user, under the cursor)
        self._header: Strip | None = None
        #: The table's look: its base, header and cursor styles (None: not drawn yet).
        self.styles: tuple[Style, Style, Style] | None = None

    @property
    def base(self) -> Style:
        """The table's own style (under the rows, and of the blank lines below them)."""
        assert self.styles is not None
        return self.styles[0]

    def restyle(self, styles: tuple[Style, Style, Style]) -> bool:
        """Take the table's look; a new one forgets every line. True if it replaced an
        earlier look (focus, theme): the lines not being drawn now look different too."""
        if styles == self.styles:
            return False
        stale = self.styles is not None
        self.styles = styles
        self.forget_all()
        return stale

    def forget_row(self, user: int) -> None:
        """Drop ``user``'s drawn line (with and without the cursor)."""
        self._rows.pop((user, False), None)
        self._rows.pop((user, True), None)

    def forget_all(self) -> None:
        """Drop every drawn line: the columns, the width or the look changed."""
        self._rows.clear()
        self._header = None

    def header(self, columns: Sequence[Column], layout: Layout, widths: Sequence[int]) -> Strip:
        """The header line: the labels of the columns shown (none over a squeezed one)."""
        if self._header is None:
            assert self.styles is not None
            labels = ["" if squeezed else columns[i].label for i, _, squeezed in layout]
            header = self.styles[1]
            self._header = row_strip(
                labels, widths, header, padding=self._padding
            ).extend_cell_length(self._owner.size.width, header)  # its band runs to the pane's edge
        return self._header

    def row(
        self,
        user: int,
        cells: Sequence[Cell],
        layout: Layout,
        widths: Sequence[int],
        *,
        under_cursor: bool,
    ) -> Strip:
        """``user``'s line: its ``cells`` (every column's) as ``layout`` shows them."""
        strip = self._rows.get((user, under_cursor))
        if strip is None:
            assert self.styles is not None
            base, _, cursor = self.styles
            shown = project(cells, layout)
            if under_cursor:
                row = base + cursor
                post = Style.from_color(color=cursor.color)
            else:
                row, post = base, None
            strip = row_strip(
                shown,
                widths,
                row,
                padding=self._padding,
                post=post,
                console=self._owner.app.console,
            )
            if under_cursor:  # the cursor's colour runs to the pane's edge
                strip = strip.extend_cell_length(self._owner.size.width, row)
            self._rows[(user, under_cursor)] = strip
        return strip


def redrawn_runs(
    before: Sequence[int], after: Sequence[int], changed: Collection[int], top: int, end: int
) -> list[tuple[int, int]]:
    """The rows from ``top`` to ``end`` (excluded) to draw again, as runs of (first row,
    count): rows that show another user now (``before`` → ``after``, users top to bottom)
    or a user whose row looks different (``changed``)."""
    runs: list[tuple[int, int]] = []
    run_start: int | None = None
    for index in range(top, end + 1):
        old = before[index] if index < len(before) else None
        new = after[index] if index < len(after) else None
        if index < end and (old != new or new in changed):
            if run_start is None:
                run_start = index
        elif run_start is not None:
            runs.append((run_start, index - run_start))
            run_start = None
    return runs
