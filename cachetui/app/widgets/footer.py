"""A footer that fits its width: compact when needed, then without its least useful keys
(they stay in the help screen and the command palette)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from cachetui.app.keys.records import PALETTE_ACTION

PALETTE = PALETTE_ACTION


def key_width(key: FooterKey, compact: bool) -> int:
    """Cells a FooterKey takes (Footer's own CSS: key padding, description padding, margin;
    the palette key also has a left border)."""
    text = cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0)
    if key.has_class("-command-palette"):
        return text + (2 if compact else 4)
    return text + (1 if compact else 2)


class DashboardFooter(Footer):
    """``drop_order``: actions whose keys leave the footer first, in order (``"command_palette"``
    for the ctrl+p key), when even the compact footer does not fit."""

    def __init__(self, drop_order: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.drop_order = list(drop_order)
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        width = self.size.width
        self._fitted_width = width
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        compact = width > 0 and _total(keys, compact=False) > width
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        dropped: set[int] = set()
        for action in self.drop_order if compact else ():
            if _total((k for k in keys if id(k) not in dropped), compact=True) <= width:
                break
            dropped |= {id(k) for k in keys if _action(k) == action}
        yield from (w for w in widgets if id(w) not in dropped)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)


def _action(key: FooterKey) -> str:
    return PALETTE if key.has_class("-command-palette") else key.action


def _total(keys: Iterable[Widget], *, compact: bool) -> int:
    return sum(key_width(k, compact) for k in keys if isinstance(k, FooterKey))
