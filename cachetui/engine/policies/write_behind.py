"""write-behind (write-back): the cache set and the write queued, then the
acknowledgement at once; the flusher (:mod:`cachetui.engine.queue.flusher`) lands the queue
in batches later.

Updates of a user already queued coalesce into one pending write; a full queue
(``max_pending`` users) makes new users wait (backpressure). A read miss looks in the
pending queue before the database (read-your-writes, even after a dirty entry was
evicted or expired).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from cachetui.engine.config import WritePolicy
from cachetui.engine.core import EngineCore, last_op_id, perf_counter
from cachetui.engine.crash_points import reached
from cachetui.engine.errors import DatabaseUnavailable, Interrupted
from cachetui.engine.events import EventKind, Step
from cachetui.engine.policies.base import Policy
from cachetui.engine.profile import Profile, utc_timestamp
from cachetui.engine.queue.flusher import Flusher

WRITE_BEHIND = WritePolicy.WRITE_BEHIND
_ACK, _ENQUEUE, _COALESCE = EventKind.ACK, EventKind.ENQUEUE, EventKind.COALESCE
_ABSORBED = "absorbed into the pending write"


class WriteBehind(Policy):
    name = WRITE_BEHIND

    def __init__(self, core: EngineCore, flusher: Flusher) -> None:
        super().__init__(core)
        self._flusher = flusher
        #: The fast path's ``updated_at``: the text of the millisecond ``_millis``
        #: (what :func:`utc_timestamp` returns for it).
        self._millis = -1
        self._stamp = ""

    def update_now(self, user_id: int, changes: dict[str, Any], start: float) -> Profile | None:
        """The fast path: with the current profile in a local store and nobody else
        updating this user, the whole update runs without an await, so it needs no lock:
        nothing can interleave with it. None when the slow path must run instead."""
        core = self._core
        queue = core.queue
        entries = queue.entries
        if (
            not core.cache.local
            or core.durable
            or user_id in core.locks.held
            or user_id in core.dead_letters.by_user
            or not core.gate.open
            or (user_id not in entries and len(entries) >= queue.max_pending)  # no room
        ):
            return None
        store = core.store
        current = store.get_nowait(user_id)
        if current is None:
            return None
        op = next(core.ops)
        last_op_id.set(op)
        now = core.config.clock()
        if int(now * 1000) != self._millis:  # utc_timestamp's own test, without its call
            self._millis, self._stamp = int(now * 1000), utc_timestamp(now)
        profile = current.apply(changes, self._stamp, f"{core.write_prefix}{op}")
        store.set_nowait(profile)
        # One clock read for the queue, the latency, the record and both events.
        end = perf_counter()
        # WriteBehind.enqueue, inlined (the equivalence test runs both)
        c = core.c
        events = core.events
        step: Step
        if queue.put(profile, end):
            c.coalesced += 1
            step = (op, _COALESCE, user_id, profile.version, None, end, _ABSORBED)
        else:
            step = (op, _ENQUEUE, user_id, profile.version, None, end, "")
        events.append(step)  # EventLog.add, without its call
        if events.subscribed:
            events.notify(step)
        pending = len(entries)
        if pending > c.peak_pending:
            c.peak_pending = pending
        if pending >= core.config.batch_size:
            self._flusher.request_flush()
        c.updates += 1
        elapsed = end - start
        c.update_latency.add(elapsed)
        core.history.update(start, end, profile, WRITE_BEHIND, op)
        step = (op, _ACK, user_id, profile.version, elapsed, end, WRITE_BEHIND)
        events.append(step)  # EventLog.add, without its call
        if events.subscribed:
            events.notify(step)
        if core.near_cache is not None:
            core.near_cache.changed(profile)
        return profile

    async def current(self, op: int, user_id: int) -> Profile:
        """What an update builds on: the user's pending write first, without a cache
        round trip. It is this process's newest acknowledged value (each update sets the
        cache, then queues the same profile, under the user's lock); this process's cache
        entry holds it or less (evicted, expired, a failed set). A value another client
        put in the cache meanwhile is a cross-process race (docs/redis.md, Sharing): the
        update builds on this process's own newest write, as its queued write does.
        No pending write: the cache, the dead letters, the database."""
        pending = self._core.queue.get(user_id)
        if pending is not None:
            return pending
        return await super().current(op, user_id)

    async def update(self, op: int, user_id: int, changes: dict[str, Any], epoch: int) -> Profile:
        core = self._core
        if core.fleet is not None:  # the fleet queue's sequencer assigns the version
            return await core.fleet.update(op, user_id, changes)
        queue = core.queue
        while True:
            try:
                current = await self.current(op, user_id)
            except DatabaseUnavailable as exc:
                raise DatabaseUnavailable(
                    f"{exc}: user {user_id} is neither cached nor pending, so even "
                    "write-behind must read its current profile from the database",
                    transient=exc.transient,
                ) from exc
            if queue.has_room_for(user_id):
                break
            core.emit(
                op,
                EventKind.BACKPRESSURE,
                user_id,
                None,
                None,
                f"queue full ({queue.max_pending} pending): waiting for a flush",
            )
            self._flusher.request_flush()
            await queue.wait_for_room(user_id)
        profile = current.apply(changes, core.timestamp(), core.write_id(op))
        core.check_epoch(epoch)
        letter = core.dead_letters.rejected(user_id)
        if letter is not None and user_id not in queue:
            # The database rejected this user's write: the update replaces the dead
            # letter (one per user) and is not sent to the database.
            await self._cache_or_untrace(profile, epoch)
            core.dead_letters.put(dataclasses.replace(letter, profile=profile))
            try:
                await core.save_dead_letters()
                core.check_epoch(epoch)
            except BaseException:
                # Not acknowledged: the parked letter is what it was, in the table too.
                core.dead_letters.put(letter)
                await self._untrace(user_id)
                await asyncio.shield(asyncio.ensure_future(core.save_dead_letters()))
                raise
            core.c.coalesced += 1
            core.emit(
                op,
                EventKind.DEAD_LETTER,
                user_id,
                profile.version,
                None,
                "folded into the parked dead letter (not sent to the database)",
            )
            return profile
        while True:
            await self._cache_or_untrace(profile, epoch)
            if queue.has_room_for(user_id):
                break
            # The last slot went while the cache was set: take the value back, wait.
            await self._untrace(user_id)
            self._flusher.request_flush()
            await queue.wait_for_room(user_id)
            core.check_epoch(epoch)
        if core.durable:
            await self._journal(profile, epoch)
        self.enqueue(op, profile)
        return profile

    async def _journal(self, profile: Profile, epoch: int) -> None:
        """Commit the write to the durable queue before it is acknowledged (group-committed
        with concurrent callers). First, an earlier write of this user whose append has an
        unknown outcome is removed from the queue (else this update fails, not
        acknowledged). Cancelled or failed: the cache value is taken back and the entry
        withdrawn by its write id; if that cannot be done now, it is done before the
        user's next acknowledgement, or at close. A crash meanwhile replays whatever the
        durable queue holds."""
        core = self._core
        user_id = profile.user_id
        if user_id in core.unsettled:
            try:
                await core.settle(user_id)
            except BaseException:
                await self._untrace(user_id)
                raise
        entry = core.queue.entry_of(user_id)
        base = profile.version - 1 if entry is None else entry.base_version
        previous = None if entry is None else (entry.profile, entry.base_version)
        try:
            await core.journal.write(profile, base)
            reached("append-committed", core.crash_at)
            core.check_epoch(epoch)
        except Interrupted:
            raise  # the process died: it puts nothing back
        except BaseException:
            await self._untrace(user_id)
            if core.outbox is not None:
                core.settle_soon(user_id, profile, previous)  # its entry may be there
            raise

    async def _cache_or_untrace(self, profile: Profile, epoch: int) -> None:
        """Set the cache; if cancelled, interrupted by a crash or failed before the
        acknowledgement, take the value back: the cache never keeps a value that was
        never acknowledged."""
        try:
            await self._core.cache.set(profile)
            self._core.check_epoch(epoch)
        except BaseException:
            await self._untrace(profile.user_id)
            raise

    async def _untrace(self, user_id: int) -> None:
        """Drop the user's cache entry (a read then finds the queue or the database),
        finishing even if the caller is cancelled again meanwhile."""
        await asyncio.shield(asyncio.ensure_future(self._core.cache.delete(user_id)))

    def enqueue(self, op: int, profile: Profile, now: float | None = None) -> None:
        """Queue a write-behind write (the cache already holds ``profile``); ``now``: the
        ``perf_counter`` time, if the caller just read it."""
        core = self._core
        queue = core.queue
        if now is None:
            now = perf_counter()
        c = core.c
        step: Step
        if queue.put(profile, now):
            c.coalesced += 1
            step = (op, _COALESCE, profile.user_id, profile.version, None, now, _ABSORBED)
        else:
            step = (op, _ENQUEUE, profile.user_id, profile.version, None, now, "")
        events = core.events
        events.append(step)  # EventLog.add, without its call
        if events.subscribed:
            events.notify(step)
        pending = len(queue.entries)
        if pending > c.peak_pending:
            c.peak_pending = pending
        if pending >= core.config.batch_size:
            self._flusher.request_flush()

    def _pending(self, user_id: int) -> tuple[Profile, str] | None:
        """The pending queue first (read-your-writes), then a rejected dead letter."""
        pending = self._core.queue.get(user_id)
        if pending is None:
            return super()._pending(user_id)
        return pending, "served from the write queue (read-your-writes)"
