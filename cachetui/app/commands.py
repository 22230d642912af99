"""The dashboard's commands in the command palette (ctrl+p): every key's action by name,
with its key and what it does in words, and the palette's own "retry every dead letter"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding

from cachetui.app.keys.bindings import first_key


def key_commands(app: App[Any]) -> Iterator[SystemCommand]:
    """A command for each of ``app``'s bindings whose action is available now (the
    scenario's steps only while one runs), then "retry every dead letter"."""
    for binding in app.BINDINGS:
        assert isinstance(binding, Binding)
        action = binding.action
        if app.check_action(action.split("(")[0], ()) is False:
            continue  # next step, step back, leave: only inside a scenario
        yield SystemCommand(
            f"{binding.description} ({app.get_key_display(first_key(binding))})",
            binding.tooltip,
            lambda action=action: app.run_action(action),
        )
    yield SystemCommand(
        "Retry every dead letter (d, then R)",
        "put every parked write back in the write queue",
        lambda: app.run_action("dead_letters('retry_all')"),
    )
