"""The :class:`Engine` facade: one write policy at a time over a cache store and a
database.

Semantics are the table in docs/engine.md ("Semantics"); each policy's update and
read-miss paths live in :mod:`cachetui.engine.policies` (one module per policy). Here:
the lifecycle, the public API and its validation, the events and metrics wiring, and the
dispatch to the current policy. The rooms around it: :mod:`~cachetui.engine.queue.flusher`
(write-behind batches, retries, draining), :mod:`~cachetui.engine.stores.health` (cache
outages and recovery), :mod:`~cachetui.engine.lab.operations` (crash, external writes,
knobs), :mod:`~cachetui.engine.observation` (metrics and events) and
:mod:`~cachetui.engine.pane_views` (what the panes show).
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cachetui.engine.closing import Closing
from cachetui.engine.config import EngineConfig, WritePolicy
from cachetui.engine.core import (
    BACKGROUND_OP,
    CLOSED,
    NEW,
    RUNNING,
    EngineCore,
    last_op_id,
    perf_counter,
)
from cachetui.engine.crash_points import armed_step
from cachetui.engine.errors import (
    CacheTuiError,
    EngineClosed,
    ValidationError,
)
from cachetui.engine.events import EventKind
from cachetui.engine.fleet.membership import Heartbeat, join, leave
from cachetui.engine.lab.demo_data import MAX_SEED_PROFILES
from cachetui.engine.lab.link.links import EngineLinks
from cachetui.engine.lab.operations import LabOperations
from cachetui.engine.observation import Observation
from cachetui.engine.pane_views import PaneViews
from cachetui.engine.policies import Policy, WriteBehind, build_policies
from cachetui.engine.profile import (
    MAX_INTEGER,
    Profile,
    valid_as_is,
    validate_changes,
    validate_user_id,
)
from cachetui.engine.queue.dead_letter_ops import DeadLetterOperations
from cachetui.engine.queue.durable import DurableQueueOperations
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.factory import make_store
from cachetui.engine.unclosed import NotClosedWarning
from cachetui.engine.words import plural

if TYPE_CHECKING:
    from cachetui.engine.stores.near_cache import NearCache

__all__ = ["Engine", "last_op_id", "make_store"]

WRITE_BEHIND = WritePolicy.WRITE_BEHIND
NO_CACHE = WritePolicy.NO_CACHE
_HIT = EventKind.HIT


class Engine(
    Closing, DeadLetterOperations, DurableQueueOperations, LabOperations, Observation, PaneViews
):
    """A cache in front of the ``profiles`` database. Use ``async with Engine(cfg)``
    or ``await start()`` … ``await close()``; ``close()`` flushes pending writes."""

    def __init__(self, config: EngineConfig | None = None, *, store: CacheStore | None = None):
        self.config = config or EngineConfig()
        self.links = EngineLinks(self.config)  # not started: ports chosen, URLs known
        if store is None:
            store = make_store(self.config, self.links.cache_url(self.config.cache_url))
        core = self._core = EngineCore(self.config, store, self.links.db_url(self.config.db_url))
        self.faults = core.faults
        self.db = core.db
        self.store = core.store
        self.events = core.events
        self.queue = core.queue
        self._flusher = Flusher(core)
        self._policies = build_policies(core, self._flusher)
        behind = self._policies[WRITE_BEHIND]
        assert isinstance(behind, WriteBehind)
        self._behind = behind
        self._switch_lock = asyncio.Lock()
        self._at_exit = NotClosedWarning(weakref.ref(core))
        #: Writes recovered from a durable queue at start (entries of a process gone), and
        #: entries found there whose write had landed already (dropped, by write id).
        self.recovered = 0
        self.recovered_landed = 0
        #: Writes close() left in a durable queue because the database would not take
        #: them (replayed at the next start; nothing lost).
        self.kept_on_close = 0
        self._fleet: Heartbeat | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> Engine:
        """Open the database and the store and start the flusher. Raises EngineClosed
        after close(), DatabaseUnavailable or StoreUnavailable if either cannot open."""
        core = self._core
        if core.state == RUNNING:
            return self
        if core.state == CLOSED:
            raise EngineClosed("this engine was closed; make a new one")
        core.crash_at = armed_step()
        await asyncio.to_thread(self.links.start)  # LinkError: nothing started
        try:
            await core.db.open()
        except BaseException:
            await asyncio.to_thread(self.links.stop)
            raise
        try:
            self._fleet = await join(core)  # FleetMismatch: refused
            leftover = await core.db.drop_lab_triggers()
            core.dead_letters.load(await core.db.load_dead_letters())
            replayed, landed = await self._open_outbox()
            await core.store.start()
            if self.config.invalidate_url is not None:
                await self._open_near_cache()
        except BaseException:
            await leave(self._fleet)
            if core.outbox is not None:
                await core.outbox.close()
                core.outbox = None
            await core.db.close()
            await asyncio.to_thread(self.links.stop)
            raise
        core.store.set_drop_listener(self._on_drop)
        if hasattr(core.store, "on_restart"):
            core.store.on_restart = core.cache.on_store_restart
        core.faults.set_listener(self._on_fault)
        loop = asyncio.get_running_loop()
        self._flusher.start(loop)
        core.window.reset(core.c)  # the window starts with the engine
        core.state = RUNNING
        core.history.start(core.instance, core.policy, core.config.queue_url)
        core.cache.start(loop)
        atexit.register(self._at_exit)
        if replayed or landed:
            self.recovered, self.recovered_landed = replayed, landed
            core.emit(BACKGROUND_OP, EventKind.REPLAY, None, None, None, self._recovery())
            self._flusher.request_flush()
        if leftover:
            core.emit(
                BACKGROUND_OP,
                EventKind.FAULT,
                None,
                None,
                None,
                f"removed {len(leftover)} lab trigger{'s' if len(leftover) > 1 else ''} left "
                f"over by an earlier run that did not close: {', '.join(leftover)}",
            )
        return self

    async def _open_near_cache(self) -> None:
        """``invalidate_url``: subscribe to the database's invalidation channel
        (StoreUnavailable, one line, if that Redis cannot be used)."""
        from cachetui.engine.stores.near_cache import NearCache, NearMemoryStore

        core = self._core
        if not isinstance(core.store, NearMemoryStore):
            raise ValidationError("invalidate_url needs the engine's own memory:// store")

        def emit(kind: EventKind, user_id: int | None, version: int | None, text: str) -> None:
            core.emit(BACKGROUND_OP, kind, user_id, version, None, text)

        url = str(self.config.invalidate_url)
        near = NearCache(url, core.db.database_id, core.instance, core.store, emit)
        await near.start()
        core.near_cache = near

    @property
    def near_cache(self) -> NearCache | None:
        """With ``invalidate_url``: the near cache's announcer and listener (its counts:
        ``dropped``, ``clears``, ``announced``; ``channel``), else None."""
        return self._core.near_cache

    async def rescue_database(self) -> str:
        """After the database file was deleted or replaced while open
        (:attr:`database_file_error` says so, and writes stay pending): copy the database
        the engine still holds open (every row and dead letter) into a new file at the
        configured path — or, if another file now sits there, beside it as
        ``<path>.rescued-<UTC time>`` — continue on it, and land the pending writes there.
        Returns the path of the file now in use. Raises EngineClosed if not running,
        DatabaseUnavailable if the copy cannot be written (nothing changes), and
        PendingWritesError if the pending writes then cannot land within
        ``flush_timeout`` (the file is rescued; they stay pending)."""
        self._check_running()
        core = self._core
        async with self._flusher.lock:
            path = await core.db.rescue()
        await core.save_dead_letters()
        core.emit(
            BACKGROUND_OP,
            EventKind.FAULT,
            None,
            None,
            None,
            f"database rescued into {path}: {len(core.queue)} pending "
            f"{plural(len(core.queue), 'write lands', 'writes land')} there",
        )
        await self.flush()
        return path

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        return self._core.state == RUNNING

    def _check_running(self) -> None:
        state = self._core.state
        if state != RUNNING:
            raise EngineClosed(f"the engine is {'not started' if state == NEW else 'closed'}")

    # -- reads -----------------------------------------------------------------------------
    async def read(self, user_id: int) -> Profile:
        """The newest acknowledged profile (as this policy serves it). Raises
        ValidationError, ProfileNotFound, DatabaseUnavailable or EngineClosed."""
        start = perf_counter()
        core = self._core
        if core.state != RUNNING:
            self._check_running()
        if type(user_id) is not int or not 0 < user_id <= MAX_INTEGER:
            validate_user_id(user_id)
        if start >= core.window.due:
            core.window.roll()
        op = next(core.ops)
        last_op_id.set(op)
        c = core.c
        c.reads += 1
        policy = self._policies[core.policy]
        cache = core.cache
        if policy.uses_cache:
            # The hit path: for a local store, no await at all.
            if cache.local:
                profile = core.store.get_nowait(user_id)
            elif cache.ok:
                profile = await cache.get(user_id)
            else:
                profile = None
            if profile is not None:
                c.hits += 1
                end = perf_counter()
                elapsed = end - start
                events = core.events
                step = (op, _HIT, user_id, profile.version, elapsed, end, "")
                events.append(step)  # EventLog.add, without its call
                if events.subscribed:
                    events.notify(step)
                c.read_latency.add(elapsed)
                core.history.read(start, end, profile, core.policy, op)
                return profile
        c.misses += 1
        try:
            if policy.uses_cache:
                detail = "" if cache.ok else "cache unavailable"
                core.emit(op, EventKind.MISS, user_id, None, None, detail)
            profile = await policy.read_miss(op, user_id)
        except CacheTuiError as exc:
            core.history.failed(start, "read", user_id, exc, core.policy, op)
            core.emit(op, EventKind.ERROR, user_id, None, None, f"read failed: {exc}")
            raise
        end = perf_counter()
        c.record_miss(end - start)
        core.history.read(start, end, profile, core.policy, op)
        return profile

    # -- updates -----------------------------------------------------------------------------
    async def update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        """Apply ``changes`` to the user's profile; returns the acknowledged profile.
        Raises ValidationError (nothing written), ProfileNotFound, DatabaseUnavailable,
        Interrupted (a crash during the update) or EngineClosed."""
        start = perf_counter()
        core = self._core
        if core.state != RUNNING:
            self._check_running()
        if type(user_id) is not int or not 0 < user_id <= MAX_INTEGER:
            validate_user_id(user_id)
        as_is = valid_as_is(changes)  # the common case: no copy for the fast path
        if not as_is:
            changes = validate_changes(changes)  # a copy, or ValidationError
        if start >= core.window.due:
            core.window.roll()
        if core.policy is WRITE_BEHIND:
            acknowledged = self._behind.update_now(user_id, changes, start)
            if acknowledged is not None:
                return acknowledged
        if as_is:  # the caller's own dict: it may change while this update awaits
            changes = changes.copy()
        if not core.gate.open:
            await core.gate.wait()
            self._check_running()
        op = core.next_op()
        core.active_updates += 1
        core.idle.clear()
        epoch = core.epoch  # waiting for this user's lock counts as in progress
        try:
            await core.locks.acquire(user_id)
            try:
                core.check_epoch(epoch)
                policy = core.policy
                profile = await self._policies[policy].update(op, user_id, changes, epoch)
            finally:
                core.locks.release(user_id)
        except BaseException as exc:
            core.history.failed(start, "update", user_id, exc, core.policy, op, core.write_id(op))
            if isinstance(exc, CacheTuiError):
                core.c.failed_updates += 1
                core.emit(op, EventKind.ERROR, user_id, None, None, f"update failed: {exc}")
            raise
        finally:
            core.active_updates -= 1
            if core.active_updates == 0:
                core.idle.set()
        c = core.c
        c.updates += 1
        end = perf_counter()
        elapsed = end - start
        c.update_latency.add(elapsed)
        core.history.update(start, end, profile, policy, op)
        core.events.add((op, EventKind.ACK, user_id, profile.version, elapsed, end, policy))
        if core.near_cache is not None:
            core.near_cache.changed(profile)
        return profile

    async def flush(self, timeout: float | None = None) -> None:
        """Return once every write pending at the call has landed in the database.

        Raises :class:`PendingWritesError` if the database keeps failing past
        ``timeout`` seconds (default ``flush_timeout``); the writes stay queued and
        keep being retried.
        """
        self._check_running()
        core = self._core
        op, deadline = next(core.ops), core.deadline(timeout)
        await self._flusher.flush_all(op, deadline, everything=False)
        if core.fleet is not None:  # and this instance's writes the fleet queue holds
            await core.fleet.land_own(op, deadline)

    # -- policy ---------------------------------------------------------------------------------
    @property
    def policy(self) -> WritePolicy:
        return self._core.policy

    @property
    def policy_impl(self) -> Policy:
        """The current policy's implementation (its module holds its semantics)."""
        return self._policies[self._core.policy]

    async def set_policy(self, policy: WritePolicy | str, timeout: float | None = None) -> None:
        """Switch the write policy. Leaving write-behind drains the queue first; if the
        database keeps failing past ``timeout`` seconds, raise PendingWritesError and
        keep write-behind. ValidationError for an unknown policy."""
        new = WritePolicy.parse(policy)
        self._check_running()
        core = self._core
        async with self._switch_lock:
            old = core.policy
            if new is old:
                return
            if old is WRITE_BEHIND:
                core.gate.clear()
                try:
                    deadline = core.deadline(timeout)
                    await self._flusher.drain(deadline)
                    await core.settle_all()
                    core.window.switch(new)
                    core.policy = new
                finally:
                    core.gate.set()
            else:
                core.window.switch(new)
                core.policy = new
            core.emit(next(core.ops), EventKind.POLICY, None, None, None, f"{old} → {new}")

    # -- the cache and the table ----------------------------------------------------------------
    async def invalidate(self, user_id: int) -> None:
        """Drop a user's cache entry (a pending write, if any, stays queued). With the
        cache unreachable, the entry is deleted as soon as it answers again."""
        self._check_running()
        validate_user_id(user_id)
        core = self._core
        dropped = await core.cache.delete(user_id)
        detail = {
            True: "on request",
            False: "on request (it was not cached)",
            None: "on request (deferred: cache unavailable)",
        }[dropped]
        core.emit(next(core.ops), EventKind.INVALIDATE, user_id, None, None, detail)

    async def seed(
        self, count: int, *, seed: int = 42, progress: Callable[[int], None] | None = None
    ) -> int:
        """Insert demo profiles 1..count if the table is empty; returns rows inserted.
        ``progress(rows so far)`` is called as they go in; cancelled, nothing is kept
        (one transaction) and the call returns within a fraction of a second."""
        self._check_running()
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValidationError(f"profile count must be an integer >= 0, got {count!r}")
        if count > MAX_SEED_PROFILES:
            raise ValidationError(
                f"profile count must be at most {MAX_SEED_PROFILES:,}, got {count:,}"
            )
        return await self._core.db.seed(count, self._core.timestamp(), seed, progress)
