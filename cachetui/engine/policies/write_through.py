"""write-through: the database commit, then the cache set, then the acknowledgement.

A failed commit raises to the caller and leaves the cache unchanged. A read miss reads
the database and fills the cache (the shared path in :mod:`.base`).
"""

from __future__ import annotations

from cachetui.engine.config import WritePolicy
from cachetui.engine.events import EventKind
from cachetui.engine.policies.base import CommitFirst
from cachetui.engine.profile import Profile


class WriteThrough(CommitFirst):
    name = WritePolicy.WRITE_THROUGH

    async def after_commit(self, op: int, profile: Profile) -> None:
        if await self._core.cache.set(profile):
            self._core.emit(op, EventKind.CACHE_SET, profile.user_id, profile.version, None, "")
