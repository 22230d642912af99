"""A DataTable updated by diffing rows by key, never rebuilt; its columns fit its width."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

Cells = Sequence[Text | str]


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


class KeyTable(DataTable[Text | str]):
    """Rows keyed by user id. :meth:`sync` applies a new list of rows as a diff:
    removes vanished keys, updates changed cells, adds new rows, re-sorts if needed.

    When the pane is too narrow for every column, it follows :attr:`NARROWING` (see
    :func:`fit_columns`); the columns are rebuilt only when that choice changes."""

    DEFAULT_CSS = """
    KeyTable { height: 1fr; }
    """
    #: Steps that make the pane narrower, least useful column first.
    NARROWING: ClassVar[Sequence[tuple[str, str]]] = ()

    def __init__(self, columns: Sequence[Column], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._column_spec = list(columns)
        self._layout: Layout = ()
        self._rows_now: dict[str, tuple[Text | str, ...]] = {}
        self._order: list[str] = []
        self._titles: tuple[str, ...] = ("",)
        self._subtitles: tuple[str, ...] = ("",)

    def on_mount(self) -> None:
        self._apply_layout(self._fitted())

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(self._fitted())
        self._show_titles()

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now."""
        return [self._column_spec[i].id for i, _, _ in self._layout]

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
        followed = self.user_at_cursor()
        with self.app.batch_update():
            self.clear(columns=True)
            for i, width, squeezed in layout:
                column = self._column_spec[i]
                self.add_column("" if squeezed else column.label, key=column.id, width=width)
            for key in self._order or list(self._rows_now):
                self.add_row(*self._project(self._rows_now[key]), key=key)
        if followed is not None:
            self.move_to_user(followed)

    def _project(self, cells: tuple[Text | str, ...]) -> tuple[Text | str, ...]:
        return tuple(
            _squeeze(cells[i]) if squeezed else cells[i] for i, _, squeezed in self._layout
        )

    def sync(self, rows: Sequence[tuple[int, Cells]]) -> None:
        keys = [str(user) for user, _ in rows]
        wanted = {str(user): tuple(cells) for user, cells in rows}
        if self._widen_to_fit(wanted.values()):
            self._apply_layout(self._fitted())
        columns = self.shown_columns
        with self.app.batch_update():
            for key in [k for k in self._rows_now if k not in wanted]:
                with contextlib.suppress(RowDoesNotExist):
                    self.remove_row(key)
                del self._rows_now[key]
            for key, cells in wanted.items():
                old = self._rows_now.get(key)
                if old is None:
                    self.add_row(*self._project(cells), key=key)
                elif old != cells or _looks(old) != _looks(cells):
                    before_cells, after_cells = self._project(old), self._project(cells)
                    for column, before, after in zip(
                        columns, before_cells, after_cells, strict=True
                    ):
                        if _look(before) != _look(after):
                            self.update_cell(key, column, after)
                self._rows_now[key] = cells
            if keys != self._order:
                order = {_plain(cells[0]): index for index, (_, cells) in enumerate(rows)}
                self.sort(columns[0], key=lambda cell: order.get(_plain(cell), 0))
                self._order = keys

    def _widen_to_fit(self, rows: Collection[tuple[Text | str, ...]]) -> bool:
        """Widen every ``fit`` column to its widest cell (they never narrow again, so
        the columns do not jump back and forth); True if one widened."""
        widened = False
        for i, column in enumerate(self._column_spec):
            if not column.fit:
                continue
            widest = max((cell_len(_plain(cells[i])) for cells in rows), default=0)
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

    def set_titles(self, title: str | Sequence[str], subtitle: str | Sequence[str] = "") -> None:
        """Border title and subtitle, each given as variants from longest to shortest:
        the longest that fits the pane's width is shown."""
        self._titles = (title,) if isinstance(title, str) else tuple(title)
        self._subtitles = (subtitle,) if isinstance(subtitle, str) else tuple(subtitle)
        self._show_titles()

    def _show_titles(self) -> None:
        width = self.outer_size.width
        self.border_title = _longest_fitting(self._titles, width)
        self.border_subtitle = _longest_fitting(self._subtitles, width)

    def user_at_cursor(self) -> int | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an empty or shrinking table
            return None
        return int(row_key.value) if row_key.value is not None else None

    def move_to_user(self, user: int) -> bool:
        """Put the cursor on ``user``'s row and scroll it into view; False if the pane
        has no such row."""
        key = str(user)
        if key in self._rows_now:
            with contextlib.suppress(RowDoesNotExist):
                self.move_cursor(row=self.get_row_index(key), animate=False)
                return True
        return False


def _longest_fitting(variants: Sequence[str], width: int) -> str:
    """The first variant that fits a border ``width`` cells wide (corner, rule and a space
    on each side of it); the last one if none does."""
    for variant in variants:
        if width <= 0 or cell_len(variant) + 6 <= width:
            return variant
    return variants[-1]


def _squeeze(cell: Text | str) -> Text | str:
    """A cell reduced to its first character, in the same style (a state's symbol)."""
    if isinstance(cell, Text):
        return Text(cell.plain[:1], style=cell.style)
    return cell[:1]


def _plain(cell: Text | str) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _look(cell: Text | str) -> tuple[str, str]:
    """What a cell looks like. (Rich's ``Text.__eq__`` ignores the base style, so a row
    that only changed colour would compare equal.)"""
    if isinstance(cell, Text):
        return cell.plain, str(cell.style)
    return str(cell), ""


def _looks(cells: tuple[Text | str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(_look(cell) for cell in cells)
