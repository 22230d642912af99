"""write-around: the database commit, then the cache entry invalidated, then the
acknowledgement; the next read misses and fills the cache from the database."""

from __future__ import annotations

from cachetui.engine.config import WritePolicy
from cachetui.engine.policies.base import CommitFirst
from cachetui.engine.profile import Profile


class WriteAround(CommitFirst):
    name = WritePolicy.WRITE_AROUND

    async def after_commit(self, op: int, profile: Profile) -> None:
        await self._invalidate(op, profile.user_id, "cache entry dropped")
