"""The cache store's health: outages, the repair backlog, and recovery.

A local store never fails; a remote one (Redis) may become unreachable, and the lab can
switch the ``cache_down`` fault on. While the cache is unavailable reads and updates
bypass it: a read misses, and every user written meanwhile is remembered in a backlog so
that their (now possibly older) cache entries are deleted before the cache serves again.
A probe asks the store again, backing off from 0.25 s to 2 s, until it answers.

Only a store that does not answer is an outage. A limit of its client or server that
refuses one call (:class:`~.busy.StoreBusy`: a full connection pool, ``maxclients``,
``OOM``, a ``BUSY`` script) fails that call alone: a read misses and goes to the
database, a fill is skipped (nothing was stored), and an update whose set was refused
deletes the user's entry, now older than what was written. If that delete is refused
too, the user joins the backlog while the cache stays up: their reads bypass the cache
until a repair, retried with backoff, has deleted the entry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Protocol

from cachetui.engine.background import stop_if_asked
from cachetui.engine.errors import StoreBusy, StoreUnavailable
from cachetui.engine.events import EventKind
from cachetui.engine.lab.faults import Faults
from cachetui.engine.profile import Profile
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.words import plural

CACHE_PROBE_BASE = 0.25  # seconds before asking an unreachable cache again
CACHE_PROBE_CAP = 2.0
REPAIR_BASE = 0.1  # seconds before deleting the backlog again after a refusal (a limit)
REPAIR_CAP = 1.0

_BACKGROUND_OP = 0


class Emit(Protocol):
    def __call__(
        self,
        op: int,
        kind: EventKind,
        user_id: int | None,
        version: int | None,
        duration: float | None,
        detail: str,
    ) -> None: ...


class CacheHealth:
    """Wraps the store's calls: a call that finds the store unreachable marks the cache
    unavailable (event ``CACHE_DOWN``) and starts the probe; ``CACHE_UP`` once repaired."""

    def __init__(
        self,
        store: CacheStore,
        faults: Faults,
        emit: Emit,
        count_error: Callable[[], None],
    ) -> None:
        self.store = store
        self._faults = faults
        self._emit = emit
        self._count_error = count_error
        self.ok = True
        #: True while callers may use the store's ``*_nowait`` methods directly.
        self.local = store.local
        self.error = ""
        #: Users written while the cache was unavailable, or whose entry a refused set
        #: left older than what was written: entries to delete before they are served.
        self.backlog: set[int] = set()
        self._deleting: set[int] = set()  # taken from the backlog, delete in flight
        self._probe: asyncio.Task[None] | None = None
        self._repair: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start(): probes run

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Probes may run from now on (the engine is running in ``loop``)."""
        self._loop = loop
        if self._faults.cache_down:  # switched on before start()
            self.failed(StoreUnavailable("cache down (injected)"), injected=True)

    async def stop(self) -> None:
        """No more probes: cancel a running one (and a repair) and wait for them."""
        self._loop = None
        for task in (self._probe, self._repair):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._probe = self._repair = None

    def suspect(self, user_id: int) -> bool:
        """Whether the user's entry may be older than what was written (to delete)."""
        return user_id in self.backlog or user_id in self._deleting

    async def get(self, user_id: int) -> Profile | None:
        if self.local:
            return self.store.get_nowait(user_id)
        if not self.ok or self.suspect(user_id):
            return None
        try:
            return await self.store.get(user_id)
        except StoreUnavailable as exc:  # StoreBusy: this read misses, nothing else
            self.failed(exc)
            return None

    async def set(self, profile: Profile, *, fill: bool = False) -> bool:
        """Store ``profile``; False if the cache is unavailable. A fill (a value read
        from the queue or the DB) that cannot be stored leaves nothing to repair."""
        if self.local:
            self.store.set_nowait(profile)
            return True
        if self.ok and not (fill and self.suspect(profile.user_id)):
            try:
                await self.store.set(profile, fill=fill)
                return True
            except StoreBusy as exc:  # refused: nothing was stored
                self.failed(exc)
                if not fill:  # the entry is older than what was written: drop it
                    await self.delete(profile.user_id)
                return False
            except StoreUnavailable as exc:
                self.failed(exc)
                fill = False  # the set may have reached the server: repair it later
        if not fill:
            self.backlog.add(profile.user_id)
        return False

    async def delete(self, user_id: int) -> bool | None:
        """Whether an entry was dropped; None if deferred (the cache is unreachable)."""
        if self.local:
            return self.store.delete_nowait(user_id)
        if self.ok:
            try:
                return await self.store.delete(user_id)
            except StoreUnavailable as exc:
                self.failed(exc)
        self.backlog.add(user_id)
        if self.ok:  # a limit refused the delete: the cache serves, the user bypasses it
            self._start_repair()
        return None

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The cached profiles of these users (no hit counted; {} if unreachable)."""
        if not self.ok:
            return {}
        try:
            found = await self.store.peek_many(user_ids)
        except StoreUnavailable as exc:
            self.failed(exc)
            return {}
        return {uid: p for uid, p in found.items() if not self.suspect(uid)}

    def failed(self, exc: BaseException, *, injected: bool = False) -> None:
        """The store did not answer (or the fault was switched on): bypass it. A limit
        that refused one call (StoreBusy) is counted as an error, not an outage."""
        if not injected:
            self._count_error()
        if not self.ok or isinstance(exc, StoreBusy):
            return
        self.ok = False
        self.local = False
        self.error = str(exc)
        self._emit(
            _BACKGROUND_OP,
            EventKind.CACHE_DOWN,
            None,
            None,
            None,
            f"{exc}: reads go to the database; entries written meanwhile are dropped "
            "when the cache is back",
        )
        if not injected and self._loop is not None and self._probe is None:
            self._probe = self._loop.create_task(self._run_probe())

    def fault_changed(self, cache_down: bool) -> None:
        """The ``cache_down`` fault was switched (the engine is running)."""
        if cache_down:
            self.failed(StoreUnavailable("cache down (injected)"), injected=True)
        elif not self.ok and self._probe is None:
            if self.store.local:  # nothing to wait for: repair it now
                dropped = len(self.backlog)
                for user_id in self.backlog:
                    self.store.delete_nowait(user_id)
                self.backlog.clear()
                self._resume(dropped)
            elif self._loop is not None:
                self._probe = self._loop.create_task(self._run_probe())

    async def _run_probe(self) -> None:
        """Ask the store again, backing off, until it answers; then repair and resume."""
        delay = CACHE_PROBE_BASE
        try:
            while not self.ok and not self._faults.cache_down:
                try:
                    await self.store.ping()
                    await self.recover()
                except StoreUnavailable as exc:
                    self.error = str(exc)
                    await asyncio.sleep(delay)
                    delay = min(CACHE_PROBE_CAP, delay * 2)
                stop_if_asked()  # redis-py may have swallowed stop()'s cancel
        finally:
            self._probe = None

    async def recover(self) -> None:
        """Delete the entries written while the cache was away, then serve it again."""
        dropped = await self._delete_backlog()
        if not self._faults.cache_down:
            self._resume(dropped)

    async def _delete_backlog(self) -> int:
        """Delete the backlog's entries; how many. Users stay suspect until their
        entry is deleted (reads of a cache that serves bypass it for them)."""
        dropped = 0
        while self.backlog:
            batch = sorted(self.backlog)
            self._deleting.update(batch)
            self.backlog.clear()
            try:
                await self.store.delete_many(batch)
            except BaseException:
                self.backlog.update(batch)
                raise
            finally:
                self._deleting.difference_update(batch)
            dropped += len(batch)
        return dropped

    def _start_repair(self) -> None:
        if self._loop is not None and self._repair is None:
            self._repair = self._loop.create_task(self._run_repair())

    async def _run_repair(self) -> None:
        """While the cache serves: delete the backlog's entries, backing off while a
        limit refuses it; an outage leaves them to the probe's recovery."""
        delay = REPAIR_BASE
        try:
            while self.ok and self.backlog:
                try:
                    await self._delete_backlog()
                except StoreUnavailable as exc:
                    self.failed(exc)
                    await asyncio.sleep(delay)
                    delay = min(REPAIR_CAP, delay * 2)
        finally:
            self._repair = None

    def _resume(self, dropped: int) -> None:
        """The cache answers again and holds nothing older than the database."""
        self.ok = True
        self.error = ""
        self.local = self.store.local
        entries = plural(dropped, "entry", "entries")
        detail = f"{dropped} {entries} written meanwhile dropped" if dropped else "cache back"
        self._emit(_BACKGROUND_OP, EventKind.CACHE_UP, None, None, None, detail)

    def on_store_restart(self) -> None:
        """The Redis server restarted (a new run id): its entries were dropped."""
        self._emit(
            _BACKGROUND_OP,
            EventKind.CACHE_UP,
            None,
            None,
            None,
            "the cache server restarted: this database's entries were dropped (they may "
            "have been older than the database)",
        )
