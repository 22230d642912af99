"""The three side-by-side panes: Cache, Write queue, Database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cachetui.app.states import DARK, SYMBOLS, Palette, ago
from cachetui.app.widgets.key_table import Cells, Column, KeyTable
from cachetui.engine import CacheEntry, KeyState, PendingWrite, Profile

FOLLOW_MARK = "▸"


#: A cell as (text, Rich style): a pane builds hundreds of them per repaint, and a Rich
#: Text per cell would cost more than drawing the rows on screen.
StyledCell = tuple[str, str]


def user_cell(user: int, state: KeyState, followed: bool, palette: Palette = DARK) -> StyledCell:
    style = palette.rows[state] + (" reverse" if followed else "")
    return f"{FOLLOW_MARK if followed else ' '}{user}", style


def name_cell(name: str, state: KeyState, palette: Palette = DARK) -> StyledCell:
    return name, palette.rows[state].replace("bold ", "")


def state_cell(state: KeyState, palette: Palette = DARK) -> StyledCell:
    return f"{SYMBOLS[state]} {state.value}", palette.states[state]


def profile_cells(
    p: Profile, state: KeyState, followed: int | None, palette: Palette = DARK
) -> tuple[StyledCell, ...]:
    """The leading cells the Cache and Database panes share: user, v, name, state."""
    return (
        user_cell(p.user_id, state, p.user_id == followed, palette),
        (str(p.version), palette.rows[state]),
        name_cell(p.name, state, palette),
        state_cell(state, palette),
    )


#: The columns the Cache and Database panes start with.
PROFILE_COLUMNS = (
    Column("user", 5, fit=True),
    Column("v", 3, fit=True),
    Column("name", 12, grow=8),
    Column("state", 10),
)


class CachePane(KeyTable):
    """What the cache store holds, by user id. Narrow, it keeps user, version and state
    (as its symbol when even narrower). ``uses``: the lookups that found the entry, by
    reads and by updates (the hit ratio counts reads only)."""

    NARROWING = (
        ("drop", "age"),
        ("drop", "uses"),
        ("drop", "name"),
        ("squeeze", "state"),
    )

    def __init__(self, ttl: bool, **kwargs: str | None) -> None:
        last = Column("ttl", 5, key="age", fit=True) if ttl else Column("age", 5, fit=True)
        self.show_ttl = ttl
        super().__init__([*PROFILE_COLUMNS, Column("uses", 4, fit=True), last], **kwargs)

    def show(
        self,
        entries: Sequence[CacheEntry],
        states: Mapping[int, KeyState],
        followed: int | None,
        *,
        timings: bool = True,
        palette: Palette = DARK,
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
            cells = profile_cells(p, state, followed, palette)
            rows.append((p.user_id, (*cells, str(entry.hits), last)))
        self.sync(rows)


class QueuePane(KeyTable):
    """Pending write-behind writes, oldest first. Narrow, it keeps user, version, the
    database's version and how many updates were coalesced."""

    NARROWING = (
        ("drop", "age"),
        ("drop", "in-flight"),
        ("drop", "retry"),
        ("drop", "coal."),
    )

    def __init__(self, **kwargs: str | None) -> None:
        columns = [
            Column("user", 5, fit=True),
            Column("v", 3, fit=True),
            Column("db v", 4, fit=True),
            Column("coal.", 5, fit=True),
            Column("age", 5, fit=True),
            Column("retry", 5, fit=True),
            Column("", 4, key="in-flight"),
        ]
        super().__init__(columns, **kwargs)

    def show(
        self,
        pending: Sequence[PendingWrite],
        db: Mapping[int, Profile],
        followed: int | None,
        *,
        timings: bool = True,
        palette: Palette = DARK,
    ) -> None:
        rows: list[tuple[int, Cells]] = []
        state = KeyState.DIRTY
        for write in pending:
            row = db.get(write.user_id)
            rows.append(
                (
                    write.user_id,
                    (
                        user_cell(write.user_id, state, write.user_id == followed, palette),
                        (str(write.version), palette.rows[state]),
                        str(row.version) if row else "–",
                        f"+{write.coalesced}" if write.coalesced else "",
                        ago(write.age) if timings else "–",
                        (str(write.retries), f"bold {palette.bad}") if write.retries else "",
                        ("⇡ db", "italic") if write.in_flight else "",
                    ),
                )
            )
        self.sync(rows)


class DatabasePane(KeyTable):
    """A bounded window of the profiles table: recent rows plus the users on screen.
    Narrow, it keeps user, version and state (as its symbol when even narrower)."""

    NARROWING = (
        ("drop", "updated"),
        ("drop", "name"),
        ("squeeze", "state"),
    )

    def __init__(self, **kwargs: str | None) -> None:
        super().__init__([*PROFILE_COLUMNS, Column("updated", 12)], **kwargs)

    def show(
        self,
        rows_in_order: Sequence[Profile],
        states: Mapping[int, KeyState],
        followed: int | None,
        *,
        palette: Palette = DARK,
    ) -> None:
        rows: list[tuple[int, Cells]] = []
        for p in rows_in_order:
            state = states[p.user_id]
            cells = profile_cells(p, state, followed, palette)
            rows.append((p.user_id, (*cells, p.updated_at[11:23])))
        self.sync(rows)
