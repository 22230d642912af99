"""Key states, shown the same way in every pane."""

from __future__ import annotations

from enum import StrEnum

from cachetui.engine.profile import Profile


class KeyState(StrEnum):
    CLEAN = "clean"  # the cache holds what the database holds
    DIRTY = "dirty"  # a newer write is pending in the write-behind queue
    STALE = "stale"  # the database is newer than the cache (an external write)
    ORPHANED = "orphaned"  # the cache is newer than the database, and nothing is pending
    UNCACHED = "uncached"  # not in the cache, nothing pending


def key_state(cached: Profile | None, pending: Profile | None, db: Profile | None) -> KeyState:
    """The state of one user from what the cache, the queue and the database hold."""
    if pending is not None:
        return KeyState.DIRTY
    if cached is None:
        return KeyState.UNCACHED
    if db is None or cached == db:
        return KeyState.CLEAN if db is not None else KeyState.ORPHANED
    if cached.version > db.version:
        return KeyState.ORPHANED
    return KeyState.STALE
