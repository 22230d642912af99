"""The cache engine: one write policy at a time over a cache store and a SQLite database.

Semantics are DESIGN.md's table. In short, per key (updates of one user are serialized):

- write-through: DB commit, then cache set, then ack.
- write-behind: cache set + pending write (coalesced per user), ack at once; a flusher
  writes batches in one transaction each, retrying with capped exponential backoff.
- write-around: DB commit, cache invalidated, then ack.
- no-cache: every read and write goes straight to the database.

Read misses look in the pending queue before the database (read-your-writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

from cachetui.engine.batching import BatchLoader, GroupCommit
from cachetui.engine.config import EngineConfig, WritePolicy
from cachetui.engine.database import Database
from cachetui.engine.errors import (
    CacheTuiError,
    DatabaseUnavailable,
    EngineClosed,
    Interrupted,
    PendingWritesError,
    ProfileNotFound,
    StoreUnavailable,
    ValidationError,
)
from cachetui.engine.events import Event, EventKind, EventLog, Subscriber
from cachetui.engine.faults import Faults
from cachetui.engine.key_locks import KeyLocks
from cachetui.engine.metrics import Counters, MetricsSnapshot
from cachetui.engine.profile import Profile, utc_timestamp, validate_changes, validate_user_id
from cachetui.engine.stores.base import CacheEntry, CacheStore
from cachetui.engine.stores.memory import MemoryStore
from cachetui.engine.write_queue import PendingWrite, WriteQueue

WRITE_THROUGH = WritePolicy.WRITE_THROUGH
WRITE_BEHIND = WritePolicy.WRITE_BEHIND
WRITE_AROUND = WritePolicy.WRITE_AROUND
NO_CACHE = WritePolicy.NO_CACHE

_NEW, _RUNNING, _CLOSED = "new", "running", "closed"
_HIT = EventKind.HIT

#: The op id of the last operation started in the current asyncio context: after
#: ``await engine.read(42)`` the caller finds its op id here, to show its trace.
last_op_id: contextvars.ContextVar[int] = contextvars.ContextVar("last_op_id", default=0)
_BACKGROUND_OP = 0  # op id of events no caller started (flusher rounds get their own)

#: The engine's one clock: event times, latencies and queue ages.
perf_counter = time.perf_counter


CACHE_PROBE_BASE = 0.25  # first delay before asking an unreachable cache again
CACHE_PROBE_CAP = 2.0


def make_store(config: EngineConfig) -> CacheStore:
    """The cache store a ``cache_url`` names: ``memory://`` or ``redis://…``."""
    scheme = config.cache_url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryStore(config.capacity, config.eviction, config.ttl)
    if scheme in ("redis", "rediss"):
        from cachetui.engine.stores.redis_store import RedisStore, namespace_for

        return RedisStore(
            config.cache_url,
            namespace=namespace_for(config.db_path),
            capacity=config.capacity,
            eviction=config.eviction,
            ttl=config.ttl,
            ephemeral=config.db_path == ":memory:",
        )
    from cachetui.engine.stores.redis_store import mask_url

    raise ValidationError(
        f"unsupported cache URL {mask_url(config.cache_url)!r}: use memory:// or "
        "redis://HOST:PORT/DB",
        field="cache_url",
    )


