"""Key states, shown the same way in every pane."""

from __future__ import annotations

from enum import StrEnum

from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter


class KeyState(StrEnum):
    CLEAN = "clean"  # the cache holds what the database holds
    DIRTY = "dirty"  # a newer write is pending in the write-behind queue
    STALE = "stale"  # the database is newer than the cache (an external write)
    ORPHANED = "orphaned"  # the cache is newer than the database, and nothing is pending
    UNCACHED = "uncached"  # not in the cache, nothing pending
    # The user's write is parked as a dead letter (engine.dead_letters()), by its kind:
    REJECTED = "rejected"  # the database refused it max_attempts times (a poison row)
    CONFLICT = "conflict"  # another writer changed the row since the write was built


def key_state(
    cached: Profile | None,
    pending: Profile | None,
    db: Profile | None,
    dead_letter: DeadLetter | None = None,
) -> KeyState:
    """The state of one user from what the cache, the queue and the database hold, and
    the user's dead letter if it has one (a dead letter wins: it needs someone to retry
    or discard it, whatever else is cached or pending)."""
    if dead_letter is not None:
        return KeyState.CONFLICT if dead_letter.kind == "conflict" else KeyState.REJECTED
    if pending is not None:
        return KeyState.DIRTY
    if cached is None:
        return KeyState.UNCACHED
    if db is None or cached == db:
        return KeyState.CLEAN if db is not None else KeyState.ORPHANED
    if cached.version > db.version:
        return KeyState.ORPHANED
    return KeyState.STALE
