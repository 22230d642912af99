"""One table row drawn as a :class:`~textual.strip.Strip`: each cell padded, cut with an
ellipsis when too long, styled over the row's style. Built straight from segments (a
row of plain or single-style cells costs a few µs, not a Rich layout pass)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from cachetui.app.widgets.table_columns import Cell

ELLIPSIS = "…"


@lru_cache(maxsize=1024)
def _parse(style: str) -> Style:
    return Style.parse(style) if style else Style.null()


def cell_style(cell: Text) -> Style:
    """A Text's own (base) style as a Rich Style."""
    style = cell.style
    return _parse(style) if isinstance(style, str) else style


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells: padded with spaces, or cut with an ellipsis."""
    length = cell_len(text)
    if length == width:
        return text
    if length < width:
        return text + " " * (width - length)
    if width <= 1:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + ELLIPSIS


def row_strip(
    cells: Sequence[Cell],
    widths: Sequence[int],
    row: Style,
    *,
    padding: int = 1,
    post: Style | None = None,
    console: Console | None = None,
) -> Strip:
    """The row's line: ``cells[i]`` in ``widths[i]`` cells with ``padding`` spaces either
    side, everything over ``row`` (the table's background, or the cursor's); ``post``
    goes over each cell's own style (the cursor's colour wins over the cell's).
    ``console`` renders a cell with spans (several styles), the rare case."""
    segments: list[Segment] = []
    gap = " " * padding
    plain = ""  # characters in the row's own style, not yet in a segment
    for cell, width in zip(cells, widths, strict=True):
        plain += gap
        if isinstance(cell, Text) and cell.spans:
            if plain:
                segments.append(Segment(plain, row))
                plain = ""
            segments.extend(_rich_cell(cell, width, row, post, console or Console()))
        else:
            text, style = _styled(cell, row, post)
            length = cell_len(text)
            if style is row:
                plain += fit(text, width)
            else:
                if plain:
                    segments.append(Segment(plain, row))
                    plain = ""
                segments.append(Segment(fit(text, min(width, length)), style))
                if length < width:  # the rest of the cell in the row's style
                    plain = " " * (width - length)
        plain += gap
    if plain:
        segments.append(Segment(plain, row))
    return Strip(segments, sum(widths) + 2 * padding * len(widths))


def _styled(
    cell: tuple[str, str] | Text | str, row: Style, post: Style | None
) -> tuple[str, Style]:
    """A one-style cell's characters and their style over the ``row`` (``row`` itself,
    the same object, when the cell adds nothing)."""
    if isinstance(cell, tuple):
        text, style = cell[0], row + _parse(cell[1]) if cell[1] else row
    elif isinstance(cell, Text):
        text, style = cell.plain, row + cell_style(cell)
    else:
        text, style = cell, row
    if post is not None:
        style += post
    if not text.isprintable():  # a newline or a tab in the data must not reach the terminal
        text = "".join(char if char.isprintable() else " " for char in text)
    return text, style


def _rich_cell(
    cell: Text, width: int, row: Style, post: Style | None, console: Console
) -> list[Segment]:
    text = cell.copy()
    text.truncate(width, overflow="ellipsis")
    text.end = ""
    segments = list(Segment.apply_style(text.render(console), row, post))
    return list(Segment.adjust_line_length(segments, width, style=row))
