"""What a row of the key table holds, and the views on the table that need no Textual:
which keys a mode binds, which actions a condition gates, the help screen's and the
README's rows. The table itself is :data:`cachetui.app.keys.table.KEYS`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from typing import Literal

#: Where a key is bound: the dashboard (``cachetui``) or compare mode (``cachetui compare``).
Mode = Literal["dashboard", "compare"]
#: When a dashboard key is active (its part's ``check_action``); compare binds its keys
#: always. ``talk``: talk mode (``--talk``); ``link`` / ``no link``: with or without a link
#: (``--db-rtt``, ``--cache-rtt``); ``scenario``: while a scenario runs (or waits to start).
Condition = Literal["talk", "link", "no link", "scenario"]
BOTH: frozenset[Mode] = frozenset(("dashboard", "compare"))
DASHBOARD: frozenset[Mode] = frozenset(("dashboard",))
COMPARE: frozenset[Mode] = frozenset(("compare",))
#: The action of Textual's ctrl+p key (the command palette), as the footer names it.
PALETTE_ACTION = "command_palette"


@dataclasses.dataclass(frozen=True)
class KeyBinding:
    """One binding: ``keys`` in Textual's names, comma-separated (``"plus,equals_sign"``);
    ``label`` is the footer's and the command palette's name for it, ``tooltip`` the
    palette's line about it; ``footer``: the modes whose footer shows it (the others bind
    it hidden: it stays in help and the palette)."""

    keys: str
    action: str
    label: str
    id: str
    tooltip: str
    modes: frozenset[Mode] = DASHBOARD
    footer: frozenset[Mode] = frozenset()
    when: Condition | None = None
    compare_action: str | None = None  # compare's action for the key, where it differs

    def action_in(self, mode: Mode) -> str:
        return self.compare_action if mode == "compare" and self.compare_action else self.action


@dataclasses.dataclass(frozen=True)
class Key:
    """One row of the key table: ``keys`` as the help screen and the README show them,
    ``help`` (Markdown) what they do, and the bindings behind them (none for the keys
    Textual or a widget provides: enter, tab, ctrl+p). A row is listed in the dashboard's
    help and the README unless all its bindings are compare's only."""

    keys: str
    help: str
    bindings: tuple[KeyBinding, ...] = ()

    @property
    def listed(self) -> bool:
        return not self.bindings or any("dashboard" in b.modes for b in self.bindings)


def bindings_in(mode: Mode, keys: Iterable[Key]) -> Iterator[KeyBinding]:
    """The bindings ``mode`` binds, in the table's order (the footer's and the palette's)."""
    return (b for key in keys for b in key.bindings if mode in b.modes)


def actions_when(condition: Condition, keys: Iterable[Key]) -> tuple[str, ...]:
    """The dashboard actions that are active only under ``condition``."""
    return tuple(b.action for b in bindings_in("dashboard", keys) if b.when == condition)


_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")  # [text](target)


def help_rows(keys: Iterable[Key]) -> list[tuple[str, str]]:
    """(keys, what they do) for the help screen: the README's rows, links as their text."""
    return [(key.keys, _LINK.sub(r"\1", key.help)) for key in keys if key.listed]


def markdown_rows(keys: Iterable[Key]) -> list[str]:
    """The README's key table, row by row (its header excluded)."""
    return [f"| `{key.keys}` | {key.help} |" for key in keys if key.listed]


def link_stand_ins(keys: Iterable[Key]) -> dict[str, str]:
    """{action with a link: the action it stands in for, bound to the same key without one}."""
    return {
        linked.action: plain.action
        for key in keys
        for linked in key.bindings
        if linked.when == "link"
        for plain in key.bindings
        if plain.when == "no link" and plain.keys == linked.keys
    }
