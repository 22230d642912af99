"""What the Cache, Write queue and Database panes show, made from one
:class:`~cachetui.engine.PaneSnapshot`: their rows (cells keyed by user id) and their
titles, for the dashboard and for each side of compare. No Textual here: the widgets in
:mod:`cachetui.app.widgets.panes` only draw what this gives them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cachetui.app.fleet_view import FleetQueue
from cachetui.app.states import DARK, SYMBOLS, Palette, ago, compact
from cachetui.app.widgets.table_columns import Cell, Cells
from cachetui.engine import CacheEntry, KeyState, PaneSnapshot, PendingWrite, Profile, WritePolicy

FOLLOW_MARK = "▸"

#: A cell as (text, Rich style): a pane builds hundreds of them per repaint, and a Rich
#: Text per cell would cost more than drawing the rows on screen.
StyledCell = tuple[str, str]
Rows = list[tuple[int, Cells]]


@dataclass(frozen=True, slots=True)
class Look:
    """How the rows look: the user followed (marked in every pane), durations shown or
    not (deterministic snapshots), the theme's palette, a ttl column rather than age."""

    followed: int | None = None
    timings: bool = True
    palette: Palette = DARK
    ttl: bool = False


@dataclass(frozen=True, slots=True)
class PaneContent:
    """One pane: its rows, and its title and subtitle as variants, longest first."""

    rows: Rows
    titles: tuple[str, ...]
    subtitles: tuple[str, ...] = ("",)


@dataclass(frozen=True, slots=True)
class PaneContents:
    """The three panes' contents, from one snapshot. A title's last variants abbreviate
    its count (``DB 120k``) rather than let the border cut it."""

    cache: PaneContent
    queue: PaneContent
    database: PaneContent


# -- cells ---------------------------------------------------------------------------------
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


# -- rows ----------------------------------------------------------------------------------
def cache_rows(
    entries: Iterable[CacheEntry], states: Mapping[int, KeyState], look: Look = Look()
) -> Rows:
    """The Cache pane's rows, by user id: user, v, name, state, uses, age (or ttl)."""
    rows: Rows = []
    for entry in sorted(entries, key=lambda e: e.profile.user_id):
        p = entry.profile
        state = states[p.user_id]
        if not look.timings:
            last = "–"
        elif look.ttl:
            last = ago(max(0.0, entry.ttl_left or 0.0))
        else:
            last = ago(entry.age)
        cells = profile_cells(p, state, look.followed, look.palette)
        rows.append((p.user_id, (*cells, str(entry.hits), last)))
    return rows


def queue_rows(
    pending: Iterable[PendingWrite],
    db: Mapping[int, Profile],
    look: Look = Look(),
    fleet: FleetQueue | None = None,
) -> Rows:
    """The Write queue pane's rows, oldest first: user, v, db v, coalesced, age, retries,
    in flight. In a ``fleet``, an owner cell after v, and then the writes in the
    partitions of other instances (newest version, entries beyond the first as
    coalesced)."""
    rows: Rows = []
    state = KeyState.DIRTY
    palette = look.palette
    owners = fleet.owners if fleet is not None else {}
    for write in pending:
        row = db.get(write.user_id)
        cells: list[Cell] = [
            user_cell(write.user_id, state, write.user_id == look.followed, palette),
            (str(write.version), palette.rows[state]),
            str(row.version) if row else "–",
            f"+{write.coalesced}" if write.coalesced else "",
            ago(write.age) if look.timings else "–",
            (str(write.retries), f"bold {palette.bad}") if write.retries else "",
            ("⇡ db", "italic") if write.in_flight else "",
        ]
        if fleet is not None:
            cells.insert(2, owners.get(write.user_id, ""))
        rows.append((write.user_id, tuple(cells)))
    for user, version, entries in fleet.more if fleet is not None else ():
        row = db.get(user)
        rows.append(
            (
                user,
                (
                    user_cell(user, state, user == look.followed, palette),
                    (str(version), palette.rows[state]),
                    owners.get(user, ""),
                    str(row.version) if row else "–",
                    f"+{entries - 1}" if entries > 1 else "",
                    "–",
                    "",
                    "",
                ),
            )
        )
    return rows


def database_rows(
    window: Iterable[Profile], states: Mapping[int, KeyState], look: Look = Look()
) -> Rows:
    """The Database pane's rows, in the window's order: user, v, name, state, updated."""
    return [
        (
            p.user_id,
            (
                *profile_cells(p, states[p.user_id], look.followed, look.palette),
                p.updated_at[11:23],
            ),
        )
        for p in window
    ]


def database_window(snapshot: PaneSnapshot, first: Iterable[int], limit: int) -> list[Profile]:
    """At most ``limit`` rows: those of the users ``first`` (in that order, each once),
    then the most recently updated: bounded, so 100,000 rows never reach the table."""
    chosen: dict[int, Profile] = {}
    rows = snapshot.rows
    for user in first:
        if user in rows:
            chosen.setdefault(user, rows[user])
    for profile in snapshot.recent:
        chosen.setdefault(profile.user_id, profile)
    return list(chosen.values())[:limit]


