"""The Textual bindings, the help screen's rows and the footer's drop order of the
dashboard and of compare mode, all made from :data:`cachetui.app.keys.table.KEYS`."""

from __future__ import annotations

import dataclasses

from textual.binding import Binding, BindingType

from cachetui.app.keys.records import Mode, bindings_in, help_rows
from cachetui.app.keys.table import FOOTER_DROP_ORDER, KEYS

__all__ = ["COMPARE_BINDINGS", "DASHBOARD_BINDINGS", "DASHBOARD_KEY_HELP", "FOOTER_DROP_ORDER"]


def textual_bindings(mode: Mode) -> list[BindingType]:
    """``mode``'s bindings, in the table's order; shown in the footer where the table says."""
    return [
        Binding(
            b.keys, b.action_in(mode), b.label, show=mode in b.footer, id=b.id, tooltip=b.tooltip
        )
        for b in bindings_in(mode, KEYS)
    ]


#: ``CacheTuiApp.BINDINGS`` and ``CompareApp.BINDINGS``.
DASHBOARD_BINDINGS = textual_bindings("dashboard")
COMPARE_BINDINGS = textual_bindings("compare")
#: (keys, what they do) for the dashboard's help screen: the README's key table's rows.
DASHBOARD_KEY_HELP = help_rows(KEYS)


def first_key(binding: Binding) -> Binding:
    """``binding`` with only the first of its keys ("plus,equals_sign": "plus")."""
    return dataclasses.replace(binding, key=binding.key.split(",")[0])
