"""no-cache: the baseline without a cache. Every read and every write goes straight to
the database; an entry left in the cache from another policy is dropped on update (it
would be stale)."""

from __future__ import annotations

from cachetui.engine.config import WritePolicy
from cachetui.engine.policies.base import CommitFirst
from cachetui.engine.profile import Profile


class NoCache(CommitFirst):
    name = WritePolicy.NO_CACHE
    uses_cache = False

    async def read_miss(self, op: int, user_id: int) -> Profile:
        """Every read: straight from the database (no MISS event, no fill)."""
        return await self._core.read_db(op, user_id)

    async def after_commit(self, op: int, profile: Profile) -> None:
        await self._invalidate(
            op, profile.user_id, "cache entry dropped (no-cache: it would be stale)"
        )
