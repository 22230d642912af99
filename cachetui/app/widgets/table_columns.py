"""A pane's columns: what they are, which fit a width, and what a cell looks like."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

#: A cell: plain characters, characters in a Rich style given as ``(text, style)`` (the
#: cheap form the panes use: no Text object per cell), or a Rich Text.
Cell = Text | str | tuple[str, str]
Cells = Sequence[Cell]


@dataclass(frozen=True)
class Column:
    """A pane column ``width`` cells wide; ``grow``: how many more it takes when the pane
    has room to spare. ``key`` defaults to the label. ``fit``: the column widens to its
    widest cell (ids, versions, counts: a number is never cut)."""

    label: str
    width: int
    grow: int = 0
    key: str = ""
    fit: bool = False

    @property
    def id(self) -> str:
        return self.key or self.label


#: A fitted layout: (index into the columns, width, squeezed) per column shown.
Layout = tuple[tuple[int, int, bool], ...]


def fit_columns(
    columns: Sequence[Column],
    narrowing: Sequence[tuple[str, str]],
    available: int,
    padding: int = 1,
) -> Layout:
    """The columns shown in ``available`` cells: while they do not fit, apply the next
    step of ``narrowing`` — ``("drop", key)`` hides a column, ``("squeeze", key)`` keeps
    only its cells' first character (a state's symbol). Spare cells go to growing columns.
    ``available <= 0`` (not laid out yet): every column at its width."""
    index = {column.id: i for i, column in enumerate(columns)}
    dropped: set[int] = set()
    squeezed: set[int] = set()

    def width(i: int) -> int:
        return 1 if i in squeezed else columns[i].width

    def cost() -> int:
        return sum(width(i) + 2 * padding for i in range(len(columns)) if i not in dropped)

    if available > 0:
        for op, key in narrowing:
            if cost() <= available:
                break
            (dropped if op == "drop" else squeezed).add(index[key])
    spare = max(0, available - cost())
    layout: list[tuple[int, int, bool]] = []
    for i, column in enumerate(columns):
        if i in dropped:
            continue
        cells = width(i)
        if column.grow and spare and i not in squeezed:
            extra = min(column.grow, spare)
            cells += extra
            spare -= extra
        layout.append((i, cells, i in squeezed))
    return tuple(layout)


def project(cells: Sequence[Cell], layout: Layout) -> tuple[Cell, ...]:
    """The cells a row shows under ``layout``: dropped columns left out, squeezed ones
    reduced to their first character."""
    return tuple(squeeze(cells[i]) if squeezed else cells[i] for i, _, squeezed in layout)


def longest_fitting(variants: Sequence[str], width: int) -> str:
    """The first variant that fits a border ``width`` cells wide (corner, rule and a space
    on each side of it); the last one if none does."""
    for variant in variants:
        if width <= 0 or cell_len(variant) + 6 <= width:
            return variant
    return variants[-1]


def squeeze(cell: Cell) -> Cell:
    """A cell reduced to its first character, in the same style (a state's symbol)."""
    if isinstance(cell, Text):
        return Text(cell.plain[:1], style=cell.style)
    if isinstance(cell, tuple):
        return cell[0][:1], cell[1]
    return cell[:1]


def plain(cell: Cell) -> str:
    """The characters a cell shows."""
    if isinstance(cell, Text):
        return cell.plain
    return cell[0] if isinstance(cell, tuple) else cell


def look(cell: Cell) -> tuple[str, str, int]:
    """What a cell looks like: its characters, style and spans (Rich's ``Text.__eq__``
    ignores the base style, so a row that only changed colour would compare equal)."""
    if isinstance(cell, tuple):
        return cell[0], cell[1], 0
    if isinstance(cell, Text):
        return cell.plain, str(cell.style), hash(tuple(cell.spans)) if cell.spans else 0
    return cell, "", 0


def looks(cells: Sequence[Cell]) -> tuple[tuple[str, str, int], ...]:
    return tuple(look(cell) for cell in cells)


def as_text(cell: Cell) -> Text | str:
    """The cell as Rich renders it: ``(text, style)`` becomes a Text."""
    return Text(cell[0], style=cell[1]) if isinstance(cell, tuple) else cell
