"""The lab's operations on the engine: a simulated crash, another writer, and the
knobs a demo turns (flush interval, queue bound) or rewinds (rows, cache contents, the
whole lab).

:class:`LabOperations` is part of the :class:`~cachetui.engine.engine.Engine` facade;
these are public methods of every engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine.core import BACKGROUND_OP, EngineCore, perf_counter
from cachetui.engine.errors import (
    CacheTuiError,
    DatabaseUnavailable,
    ProfileNotFound,
    StoreUnavailable,
    ValidationError,
)
from cachetui.engine.events import EventKind
from cachetui.engine.lab.link.link import Link
from cachetui.engine.lab.link.links import EngineLinks
from cachetui.engine.lab.reset import reset_core
from cachetui.engine.profile import Profile, validate_changes, validate_user_id
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.words import plural


@dataclass(frozen=True, slots=True)
class CrashReport:
    """What the last ``crash()`` cost: ``lost`` the ``(user_id, version)`` of each user
    whose newest acknowledged write never reached the database; ``lost_updates`` the
    acknowledged updates those carried (coalesced ones count one each); ``replayed``
    the pending writes a durable queue put back (they land at the next flush)."""

    lost: list[tuple[int, int]] = field(default_factory=list)
    lost_updates: int = 0
    replayed: int = 0


class LabOperations:
    _core: EngineCore
    _flusher: Flusher
    #: The report of the last crash() (empty before any).
    last_crash: CrashReport = CrashReport()

    def _check_running(self) -> None:
        raise NotImplementedError  # the facade's

    async def crash(self) -> list[tuple[int, int]]:
        """Simulate a process crash: the cache and the pending queue vanish unflushed.

        Returns, per user whose newest acknowledged write was not yet in the database,
        ``(user_id, version)`` of that newest lost version. The engine keeps running, cold.
        With a durable queue nothing acknowledged is lost: the outbox is replayed into
        the queue before this returns. :attr:`last_crash` holds the whole report.
        """
        self._check_running()
        core = self._core
        cache = core.cache
        store = core.store
        op = next(core.ops)
        async with self._flusher.lock:  # a batch in flight either landed or did not
            core.epoch += 1  # updates in progress die with the process
            core.new_epoch("crash")  # the restarted process writes in a new epoch
            updates = core.queue.updates_by_user()
            dropped = core.queue.clear()
            replayed = await self._replay_outbox()
            lost = sorted((p.user_id, p.version) for p in dropped if p.user_id not in replayed)
            self.last_crash = CrashReport(
                lost=lost, lost_updates=core.count_lost(lost, updates), replayed=len(replayed)
            )
            # The process's memory is gone: so is its list of cache entries to repair.
            unrepaired = len(cache.backlog)
            cache.backlog.clear()
            if store.lost_on_crash:
                await store.clear()
        if replayed:
            writes = plural(len(replayed), "write")
            detail = f"{len(replayed)} {writes} replayed from the durable queue, "
            detail += "none lost" if not lost else f"{len(lost)} lost"
            core.emit(op, EventKind.REPLAY, None, None, None, detail)
        if not lost:
            detail = "no pending writes lost"
        elif len(lost) == 1:
            detail = "1 user's acknowledged writes lost"
        else:
            detail = f"{len(lost)} users' acknowledged writes lost"
        if lost and not store.lost_on_crash:
            still = await cache.peek_many(uid for uid, _ in lost)
            orphaned = sum(1 for uid, v in lost if uid in still and still[uid].version == v)
            if orphaned:
                detail += (
                    f"; {orphaned} still in the cache, newer than the database with no "
                    "pending write (orphaned)"
                )
        if unrepaired and not store.lost_on_crash:
            detail += (
                f"; {unrepaired} cache {plural(unrepaired, 'entry', 'entries')} written "
                "while the cache was unreachable will not be repaired: they may be stale"
            )
        core.emit(op, EventKind.CRASH, None, None, None, detail)
        return lost

    async def _replay_outbox(self) -> set[int]:
        """After a crash with a durable queue: what the outbox holds goes back in the
        queue (the process state vanished; the outbox did not). The users replayed."""
        core = self._core
        if not core.durable or core.outbox is None:
            return set()
        try:
            entries = await core.outbox.mine()
        except DatabaseUnavailable as exc:
            core.emit(BACKGROUND_OP, EventKind.ERROR, None, None, None, f"outbox: {exc}")
            return set()
        entries = core.without_unsettled(entries)
        _, landed = await core.requeue(entries)
        if landed:
            core.emit(
                BACKGROUND_OP,
                EventKind.REPLAY,
                None,
                None,
                None,
                f"{landed} write{'s' if landed != 1 else ''} in the durable queue had landed "
                "already (the database holds the same write id): dropped, not written again",
            )
        return core.queue.user_ids()  # the queue was emptied by the crash: the replayed

    async def external_update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        """Write the database directly, bypassing the cache (another service writing).
        Raises ValidationError, ProfileNotFound or DatabaseUnavailable."""
        self._check_running()
        validate_user_id(user_id)
        changes = validate_changes(changes)
        core = self._core
        op = core.next_op()
        start = perf_counter()
        try:
            profile = await core.db.external_update(user_id, changes, core.timestamp())
            if profile is None:
                raise ProfileNotFound(user_id)
        except CacheTuiError as exc:
            core.history.failed(start, "external", user_id, exc, "external", op)
            core.emit(op, EventKind.ERROR, user_id, None, None, f"external write failed: {exc}")
            raise
        core.history.external(start, perf_counter(), profile, op)
        core.c.external_writes += 1
        core.emit(
            op,
            EventKind.EXTERNAL,
            user_id,
            profile.version,
            perf_counter() - start,
            "database written directly; the cache was bypassed",
        )
        return profile

    @property
    def flush_interval(self) -> float:
        """Seconds between the write-behind flusher's rounds."""
        return self._core.config.flush_interval

    def set_flush_interval(self, seconds: float) -> None:
        """Change the flush interval (seconds, > 0) while running (a lab knob: a demo may
        want the queue to flush only when asked). The flusher starts its next wait at
        once. Raises ValidationError."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValidationError(
                f"flush_interval must be a number > 0, got {seconds!r}", field="flush_interval"
            )
        changed = float(seconds) != self._core.config.flush_interval
        self._core.config.flush_interval = float(seconds)
        self._flusher.restart_wait()
        if changed:  # only a change is an event (a scenario's reset sets every knob)
            self._core.emit(
                BACKGROUND_OP, EventKind.FAULT, None, None, None, f"flush interval = {seconds:g}s"
            )

    @property
    def max_pending(self) -> int:
        """The write-behind queue's bound (``EngineConfig.max_pending`` at start)."""
        return self._core.queue.max_pending

    def set_max_pending(self, max_pending: int) -> None:
        """Change the queue's bound while running (a lab knob: a small bound shows
        backpressure quickly). Writes already queued beyond it stay queued. Raises
        ValidationError."""
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValidationError(
                f"max_pending must be an integer >= 1, got {max_pending!r}", field="max_pending"
            )
        changed = max_pending != self._core.queue.max_pending
        self._core.queue.resize(max_pending)
        if changed:  # only a change is an event
            self._core.emit(
                BACKGROUND_OP, EventKind.FAULT, None, None, None, f"queue bound = {max_pending}"
            )

    async def reject_writes(self, user_id: int) -> None:
        """Lab fault: install a real database trigger (``cachetui_lab_reject_<id>``) that
        refuses every update of the user, as a constraint would (a poison row). Removed
        by :meth:`accept_writes`, by ``close()`` and, if left over by a killed process,
        at the next start. ValidationError for a bad user id."""
        self._check_running()
        validate_user_id(user_id)
        await self._core.db.set_lab_rejection(user_id, True)
        self._core.emit(
            BACKGROUND_OP,
            EventKind.FAULT,
            user_id,
            None,
            None,
            f"the database now rejects every write of user {user_id} (a lab trigger)",
        )

    async def accept_writes(self, user_id: int) -> None:
        """Remove the lab trigger of :meth:`reject_writes` (other triggers untouched)."""
        self._check_running()
        validate_user_id(user_id)
        await self._core.db.set_lab_rejection(user_id, False)
        self._core.emit(
            BACKGROUND_OP,
            EventKind.FAULT,
            user_id,
            None,
            None,
            f"the database accepts writes of user {user_id} again",
        )

    async def restore_rows(self, profiles: Iterable[Profile]) -> None:
        """Write these rows to the database exactly as given (versions and write ids
        included, so versions may go down), past any injected fault and outside the
        metrics: for labs that rewind a demo. A rewind starts a new write epoch."""
        rows = list(profiles)
        if rows:
            self._check_running()
            await self._core.db.restore(rows)
            self._core.new_epoch("rewind")

    async def reset_lab(self, rows: Iterable[Profile]) -> int:
        """Put the lab back to its start without restarting: the database gets ``rows``
        exactly as given (as :meth:`restore_rows`), the cache is emptied, pending writes
        (and a durable queue's entries) and dead letters are dropped (not counted as
        lost), every counter starts from zero (lost writes too) and a new write epoch
        starts; returns it. Faults, links, the policy and the queue's kind are the
        caller's to put back. Raises DatabaseUnavailable or StoreUnavailable if the
        database or the cache does not answer (what was reset so far stays reset)."""
        self._check_running()
        epoch = await reset_core(self._core, self._flusher, list(rows))
        self.last_crash = CrashReport()
        return epoch

    @property
    def link(self) -> Link | None:
        """The link in front of the database server (``db_rtt``), else the one in front of
        the Redis cache (``cache_rtt``), else None: set its ``rtt``, ``jitter`` and
        ``partition`` ("blackhole", "reset" or None) live; ``measured_rtt()``."""
        links: EngineLinks = getattr(self, "links")  # noqa: B009 - the facade's
        return links.db or links.cache

    @property
    def instance_id(self) -> str:
        """This engine's random id: the first part of each of its write ids."""
        return self._core.instance

    @property
    def epoch(self) -> int:
        """The write epoch (0 at start; one more at each crash and each rewind of the
        rows): the middle part of a write id, ``instance:epoch:op``."""
        return self._core.write_epoch

    async def reset_cache(self, profiles: Iterable[Profile] = ()) -> None:
        """Empty the cache store, then put ``profiles`` in it (a lab rewinding a demo).
        Raises StoreUnavailable while the cache is unreachable."""
        self._check_running()
        core = self._core
        cache = core.cache
        if not cache.ok and not core.faults.cache_down:
            await core.store.ping()  # back already? then repair it before resetting
            await cache.recover()
        if not cache.ok:
            raise StoreUnavailable(cache.error)
        try:
            await core.store.clear()
            for profile in profiles:
                await core.store.set(profile)
        except StoreUnavailable as exc:
            cache.failed(exc)
            raise
