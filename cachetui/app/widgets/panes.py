"""The three side-by-side panes: Cache, Write queue, Database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from cachetui.app.states import STYLES, ago, state_cell
from cachetui.app.widgets.key_table import Cells, KeyTable
from cachetui.engine import CacheEntry, KeyState, PendingWrite, Profile

FOLLOW_MARK = "▸"


def user_cell(user: int, state: KeyState, followed: bool) -> Text:
    style = STYLES[state] + (" reverse" if followed else "")
    return Text(f"{FOLLOW_MARK if followed else ' '}{user}", style=style)


def name_cell(name: str, state: KeyState) -> Text:
    return Text(name, style=STYLES[state].replace("bold ", ""), overflow="ellipsis", no_wrap=True)


def profile_cells(p: Profile, state: KeyState, followed: int | None) -> tuple[Text, ...]:
    """The leading cells the Cache and Database panes share: user, v, name, state."""
    return (
        user_cell(p.user_id, state, p.user_id == followed),
        Text(str(p.version), style=STYLES[state]),
        name_cell(p.name, state),
        state_cell(state),
    )


class CachePane(KeyTable):
    """What the cache store holds, by user id."""

    def __init__(self, ttl: bool, **kwargs: object) -> None:
        columns = [("user", 5), ("v", 3), ("name", 12), ("state", 10), ("hits", 4)]
        columns.append(("ttl", 6) if ttl else ("age", 6))
        self.show_ttl = ttl
        super().__init__(columns, **kwargs)

    def show(
        self,
        entries: Sequence[CacheEntry],
        states: Mapping[int, KeyState],
        followed: int | None,
        *,
        timings: bool = True,
    ) -> None:
        rows: list[tuple[int, Cells]] = []
        for entry in sorted(entries, key=lambda e: e.profile.user_id):
            p = entry.profile
            state = states[p.user_id]
            last = (
                (ago(max(0.0, entry.ttl_left or 0.0)) if self.show_ttl else ago(entry.age))
                if timings
                else "–"
            )
            rows.append((p.user_id, (*profile_cells(p, state, followed), str(entry.hits), last)))
        self.sync(rows)


class QueuePane(KeyTable):
    """Pending write-behind writes, oldest first."""

    def __init__(self, **kwargs: object) -> None:
        columns = [
            ("user", 6),
            ("v", 3),
            ("db v", 4),
            ("coal.", 5),
            ("age", 6),
            ("retry", 5),
            ("", 9),
        ]
        super().__init__(columns, **kwargs)

    def show(
        self,
        pending: Sequence[PendingWrite],
        db: Mapping[int, Profile],
        followed: int | None,
        *,
        timings: bool = True,
    ) -> None:
        rows: list[tuple[int, Cells]] = []
        state = KeyState.DIRTY
        for write in pending:
            row = db.get(write.user_id)
            rows.append(
                (
                    write.user_id,
                    (
                        user_cell(write.user_id, state, write.user_id == followed),
                        Text(str(write.version), style=STYLES[state]),
                        str(row.version) if row else "–",
                        f"+{write.coalesced}" if write.coalesced else "",
                        ago(write.age) if timings else "–",
                        Text(str(write.retries), style="bold red") if write.retries else "",
                        Text("⇡ db", style="italic") if write.in_flight else "",
                    ),
                )
            )
        self.sync(rows)


class DatabasePane(KeyTable):
    """A bounded window of the profiles table: recent rows plus the users on screen."""

    def __init__(self, **kwargs: object) -> None:
        columns = [("user", 5), ("v", 3), ("name", 12), ("state", 10), ("updated", 12)]
        super().__init__(columns, **kwargs)

    def show(
        self,
        rows_in_order: Sequence[Profile],
        states: Mapping[int, KeyState],
        followed: int | None,
    ) -> None:
        rows: list[tuple[int, Cells]] = []
        for p in rows_in_order:
            state = states[p.user_id]
            rows.append((p.user_id, (*profile_cells(p, state, followed), p.updated_at[11:23])))
        self.sync(rows)
