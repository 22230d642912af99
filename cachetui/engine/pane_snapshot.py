"""One snapshot of what the panes show: cache entries, pending writes, dead letters,
database rows, each user's key state, and the counts shown beside them (pending, writes
at risk, the metrics), gathered by one call, :meth:`Engine.pane_snapshot
<cachetui.engine.pane_views.PaneViews.pane_snapshot>`.

What is counted and what is listed come from the same instant: the queue, the dead
letters and the metrics are read together, with no await between them, so a pane's
"Queue 156" and a line's "156 writes at risk" never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cachetui.engine.config import WritePolicy
from cachetui.engine.errors import ValidationError
from cachetui.engine.metrics.counters import MetricsSnapshot
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter
from cachetui.engine.queue.write_queue import PendingWrite
from cachetui.engine.states import KeyState, key_state
from cachetui.engine.stores.base import CacheEntry


@dataclass(frozen=True, slots=True)
class PaneSnapshot:
    """What the panes show, at one moment. Nothing in it counts as a read or a hit.

    ``entries``: the cache's entries, youngest first (at most the ``cache_limit`` asked
    for; none while the cache is unavailable), of ``cache_size`` in the store.
    ``pending``: the write-behind queue's writes, oldest first (at most ``pending_limit``),
    of ``pending_count``; ``writes_at_risk``: how many of those a crash would lose (all of
    them with a memory queue, none with a durable one). ``dead_letters``: the parked
    writes, oldest first. ``recent``: the ``db_limit`` most recently updated rows, newest
    first; ``rows``: those and the rows of every user listed or asked about, by user id.
    ``states``: the key state of every user in ``rows`` or ``entries``. ``metrics``: the
    totals taken with the queue (``metrics.pending == pending_count``)."""

    policy: WritePolicy
    capacity: int
    cache_available: bool
    entries: tuple[CacheEntry, ...]
    cache_size: int
    pending: tuple[PendingWrite, ...]
    pending_count: int
    writes_at_risk: int
    dead_letters: tuple[DeadLetter, ...]
    recent: tuple[Profile, ...]
    rows: Mapping[int, Profile]
    states: Mapping[int, KeyState]
    metrics: MetricsSnapshot


def check_limits(cache_limit: int | None, pending_limit: int | None, db_limit: int) -> None:
    """ValidationError naming the first limit that is not a whole number ≥ 0 (the
    cache's and the queue's may be None: all of them)."""
    for name, value, optional in (
        ("cache_limit", cache_limit, True),
        ("pending_limit", pending_limit, True),
        ("db_limit", db_limit, False),
    ):
        if value is None and optional:
            continue
        if type(value) is not int or value < 0:  # noqa: E721 - no bools
            raise ValidationError(f"{name} must be a whole number ≥ 0, not {value!r}")


def key_states(
    users: Iterable[int],
    cached: Mapping[int, Profile],
    queued: Mapping[int, Profile],
    rows: Mapping[int, Profile],
    letters: Mapping[int, DeadLetter],
) -> dict[int, KeyState]:
    """The key state of each of ``users`` from what the cache, the queue, the database
    and the dead letters hold."""
    return {
        user: key_state(cached.get(user), queued.get(user), rows.get(user), letters.get(user))
        for user in users
    }