class Engine:
    """A cache in front of the ``profiles`` database. Use ``async with Engine(cfg)``
    or ``await start()`` … ``await close()``; ``close()`` flushes pending writes."""

    def __init__(self, config: EngineConfig | None = None, *, store: CacheStore | None = None):
        self.config = config or EngineConfig()
        self.faults = Faults(self.config.fault_seed)
        self.db = Database(self.config.db_path, self.faults)
        self.store = store if store is not None else make_store(self.config)
        self.events = EventLog(self.config.event_buffer)
        self.queue = WriteQueue(self.config.max_pending)
        self._policy = WritePolicy.parse(self.config.policy)
        self._c = Counters()
        self._locks = KeyLocks()
        self._loader = BatchLoader(self._fetch_rows)
        self._committer = GroupCommit(self._write_rows)
        self._flush_lock = asyncio.Lock()
        self._switch_lock = asyncio.Lock()
        self._gate = asyncio.Event()  # cleared while draining: updates wait here
        self._gate.set()
        self._idle = asyncio.Event()  # set when no update is in progress
        self._idle.set()
        self._active_updates = 0
        self._wake = asyncio.Event()  # wakes the flusher before its interval
        self._flush_requested = False  # … to flush now
        self._restart_wait = False  # … to start waiting again (the interval changed)
        self._flusher: asyncio.Task[None] | None = None
        self._ops = itertools.count(1)
        self._state = _NEW
        #: True while the hit path may call the store's ``*_nowait`` methods directly.
        self._local = self.store.local
        # The cache store's health: while it is unreachable (or the cache_down fault is
        # on) reads and updates bypass it, and every user written meanwhile is recorded
        # so that their (now possibly older) cache entries are deleted before the cache
        # serves again.
        self._cache_ok = True
        self._cache_error = ""
        self._cache_backlog: set[int] = set()
        self._epoch = 0  # crashes so far: an update that sees it change was interrupted
        self._probe: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop  # the loop start() ran in

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> Engine:
        if self._state == _RUNNING:
            return self
        if self._state == _CLOSED:
            raise EngineClosed("this engine was closed; make a new one")
        await self.db.open()
        try:
            await self.store.start()
        except BaseException:
            await self.db.close()
            raise
        self.store.set_drop_listener(self._on_drop)
        if hasattr(self.store, "on_restart"):
            self.store.on_restart = self._on_store_restart
        self.faults.set_listener(self._on_fault)
        self._loop = asyncio.get_running_loop()
        self._flusher = self._loop.create_task(self._run_flusher())
        self._state = _RUNNING
        if self.faults.cache_down:  # switched on before start()
            self._cache_failed(StoreUnavailable("cache down (injected)"), injected=True)
        return self

    async def close(
        self, timeout: float | None = None, *, discard: bool = False
    ) -> list[tuple[int, int]]:
        """Flush every pending write, then release the database and the store.

        If the database keeps failing past ``timeout`` (default ``flush_timeout``), raise
        :class:`PendingWritesError` and stay open — unless ``discard`` is True: then the
        writes that could not land are dropped and returned as ``(user_id, version)``.
        """
        if self._state != _RUNNING:
            self._state = _CLOSED
            return []
        discarded: list[tuple[int, int]] = []
        self._gate.clear()
        try:
            await self._drain(self._deadline(timeout))
        except DatabaseUnavailable as exc:
            if not discard:
                self._gate.set()
                raise
            discarded = self._drop_queue()
            self._emit(
                _BACKGROUND_OP,
                EventKind.ERROR,
                None,
                None,
                None,
                f"closed with {len(discarded)} pending writes discarded: {exc}",
            )
        self._state = _CLOSED
        self._gate.set()
        for task in (self._flusher, self._probe):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._flusher = self._probe = None
        self.store.set_drop_listener(None)
        self.faults.set_listener(None)
        await self.store.close()
        await self.db.close()
        return discarded

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        return self._state == _RUNNING

    def _check_running(self) -> None:
        if self._state != _RUNNING:
            state = "not started" if self._state == _NEW else "closed"
            raise EngineClosed(f"the engine is {state}")

    # -- reads -----------------------------------------------------------------------------
    async def read(self, user_id: int) -> Profile:
        """The newest acknowledged profile (as this policy serves it)."""
        start = perf_counter()
        if self._state != _RUNNING:
            self._check_running()
        if type(user_id) is not int or user_id < 1:
            validate_user_id(user_id)
        op = next(self._ops)
        last_op_id.set(op)
        c = self._c
        c.reads += 1
        policy = self._policy
        if policy is not NO_CACHE:
            # The hit path: for a local store, no await at all.
            if self._local:
                profile = self.store.get_nowait(user_id)
            elif self._cache_ok:
                try:
                    profile = await self.store.get(user_id)
                except StoreUnavailable as exc:
                    self._cache_failed(exc)
                    profile = None
            else:
                profile = None
            if profile is not None:
                c.hits += 1
                end = perf_counter()
                elapsed = end - start
                self.events.emit(Event(op, _HIT, user_id, profile.version, elapsed, end, ""))
                c.read_latency.record(elapsed)
                return profile
        c.misses += 1
        try:
            if policy is NO_CACHE:
                profile = await self._read_db(op, user_id)
            else:
                detail = "" if self._cache_ok else "cache unavailable"
                self._emit(op, EventKind.MISS, user_id, None, None, detail)
                profile = await self._read_miss(op, user_id)
        except CacheTuiError as exc:
            self._emit(op, EventKind.ERROR, user_id, None, None, f"read failed: {exc}")
            raise
        c.read_latency.record(perf_counter() - start)
        return profile

    async def _read_miss(self, op: int, user_id: int) -> Profile:
        await self._locks.acquire(user_id)
        try:
            # Whoever held the lock may have filled the cache (single flight).
            cached = await self._cache_get(user_id)
            if cached is not None:
                return cached
            pending = self.queue.get(user_id)
            if pending is not None:
                self._emit(
                    op,
                    EventKind.QUEUE_HIT,
                    user_id,
                    pending.version,
                    None,
                    "served from the write queue (read-your-writes)",
                )
                await self._cache_set(pending, fill=True)
                return pending
            profile = await self._read_db(op, user_id)
            if await self._cache_set(profile, fill=True):
                self._emit(op, EventKind.CACHE_FILL, user_id, profile.version, None, "")
            return profile
        finally:
            self._locks.release(user_id)

    async def _read_db(self, op: int, user_id: int) -> Profile:
        start = perf_counter()
        profile = await self._loader.load(user_id)
        if profile is None:
            raise ProfileNotFound(user_id)
        self._emit(op, EventKind.DB_READ, user_id, profile.version, perf_counter() - start, "")
        return profile

    # -- updates -----------------------------------------------------------------------------
    async def update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        """Apply ``changes`` to the user's profile; returns the acknowledged profile."""
        start = perf_counter()
        if self._state != _RUNNING:
            self._check_running()
        if type(user_id) is not int or user_id < 1:
            validate_user_id(user_id)
        changes = validate_changes(changes)
        c = self._c
        if (
            self._policy is WRITE_BEHIND
            and self._local
            and user_id not in self._locks
            and self._gate.is_set()
            and self.queue.has_room_for(user_id)
        ):
            # The write-behind fast path: with the current profile in a local store and
            # nobody else updating this user, the whole update runs without an await, so
            # it needs no lock: nothing can interleave with it.
            current = self.store.get_nowait(user_id)
            if current is not None:
                op = next(self._ops)
                last_op_id.set(op)
                profile = current.apply(changes, self._timestamp())
                self.store.set_nowait(profile)
                self._enqueue(op, profile)
                c.updates += 1
                end = perf_counter()
                elapsed = end - start
                c.update_latency.record(elapsed)
                self.events.emit(
                    Event(op, EventKind.ACK, user_id, profile.version, elapsed, end, WRITE_BEHIND)
                )
                return profile
        if not self._gate.is_set():
            await self._gate.wait()
            self._check_running()
        op = next(self._ops)
        last_op_id.set(op)
        self._active_updates += 1
        self._idle.clear()
        epoch = self._epoch  # waiting for this user's lock counts as in progress
        try:
            await self._locks.acquire(user_id)
            try:
                self._check_epoch(epoch)
                policy = self._policy
                if policy is WRITE_BEHIND:
                    profile = await self._update_behind(op, user_id, changes, epoch)
                else:
                    profile = await self._update_direct(op, user_id, changes, policy)
                    self._check_epoch(epoch)  # committed, but never acknowledged
            finally:
                self._locks.release(user_id)
        except CacheTuiError as exc:
            c.failed_updates += 1
            self._emit(op, EventKind.ERROR, user_id, None, None, f"update failed: {exc}")
            raise
        finally:
            self._active_updates -= 1
            if self._active_updates == 0:
                self._idle.set()
        c.updates += 1
        end = perf_counter()
        elapsed = end - start
        c.update_latency.record(elapsed)
        self.events.emit(Event(op, EventKind.ACK, user_id, profile.version, elapsed, end, policy))
        return profile

    async def _current(self, op: int, user_id: int, policy: WritePolicy) -> Profile:
        """What an update builds on: the cache, the pending queue, else the database."""
        if policy is not NO_CACHE:
            cached = await self._cache_get(user_id)
            if cached is not None:
                return cached
        pending = self.queue.get(user_id)
        if pending is not None:
            return pending
        return await self._read_db(op, user_id)

    async def _update_behind(
        self, op: int, user_id: int, changes: dict[str, Any], epoch: int
    ) -> Profile:
        queue = self.queue
        while True:
            try:
                current = await self._current(op, user_id, WRITE_BEHIND)
            except DatabaseUnavailable as exc:
                raise DatabaseUnavailable(
                    f"{exc}: user {user_id} is neither cached nor pending, so even "
                    "write-behind must read its current profile from the database",
                    transient=exc.transient,
                ) from exc
            if queue.has_room_for(user_id):
                break
            self._emit(
                op,
                EventKind.BACKPRESSURE,
                user_id,
                None,
                None,
                f"queue full ({queue.max_pending} pending): waiting for a flush",
            )
            self._request_flush()
            await queue.wait_for_room(user_id)
        profile = current.apply(changes, self._timestamp())
        self._check_epoch(epoch)
        await self._cache_set(profile)
        while not queue.has_room_for(user_id):  # the last slot went while we waited
            self._request_flush()
            await queue.wait_for_room(user_id)
        self._check_epoch(epoch)
        self._enqueue(op, profile)
        return profile

    def _request_flush(self) -> None:
        """Wake the flusher now (a full batch, a caller waiting for room)."""
        self._flush_requested = True
        self._wake.set()

    def _check_epoch(self, epoch: int) -> None:
        """A crash happened while this update awaited: it dies with the process."""
        if epoch != self._epoch:
            raise Interrupted("interrupted by a crash: not acknowledged")

    def _enqueue(self, op: int, profile: Profile) -> None:
        """Queue a write-behind write (the cache already holds ``profile``)."""
        queue = self.queue
        now = perf_counter()
        if queue.put(profile, now):
            self._c.coalesced += 1
            self.events.emit(
                Event(
                    op,
                    EventKind.COALESCE,
                    profile.user_id,
                    profile.version,
                    None,
                    now,
                    "absorbed into the pending write",
                )
            )
        else:
            self.events.emit(
                Event(op, EventKind.ENQUEUE, profile.user_id, profile.version, None, now, "")
            )
        pending = len(queue)
        if pending > self._c.peak_pending:
            self._c.peak_pending = pending
        if pending >= self.config.batch_size:
            self._request_flush()

    async def _update_direct(
        self, op: int, user_id: int, changes: dict[str, Any], policy: WritePolicy
    ) -> Profile:
        """write-through, write-around and no-cache: the DB commit comes first."""
        current = await self._current(op, user_id, policy)
        profile = current.apply(changes, self._timestamp())
        start = perf_counter()
        try:
            await self._committer.write(profile)
        except asyncio.CancelledError:
            # The commit has finished (GroupCommit waits for it), but whether the row
            # landed is unknown: never leave an older value cached beside it.
            await self._cache_delete(user_id)
            raise
        self._emit(
            op, EventKind.DB_WRITE, user_id, profile.version, perf_counter() - start, "committed"
        )
        if policy is WRITE_THROUGH:
            if await self._cache_set(profile):
                self._emit(op, EventKind.CACHE_SET, user_id, profile.version, None, "")
        else:
            dropped = await self._cache_delete(user_id)
            if dropped:
                detail = (
                    "cache entry dropped"
                    if policy is WRITE_AROUND
                    else "cache entry dropped (no-cache: it would be stale)"
                )
                self._emit(op, EventKind.INVALIDATE, user_id, None, None, detail)
        return profile

    # -- write-behind flushing ----------------------------------------------------------------
    async def flush(self, timeout: float | None = None) -> None:
        """Return once every write pending at the call has landed in the database.

        Raises :class:`PendingWritesError` if the database keeps failing past ``timeout``
        (default ``flush_timeout``); the writes stay queued and keep being retried.
        """
        self._check_running()
        await self._flush_all(next(self._ops), self._deadline(timeout), everything=False)

    async def _flush_all(self, op: int, deadline: float, *, everything: bool) -> None:
        queue = self.queue
        targets = None if everything else queue.user_ids()
        delay = self.config.retry_base
        while len(queue) and (targets is None or any(uid in queue for uid in targets)):
            error = await self._flush_batch(op)
            if error is None:
                delay = self.config.retry_base
                continue
            if not error.transient or perf_counter() + delay > deadline:
                raise PendingWritesError(len(queue), str(error)) from error
            await asyncio.sleep(delay)
            delay = min(self.config.retry_cap, delay * 2)

    async def _flush_batch(self, op: int) -> DatabaseUnavailable | None:
        """Write the oldest pending writes in one transaction; the error if it failed."""
        async with self._flush_lock:
            batch = self.queue.take_batch(self.config.batch_size)
            count = len(batch.profiles)
            if not count:
                return None
            start = perf_counter()
            try:
                await self.db.write(batch.profiles)
            except DatabaseUnavailable as exc:
                self._c.coalesced += self.queue.failed(batch)
                self._c.retries += 1
                self._emit(
                    op,
                    EventKind.RETRY,
                    None,
                    None,
                    perf_counter() - start,
                    f"{count} writes not landed, will retry: {exc}",
                )
                return exc
            except BaseException:
                self.queue.failed(batch)
                raise
            self.queue.landed(batch)
            c = self._c
            c.db_writes += count
            c.db_transactions += 1
            waited = perf_counter() - min(batch.queued_at)
            if waited > c.max_queue_wait:
                c.max_queue_wait = waited
            if count == 1:
                p = batch.profiles[0]
                self._emit(
                    op,
                    EventKind.FLUSH,
                    p.user_id,
                    p.version,
                    perf_counter() - start,
                    "1 write in 1 transaction",
                )
            else:
                self._emit(
                    op,
                    EventKind.FLUSH,
                    None,
                    None,
                    perf_counter() - start,
                    f"{count} writes in 1 transaction",
                )
            return None

    async def _run_flusher(self) -> None:
        """Flush every ``flush_interval``, or sooner at ``batch_size``; back off on failure."""
        delay = 0.0
        config = self.config
        while True:
            try:
                if delay:
                    await asyncio.sleep(delay)
                else:
                    await _wait_event(self._wake, config.flush_interval)
                self._wake.clear()
                if self._restart_wait and not self._flush_requested:
                    self._restart_wait = False  # a new interval: start waiting again
                    continue
                self._restart_wait = self._flush_requested = False
                if not len(self.queue):
                    continue
                op = next(self._ops)
                while len(self.queue):
                    if await self._flush_batch(op) is not None:
                        delay = min(config.retry_cap, max(config.retry_base, delay * 2))
                        break
                else:
                    delay = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the flusher must survive anything
                self._emit(
                    _BACKGROUND_OP, EventKind.ERROR, None, None, None, f"flusher error: {exc!r}"
                )
                delay = config.retry_cap

    async def _drain(self, deadline: float) -> None:
        """With the gate closed: wait out updates in progress and flush everything."""
        op = next(self._ops)
        while True:
            if len(self.queue):
                await self._flush_all(op, deadline, everything=True)
            if self._active_updates == 0 and not len(self.queue):
                return
            remaining = deadline - perf_counter()
            if remaining <= 0:
                raise PendingWritesError(
                    len(self.queue), f"{self._active_updates} updates still in progress"
                )
            await _wait_event(self._idle, min(remaining, 0.05))

    def _deadline(self, timeout: float | None) -> float:
        return perf_counter() + (self.config.flush_timeout if timeout is None else timeout)

    def _drop_queue(self) -> list[tuple[int, int]]:
        lost = sorted((p.user_id, p.version) for p in self.queue.clear())
        self._c.lost_writes += len(lost)
        return lost

    # -- policy, crash, external writes ---------------------------------------------------------
    @property
    def policy(self) -> WritePolicy:
        return self._policy

    async def set_policy(self, policy: WritePolicy | str, timeout: float | None = None) -> None:
        """Switch the write policy. Leaving write-behind drains the queue first; if the
        database keeps failing, raise PendingWritesError and keep write-behind."""
        new = WritePolicy.parse(policy)
        self._check_running()
        async with self._switch_lock:
            old = self._policy
            if new is old:
                return
            if old is WRITE_BEHIND:
                self._gate.clear()
                try:
                    await self._drain(self._deadline(timeout))
                    self._policy = new
                finally:
                    self._gate.set()
            else:
                self._policy = new
            self._emit(next(self._ops), EventKind.POLICY, None, None, None, f"{old} → {new}")

    async def crash(self) -> list[tuple[int, int]]:
        """Simulate a process crash: the cache and the pending queue vanish unflushed.

        Returns, per user whose newest acknowledged write was not yet in the database,
        ``(user_id, version)`` of that newest lost version. The engine keeps running, cold.
        """
        self._check_running()
        op = next(self._ops)
        async with self._flush_lock:  # a batch in flight either landed or did not
            self._epoch += 1  # updates in progress die with the process
            lost = self._drop_queue()
            # The process's memory is gone: so is its list of cache entries to repair.
            unrepaired = len(self._cache_backlog)
            self._cache_backlog.clear()
            if self.store.lost_on_crash:
                await self.store.clear()
        if not lost:
            detail = "no pending writes lost"
        elif len(lost) == 1:
            detail = "1 user's acknowledged writes lost"
        else:
            detail = f"{len(lost)} users' acknowledged writes lost"
        if lost and not self.store.lost_on_crash:
            still = await self.cache_peek(uid for uid, _ in lost)
            orphaned = sum(1 for uid, v in lost if uid in still and still[uid].version == v)
            if orphaned:
                detail += (
                    f"; {orphaned} still in the cache, newer than the database with no "
                    "pending write (orphaned)"
                )
        if unrepaired and not self.store.lost_on_crash:
            detail += (
                f"; {unrepaired} cache {'entry' if unrepaired == 1 else 'entries'} written "
                "while the cache was unreachable will not be repaired: they may be stale"
            )
        self._emit(op, EventKind.CRASH, None, None, None, detail)
        return lost

    async def external_update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        """Write the database directly, bypassing the cache (another service writing)."""
        self._check_running()
        validate_user_id(user_id)
        changes = validate_changes(changes)
        op = next(self._ops)
        last_op_id.set(op)
        start = perf_counter()
        try:
            profile = await self.db.external_update(user_id, changes, self._timestamp())
            if profile is None:
                raise ProfileNotFound(user_id)
        except CacheTuiError as exc:
            self._emit(op, EventKind.ERROR, user_id, None, None, f"external write failed: {exc}")
            raise
        self._c.external_writes += 1
        self._emit(
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
        return self.config.flush_interval

    def set_flush_interval(self, seconds: float) -> None:
        """Change the flush interval while running (a lab knob: a demo may want the
        queue to flush only when asked). The flusher starts its next wait at once."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValidationError(
                f"flush_interval must be a number > 0, got {seconds!r}", field="flush_interval"
            )
        self.config.flush_interval = float(seconds)
        self._restart_wait = True
        self._wake.set()
        self._emit(
            _BACKGROUND_OP, EventKind.FAULT, None, None, None, f"flush interval = {seconds:g}s"
        )

    @property
    def max_pending(self) -> int:
        """The write-behind queue's bound (``EngineConfig.max_pending`` at start)."""
        return self.queue.max_pending

    def set_max_pending(self, max_pending: int) -> None:
        """Change the queue's bound while running (a lab knob: a small bound shows
        backpressure quickly). Writes already queued beyond it stay queued."""
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValidationError(
                f"max_pending must be an integer >= 1, got {max_pending!r}", field="max_pending"
            )
        self.queue.resize(max_pending)
        self._emit(
            _BACKGROUND_OP, EventKind.FAULT, None, None, None, f"queue bound = {max_pending}"
        )

    async def restore_rows(self, profiles: Iterable[Profile]) -> None:
        """Write these rows to the database exactly as given (versions included), past
        any injected fault and outside the metrics: for labs that rewind a demo."""
        rows = list(profiles)
        if rows:
            self._check_running()
            await self.db.restore(rows)

    async def reset_cache(self, profiles: Iterable[Profile] = ()) -> None:
        """Empty the cache store, then put ``profiles`` in it (a lab rewinding a demo).
        Raises StoreUnavailable while the cache is unreachable."""
        self._check_running()
        if not self._cache_ok and not self.faults.cache_down:
            await self.store.ping()  # back already? then repair it before resetting
            await self._cache_recover()
        if not self._cache_ok:
            raise StoreUnavailable(self._cache_error)
        try:
            await self.store.clear()
            for profile in profiles:
                await self.store.set(profile)
        except StoreUnavailable as exc:
            self._cache_failed(exc)
            raise

    async def invalidate(self, user_id: int) -> None:
        """Drop a user's cache entry (a pending write, if any, stays queued). With the
        cache unreachable, the entry is deleted as soon as it answers again."""
        self._check_running()
        validate_user_id(user_id)
        dropped = await self._cache_delete(user_id)
        detail = {
            True: "on request",
            False: "on request (it was not cached)",
            None: "on request (deferred: cache unavailable)",
        }[dropped]
        self._emit(next(self._ops), EventKind.INVALIDATE, user_id, None, None, detail)

    async def seed(self, count: int, *, seed: int = 42) -> int:
        """Insert demo profiles 1..count if the table is empty; returns rows inserted."""
        self._check_running()
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValidationError(f"profile count must be an integer >= 0, got {count!r}")
        return await self.db.seed(count, self._timestamp(), seed=seed)

    # -- observation: metrics, events, pane contents ---------------------------------------------
    @property
    def metrics(self) -> MetricsSnapshot:
        return MetricsSnapshot.of(self._c, len(self.queue), self.queue.oldest_age(perf_counter()))

    @property
    def counters(self) -> Counters:
        """The live counters and latency histograms (read-only by convention)."""
        return self._c

    def reset_metrics(self) -> None:
        self._c = Counters()

    def subscribe(self, subscriber: Subscriber) -> Any:
        """Call ``subscriber(event)`` for every event; returns a function that unsubscribes."""
        return self.events.subscribe(subscriber)

    def recent_events(self, limit: int | None = None) -> list[Event]:
        return self.events.recent(limit)

    def trace(self, op_id: int) -> list[Event]:
        """The steps of one operation, from the event ring buffer."""
        return self.events.for_op(op_id)

    @property
    def cache_available(self) -> bool:
        """False while the cache store is unreachable (or the cache_down fault is on)."""
        return self._cache_ok

    @property
    def cache_error(self) -> str:
        """Why the cache is unavailable ('' when it is available)."""
        return "" if self._cache_ok else self._cache_error

    async def cache_entries(self) -> list[CacheEntry]:
        """What the cache store holds; raises StoreUnavailable while it is unreachable."""
        if not self._cache_ok:
            raise StoreUnavailable(self._cache_error)
        try:
            return await self.store.entries()
        except StoreUnavailable as exc:
            self._cache_failed(exc)
            raise

    async def cache_peek(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The cached profiles of these users (no hit counted; {} if unreachable)."""
        if not self._cache_ok:
            return {}
        try:
            return await self.store.peek_many(user_ids)
        except StoreUnavailable as exc:
            self._cache_failed(exc)
            return {}

    def pending_writes(self) -> list[PendingWrite]:
        return self.queue.snapshot(perf_counter())

    async def db_rows(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The database rows of these users, read past any injected fault."""
        return await self.db.peek_many(user_ids)

    async def db_recent(self, limit: int = 50) -> list[Profile]:
        return await self.db.peek_recent(limit)

    async def db_count(self) -> int:
        return await self.db.count()

    # -- internals ------------------------------------------------------------------------------
    async def _fetch_rows(self, user_ids: list[int]) -> dict[int, Profile]:
        rows = await self.db.fetch_many(user_ids)
        self._c.db_reads += len(rows)
        return rows

    async def _write_rows(self, profiles: Sequence[Profile]) -> None:
        await self.db.write(profiles)
        self._c.db_writes += len(profiles)
        self._c.db_transactions += 1

    # The cache store's calls. A local store never fails; a remote one may become
    # unreachable: then the call is skipped (a read misses), a set or delete that could
    # not happen is remembered in the backlog, and a probe waits for the store to answer.
    async def _cache_get(self, user_id: int) -> Profile | None:
        if self._local:
            return self.store.get_nowait(user_id)
        if not self._cache_ok:
            return None
        try:
            return await self.store.get(user_id)
        except StoreUnavailable as exc:
            self._cache_failed(exc)
            return None

    async def _cache_set(self, profile: Profile, *, fill: bool = False) -> bool:
        """Store ``profile``; False if the cache is unavailable. A fill (a value read
        from the queue or the DB) that cannot be stored leaves nothing to repair."""
        if self._local:
            self.store.set_nowait(profile)
            return True
        if self._cache_ok:
            try:
                await self.store.set(profile, fill=fill)
                return True
            except StoreUnavailable as exc:
                self._cache_failed(exc)
                fill = False  # the set may have reached the server: repair it later
        if not fill:
            self._cache_backlog.add(profile.user_id)
        return False

    async def _cache_delete(self, user_id: int) -> bool | None:
        """Whether an entry was dropped; None if deferred (the cache is unreachable)."""
        if self._local:
            return self.store.delete_nowait(user_id)
        if self._cache_ok:
            try:
                return await self.store.delete(user_id)
            except StoreUnavailable as exc:
                self._cache_failed(exc)
        self._cache_backlog.add(user_id)
        return None

    def _cache_failed(self, exc: BaseException, *, injected: bool = False) -> None:
        self._c.cache_errors += not injected
        if not self._cache_ok:
            return
        self._cache_ok = False
        self._local = False
        self._cache_error = str(exc)
        self._emit(
            _BACKGROUND_OP,
            EventKind.CACHE_DOWN,
            None,
            None,
            None,
            f"{exc}: reads go to the database; entries written meanwhile are dropped "
            "when the cache is back",
        )
        if not injected and self._state == _RUNNING and self._probe is None:
            self._probe = self._loop.create_task(self._probe_cache())

    async def _probe_cache(self) -> None:
        """Ask the store again, backing off, until it answers; then repair and resume."""
        delay = CACHE_PROBE_BASE
        try:
            while not self._cache_ok and not self.faults.cache_down:
                try:
                    await self.store.ping()
                    await self._cache_recover()
                except StoreUnavailable as exc:
                    self._cache_error = str(exc)
                    await asyncio.sleep(delay)
                    delay = min(CACHE_PROBE_CAP, delay * 2)
        finally:
            self._probe = None

    async def _cache_recover(self) -> None:
        """Delete the entries written while the cache was away, then serve it again."""
        dropped = 0
        while self._cache_backlog:
            batch = sorted(self._cache_backlog)
            self._cache_backlog.clear()
            try:
                await self.store.delete_many(batch)
            except StoreUnavailable:
                self._cache_backlog.update(batch)
                raise
            dropped += len(batch)
        if not self.faults.cache_down:
            self._cache_resume(dropped)

    def _cache_resume(self, dropped: int) -> None:
        """The cache answers again and holds nothing older than the database."""
        self._cache_ok = True
        self._cache_error = ""
        self._local = self.store.local
        detail = f"{dropped} entries written meanwhile dropped" if dropped else "cache back"
        self._emit(_BACKGROUND_OP, EventKind.CACHE_UP, None, None, None, detail)

    def _timestamp(self) -> str:
        return utc_timestamp(self.config.clock())

    def _emit(
        self,
        op: int,
        kind: EventKind,
        user_id: int | None,
        version: int | None,
        duration: float | None,
        detail: str,
    ) -> None:
        self.events.emit(Event(op, kind, user_id, version, duration, perf_counter(), detail))

    def _on_drop(self, user_id: int, profile: Profile | None, reason: str) -> None:
        if reason == "expire":
            self._c.expirations += 1
            kind = EventKind.EXPIRE
        elif reason == "evict":
            self._c.evictions += 1
            kind = EventKind.EVICT
        else:
            kind = EventKind.INVALIDATE
            reason = {
                "invalid": "the cached value was not a valid profile: dropped",
                "gone": "deleted outside the engine",
            }.get(reason, reason)
        dirty = " (its pending write stays queued)" if user_id in self.queue else ""
        version = None if profile is None else profile.version
        self._emit(_BACKGROUND_OP, kind, user_id, version, None, reason + dirty)

    def _on_store_restart(self) -> None:
        self._emit(
            _BACKGROUND_OP,
            EventKind.CACHE_UP,
            None,
            None,
            None,
            "the cache server restarted: this database's entries were dropped (they may "
            "have been older than the database)",
        )

    def _on_fault(self, name: str, value: object) -> None:
        change = {
            "db_down": f"DB outage {'on' if value else 'off'}",
            "cache_down": f"cache outage {'on' if value else 'off'}",
            "db_latency": f"DB latency {float(value) * 1000:g} ms",  # type: ignore[arg-type]
            "db_error_rate": f"DB error rate {float(value):.0%}",  # type: ignore[arg-type]
        }.get(name, f"{name} = {value}")
        state = self.faults.describe() or "none"
        self._emit(_BACKGROUND_OP, EventKind.FAULT, None, None, None, f"{change} (faults: {state})")
        if name != "cache_down" or self._state != _RUNNING:
            return
        if value:
            self._cache_failed(StoreUnavailable("cache down (injected)"), injected=True)
        elif not self._cache_ok and self._probe is None:
            if self.store.local:  # nothing to wait for: repair it now
                dropped = len(self._cache_backlog)
                for user_id in self._cache_backlog:
                    self.store.delete_nowait(user_id)
                self._cache_backlog.clear()
                self._cache_resume(dropped)
            else:
                self._probe = self._loop.create_task(self._probe_cache())


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` passes. (Not ``asyncio.wait_for``: on
    Python 3.11 it can swallow a cancellation that races with the event.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