def state_counts(snapshot: PaneSnapshot, short: bool = False) -> str:
    """How many cache entries are in each state: ``3 clean · 1 dirty`` (short: ``3● 1◆``)."""
    counts = dict.fromkeys(KeyState, 0)
    for entry in snapshot.entries:
        counts[snapshot.states[entry.profile.user_id]] += 1
    shown = [s for s in KeyState if counts[s] and s != KeyState.UNCACHED]
    if short:
        return " ".join(f"{counts[s]}{SYMBOLS[s]}" for s in shown)
    return " · ".join(f"{counts[s]} {s.value}" for s in shown)


# -- the dashboard ---------------------------------------------------------------------------
def dashboard_contents(
    snapshot: PaneSnapshot,
    look: Look,
    *,
    listed: int,
    first: Sequence[int],
    db_rows: int,
    flush: tuple[str, str],
    total_rows: int,
    fleet: FleetQueue | None = None,
) -> PaneContents:
    """The dashboard's panes: ``listed`` writes of the queue, the Database pane's
    ``db_rows`` rows with ``first``'s first (followed, parked, just touched), ``flush``:
    what the queue's subtitle says of flushing (long, short), ``total_rows``: the
    table's size as last known; ``fleet``: the fleet's pending writes (an owner column)."""
    s = snapshot
    window = database_window(s, first, db_rows)
    return PaneContents(
        cache=PaneContent(cache_rows(s.entries, s.states, look), *_cache_titles(s)),
        queue=PaneContent(
            queue_rows(s.pending[:listed], s.rows, look, fleet),
            *_queue_titles(s, listed, flush, fleet),
        ),
        database=PaneContent(
            database_rows(window, s.states, look),
            (
                f"Database {total_rows:,} rows",
                f"DB {total_rows:,} rows",
                f"DB {total_rows:,}",
                f"DB {compact(total_rows)}",
            ),
            (f"{len(window)} rows: followed, just written, latest updated", f"{len(window)} rows"),
        ),
    )


def _cache_titles(s: PaneSnapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
    size, capacity = s.cache_size, s.capacity
    if s.policy is WritePolicy.NO_CACHE:  # its entries are kept, but not used
        return (
            (f"Cache {size:,}/{capacity:,}", f"Cache {size:,}", f"C {compact(size)}"),
            ("not used under no-cache: reads go to the DB", "unused: no-cache"),
        )
    if not s.cache_available:
        return ("Cache ✖ unavailable", "Cache ✖"), ("reads go to the database", "reads → DB")
    # a big cache is listed in part (the youngest entries): the title says so
    listed = len(s.entries)
    part = (f"Cache {size:,}/{capacity:,} · youngest {listed:,} listed",) if size > listed else ()
    return (
        (*part, f"Cache {size:,}/{capacity:,}", f"Cache {size:,}", f"C {compact(size)}"),
        (state_counts(s), state_counts(s, True)),
    )


def _queue_titles(
    s: PaneSnapshot, listed: int, flush: tuple[str, str], fleet: FleetQueue | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    count = s.pending_count
    subtitles: tuple[str, ...] = flush
    if fleet is not None:  # what this instance lands, then what the whole fleet holds
        more = "+" if fleet.entries >= listed else ""
        subtitles = (f"fleet {fleet.entries:,}{more} pending · {flush[0]}", *flush)
    # dead letters are not in the queue (one row per user): the title counts them
    letters = len(s.dead_letters)
    parked = f" · {SYMBOLS[KeyState.REJECTED]} {letters:,} parked" if letters else ""
    shown = min(count, listed)
    part = (  # a long queue is listed in part (its oldest writes): the title says so
        (
            f"Write queue {count:,} · first {shown:,} listed{parked}",
            f"Queue {count:,} · {shown:,} listed{parked}",
        )
        if shown < count
        else ()
    )
    titles = (
        *part,
        f"Write queue {count:,}{parked}",
        f"Queue {count:,}{parked}",
        f"Queue {count:,}",
        f"Q {compact(count)}",
    )
    if s.policy is not WritePolicy.WRITE_BEHIND and not count and fleet is None:
        return titles, ("empty: only write-behind queues", "write-behind only")
    return titles, subtitles


# -- a side of compare -------------------------------------------------------------------------
def compare_contents(
    snapshot: PaneSnapshot, look: Look, *, listed: int, db_rows: int, total_rows: int
) -> PaneContents:
    """One side of compare: compact titles, ``listed`` writes of the queue, the
    Database pane's ``db_rows`` rows with the followed user's first."""
    s = snapshot
    first = () if look.followed is None else (look.followed,)
    window = database_window(s, first, db_rows)
    size, count = s.cache_size, s.pending_count
    cache_titles = (
        (f"Cache {size:,}/{s.capacity:,}", f"Cache {size:,}", f"C {size}", f"C {compact(size)}")
        if s.cache_available
        else ("Cache ✖ unavailable", "Cache ✖")
    )
    return PaneContents(
        cache=PaneContent(cache_rows(s.entries, s.states, look), cache_titles),
        queue=PaneContent(
            queue_rows(s.pending[:listed], s.rows, look),
            (f"Write queue {count:,}", f"Queue {count:,}", f"Q {count}", f"Q {compact(count)}"),
        ),
        database=PaneContent(
            database_rows(window, s.states, look),
            (f"Database {total_rows:,}", f"DB {total_rows:,}", f"DB {compact(total_rows)}", "DB"),
        ),
    )
