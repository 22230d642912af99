"""What the write policies share: the read-miss path, what an update builds on, and
the commit-first update of the policies that write the database before acknowledging.

One module per policy beside this one holds its update path and its read-miss path, so
the semantics table (docs/engine.md) maps to files (cachetools' one small class per eviction
policy is the model).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from cachetui.engine.config import WritePolicy
from cachetui.engine.core import EngineCore, perf_counter
from cachetui.engine.errors import OutcomeUnknown, WriteConflict, WriteRejected
from cachetui.engine.events import EventKind
from cachetui.engine.profile import Profile


class Policy:
    """A write policy over the engine's core. ``update`` and ``read_miss`` run with the
    user's key lock held (per-key serialization and single-flight misses)."""

    name: ClassVar[WritePolicy]
    #: False for no-cache: reads never look in the cache.
    uses_cache: ClassVar[bool] = True

    def __init__(self, core: EngineCore) -> None:
        self._core = core

    async def read_miss(self, op: int, user_id: int) -> Profile:
        """A read the cache could not serve (the MISS event is already emitted)."""
        core = self._core
        await core.locks.acquire(user_id)
        try:
            # Whoever held the lock may have filled the cache (single flight).
            cached = await core.cache.get(user_id)
            if cached is not None:
                return cached
            pending = self._pending(user_id)
            if core.fleet is not None:  # the fleet's heads too (read-your-writes across it)
                return await core.fleet.fill(op, user_id, pending)
            if pending is not None:
                profile, detail = pending
                core.emit(op, EventKind.QUEUE_HIT, user_id, profile.version, None, detail)
                await core.cache.set(profile, fill=True)
                return profile
            return await self._fill_from_db(op, user_id)
        finally:
            core.locks.release(user_id)

    def _pending(self, user_id: int) -> tuple[Profile, str] | None:
        """An acknowledged value not in the database that a miss serves before it, and
        what to say of it: here a rejected dead letter (write-behind looks in its queue
        first). A dead letter the database rejected is the user's newest acknowledged
        value: reads serve it and updates build on it (read-your-writes, as with the
        queue)."""
        letter = self._core.dead_letters.rejected(user_id)
        if letter is None:
            return None
        return letter.profile, "served from the dead letters (the database rejected this write)"

    async def _fill_from_db(self, op: int, user_id: int) -> Profile:
        profile = await self._core.read_db(op, user_id)
        if await self._core.cache.set(profile, fill=True):
            self._core.emit(op, EventKind.CACHE_FILL, user_id, profile.version, None, "")
        return profile

    async def current(self, op: int, user_id: int) -> Profile:
        """What an update builds on: the cache, the pending queue, else the database."""
        core = self._core
        if self.uses_cache:
            cached = await core.cache.get(user_id)
            if cached is not None:
                return cached
        pending = core.queue.get(user_id)
        if pending is not None:
            return pending
        letter = core.dead_letters.rejected(user_id)
        if letter is not None:
            return letter.profile
        return await core.read_db(op, user_id)

    async def update(self, op: int, user_id: int, changes: dict[str, Any], epoch: int) -> Profile:
        """Apply ``changes``; the profile to acknowledge. Raises what the database or
        the lab raises (DatabaseUnavailable, ProfileNotFound, Interrupted)."""
        raise NotImplementedError


class CommitFirst(Policy):
    """write-through, write-around and no-cache: the database commit comes first, then
    :meth:`after_commit` updates the cache."""

    async def update(self, op: int, user_id: int, changes: dict[str, Any], epoch: int) -> Profile:
        core = self._core
        if user_id in core.unsettled:  # a write never acknowledged may be in the queue
            await core.settle(user_id)
        letter = core.dead_letters.rejected(user_id)
        if letter is not None:
            raise WriteRejected(
                user_id,
                letter.version,
                f"user {user_id} has a parked dead letter (v{letter.version}: "
                f"{letter.error}); retry or discard it first",
            )
        if user_id in core.commits.unsettled:  # its row may be about to change
            await core.commits.settle(user_id)
        current = await self.current(op, user_id)
        write_id = core.write_id(op)
        profile = current.apply(changes, core.timestamp(), write_id)
        core.check_epoch(epoch)  # a crashed process commits nothing more
        start = perf_counter()
        base = current.version
        try:
            try:
                await core.committer.write(profile, base)
            except WriteConflict as conflict:
                # Another writer changed the row since it was read: the caller was not
                # acknowledged, so re-read the row and apply the changes once more.
                core.emit(
                    op,
                    EventKind.CONFLICT,
                    user_id,
                    profile.version,
                    None,
                    f"built on v{current.version} but {conflict.reason}: re-reading the "
                    "row and applying the changes again",
                )
                fresh = await core.read_db(op, user_id)
                profile = fresh.apply(changes, core.timestamp(), write_id)
                base = fresh.version
                await core.committer.write(profile, base)
        except OutcomeUnknown as exc:
            # The reply was lost: the row may hold this write or not. No read may serve
            # the cached value beside it until the row's write id settles it.
            await self._drop_entry(user_id)
            core.commits.lost(op, profile, base, exc)
            raise OutcomeUnknown(
                f"user {user_id} v{profile.version} (write {write_id}): {exc}",
                user_id=user_id,
                write_id=write_id,
                session=exc.session,
            ) from exc
        except asyncio.CancelledError:
            # The commit has finished (GroupCommit waits for it), but whether the row
            # landed is unknown: never leave an older value cached beside it.
            await self._drop_entry(user_id)
            raise
        except WriteConflict:
            await self._drop_entry(user_id)  # the cached value is older than the row
            raise
        core.emit(
            op, EventKind.DB_WRITE, user_id, profile.version, perf_counter() - start, "committed"
        )
        try:
            await self.after_commit(op, profile)
        except asyncio.CancelledError:
            # Cancelled before the cache was set or its entry dropped: the entry may be
            # older than the committed row.
            await self._drop_entry(user_id)
            raise
        core.check_epoch(epoch)  # committed, but never acknowledged
        return profile

    async def _drop_entry(self, user_id: int) -> None:
        """Drop the user's cache entry, finishing even if the caller is cancelled again."""
        await asyncio.shield(asyncio.ensure_future(self._core.cache.delete(user_id)))

    async def after_commit(self, op: int, profile: Profile) -> None:
        raise NotImplementedError

    async def _invalidate(self, op: int, user_id: int, detail: str) -> None:
        if await self._core.cache.delete(user_id):
            self._core.emit(op, EventKind.INVALIDATE, user_id, None, None, detail)
