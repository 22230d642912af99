"""The dead letters as a table (one row per user) and the words for the one selected."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from cachetui.app.states import DARK, Palette, state_cell
from cachetui.app.widgets.key_table import Cells, Column, KeyTable
from cachetui.engine import DeadLetter, KeyState, key_state
from cachetui.engine.words import plural


def letter_state(letter: DeadLetter) -> KeyState:
    """REJECTED or CONFLICT: the state a dead letter gives its user in every pane."""
    return key_state(None, None, None, letter)


class DeadLetterTable(KeyTable):
    """Parked writes, oldest first: user, state, the versions, tries and the database's error.
    Narrow, the error goes first (the line under the table shows it in full)."""

    NARROWING = (
        ("drop", "error"),
        ("drop", "tries"),
        ("squeeze", "state"),
    )

    def __init__(self, **kwargs: str | None) -> None:
        columns = [
            Column("user", 5, fit=True),
            Column("state", 10),
            Column("v", 3, fit=True),
            Column("base", 4, fit=True),
            Column("db v", 4, fit=True),
            Column("tries", 5, fit=True),
            Column("error", 12, grow=200),
        ]
        super().__init__(columns, **kwargs)

    def show(self, letters: Sequence[DeadLetter], palette: Palette = DARK) -> None:
        rows: list[tuple[int, Cells]] = []
        for letter in letters:
            state = letter_state(letter)
            style = palette.rows[state]
            rows.append(
                (
                    letter.user_id,
                    (
                        Text(f" {letter.user_id}", style=style),
                        state_cell(state, palette),
                        Text(str(letter.version), style=style),
                        str(letter.base_version),
                        "–" if letter.db_version is None else str(letter.db_version),
                        str(letter.attempts),
                        Text(letter.error, overflow="ellipsis", no_wrap=True),
                    ),
                )
            )
        self.sync(rows)


def describe_letter(letter: DeadLetter, conflict_rule: str = "reject") -> str:
    """What a dead letter is and what retrying or discarding it would do, in words."""
    user, version, base = letter.user_id, letter.version, letter.base_version
    when = f"first {_clock(letter.first_failed_at)}, last {_clock(letter.last_failed_at)} UTC"
    if letter.kind == "conflict":
        found = "the row was gone" if letter.db_version is None else f"v{letter.db_version}"
        retry = (
            "r: back in the queue (it replaces the row, --conflict overwrite)"
            if conflict_rule == "overwrite"
            else f"r: it conflicts again while the row is not at v{base}"
        )
        return (
            f"User {user} v{version} was built on v{base}, but another writer got there "
            f"first: the database had {found} ({when}).\n{retry}; delete: discard it, "
            "the other writer's version stays."
        )
    tries = f"{letter.attempts} {plural(letter.attempts, 'try', 'tries')}"
    return (
        f"User {user} v{version} (built on v{base}) was rejected by the database after "
        f"{tries} ({when}): {letter.error}\n"
        "r: back in the write queue (fix the cause first: P accepts a lab rejection); "
        "delete: discard it."
    )


def _clock(timestamp: str) -> str:
    """``HH:MM:SS`` of an ISO 8601 timestamp (the whole text if it is not one)."""
    time = timestamp.partition("T")[2]
    return time[:8] if len(time) >= 8 else timestamp
