"""A DataTable updated by diffing rows by key, never rebuilt."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

Cells = Sequence[Text | str]


class KeyTable(DataTable[Text | str]):
    """Rows keyed by user id. :meth:`sync` applies a new list of rows as a diff:
    removes vanished keys, updates changed cells, adds new rows, re-sorts if needed."""

    DEFAULT_CSS = """
    KeyTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, int | None]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._column_spec = columns
        self._rows_now: dict[str, tuple[Text | str, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for label, width in self._column_spec:
            self.add_column(label, key=label, width=width)

    def sync(self, rows: Sequence[tuple[int, Cells]]) -> None:
        keys = [str(user) for user, _ in rows]
        wanted = {str(user): tuple(cells) for user, cells in rows}
        columns = [label for label, _ in self._column_spec]
        with self.app.batch_update():
            for key in [k for k in self._rows_now if k not in wanted]:
                with contextlib.suppress(RowDoesNotExist):
                    self.remove_row(key)
                del self._rows_now[key]
            for key, cells in wanted.items():
                old = self._rows_now.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                elif old != cells or _looks(old) != _looks(cells):
                    for column, before, after in zip(columns, old, cells, strict=True):
                        if _look(before) != _look(after):
                            self.update_cell(key, column, after)
                self._rows_now[key] = cells
            if keys != self._order:
                order = {_plain(cells[0]): index for index, (_, cells) in enumerate(rows)}
                self.sort(columns[0], key=lambda cell: order.get(_plain(cell), 0))
                self._order = keys

    def user_at_cursor(self) -> int | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an empty or shrinking table
            return None
        return int(row_key.value) if row_key.value is not None else None

    def move_to_user(self, user: int) -> None:
        key = str(user)
        if key in self._rows_now:
            with contextlib.suppress(RowDoesNotExist):
                self.move_cursor(row=self.get_row_index(key), animate=False)


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
