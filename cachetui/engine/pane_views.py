"""What the dashboard's panes show, read from the real stores: cache entries, the
pending writes, windows of database rows. Part of the
:class:`~cachetui.engine.engine.Engine` facade; nothing here counts as a read or a hit.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from cachetui.engine.core import EngineCore, perf_counter
from cachetui.engine.errors import StoreUnavailable
from cachetui.engine.metrics.counters import MetricsSnapshot
from cachetui.engine.pane_snapshot import PaneSnapshot, check_limits, key_states
from cachetui.engine.pending import oldest_age, pending_count, pending_now
from cachetui.engine.profile import MAX_INTEGER, Profile
from cachetui.engine.queue.write_queue import PendingWrite
from cachetui.engine.stores.base import CacheEntry

_T = TypeVar("_T")


def possible_ids(user_ids: Iterable[object]) -> list[int]:
    """The ids a user can have, of these (what a pane or a dialog asks about may be
    typed by hand: a number the database cannot even hold is no user, not an error)."""
    return [
        u
        for u in user_ids
        if type(u) is int and 0 < u <= MAX_INTEGER  # noqa: E721 - no bools
    ]


class PaneViews:
    _core: EngineCore

    @property
    def cache_available(self) -> bool:
        """False while the cache store is unreachable (or the cache_down fault is on)."""
        return self._core.cache.ok

    @property
    def cache_error(self) -> str:
        """Why the cache is unavailable ('' when it is available)."""
        cache = self._core.cache
        return "" if cache.ok else cache.error

    @property
    def database_file_error(self) -> str:
        """Why writes cannot go to the database file: it was deleted or replaced while
        open ('' while it is the file the engine opened). See ``rescue_database()``."""
        error = self._core.db.file_error()
        return "" if error is None else str(error)

    async def cache_entries(self, limit: int | None = None) -> list[CacheEntry]:
        """What the cache store holds: every entry, or with ``limit`` the ``limit`` most
        recently stored, youngest first (a pane of a 10,000-entry cache needs a few
        hundred). Raises StoreUnavailable while the store is unreachable."""
        return await self._from_store(self._core.store.entries(limit))

    async def cache_size(self) -> int:
        """How many entries the cache store holds (Redis: the entries its index counts).
        Raises StoreUnavailable while the store is unreachable."""
        return await self._from_store(self._core.store.size())

    async def _from_store(self, read: Coroutine[Any, Any, _T]) -> _T:
        """``read``'s answer; StoreUnavailable while the store is unreachable, and a
        failure of ``read`` marks it so."""
        cache = self._core.cache
        if not cache.ok:
            read.close()  # never awaited
            raise StoreUnavailable(cache.error)
        try:
            return await read
        except StoreUnavailable as exc:
            cache.failed(exc)
            raise

    async def pane_snapshot(
        self,
        *,
        cache_limit: int | None = None,
        pending_limit: int | None = None,
        db_limit: int = 50,
        users: Iterable[int] = (),
    ) -> PaneSnapshot:
        """What the panes show, in one call (see
        :class:`~cachetui.engine.pane_snapshot.PaneSnapshot`): the ``cache_limit``
        youngest cache entries (None: all), the ``pending_limit`` oldest pending writes
        (None: all), the ``db_limit`` most recently updated rows, and the rows of every
        user listed, parked or in ``users`` (e.g. the one followed on screen), with each
        user's key state. The queue, the dead letters and the metrics are read at one
        instant, after the cache (an update landing meanwhile is then pending, never
        "orphaned"). A cache that cannot be reached gives no entries, not an error.
        ValidationError for a limit that is not a whole number ≥ 0."""
        check_limits(cache_limit, pending_limit, db_limit)
        wanted_users = set(possible_ids(users))
        core = self._core
        try:
            entries = await self._from_store(core.store.entries(cache_limit))
            size = await self._from_store(core.store.size())
        except StoreUnavailable:
            entries, size = [], 0
        # one instant, no await: what is listed and what is counted agree
        pending = pending_now(core, perf_counter())
        letters = {letter.user_id: letter for letter in core.dead_letters.all()}
        dead = len(core.dead_letters)
        metrics = MetricsSnapshot.of(core.c, pending_count(core), oldest_age(pending), dead)
        policy, durable = core.policy, core.durable
        listed = pending if pending_limit is None else pending[:pending_limit]
        cached = {entry.profile.user_id: entry.profile for entry in entries}
        queued = {write.user_id: write.profile for write in pending}
        recent = await core.db.peek_recent(db_limit) if db_limit else []
        rows = {profile.user_id: profile for profile in recent}
        wanted_users |= set(cached) | {write.user_id for write in listed} | set(letters)
        rows.update(await core.db.peek_many(sorted(wanted_users - set(rows))))
        return PaneSnapshot(
            policy=policy,
            capacity=core.config.capacity,
            cache_available=core.cache.ok,
            entries=tuple(entries),
            cache_size=size,
            pending=tuple(listed),
            pending_count=len(pending),
            writes_at_risk=0 if durable else len(pending),
            dead_letters=tuple(letters.values()),
            recent=tuple(recent),
            rows=rows,
            states=key_states(set(rows) | set(cached), cached, queued, rows, letters),
            metrics=metrics,
        )

    async def cache_peek(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The cached profiles of these users (no hit counted; {} if unreachable). An id
        no user can have (not an integer 1..2**63-1) has no entry."""
        return await self._core.cache.peek_many(possible_ids(user_ids))

    def pending_writes(self) -> list[PendingWrite]:
        """The write-behind queue, oldest first (ages in seconds); with the fleet queue,
        also this instance's acknowledged writes not fed into it yet."""
        return pending_now(self._core, perf_counter())

    async def db_rows(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The database rows of these users, read past any injected fault. An id no user
        can have (not an integer 1..2**63-1) has no row."""
        return await self._core.db.peek_many(possible_ids(user_ids))

    async def db_recent(self, limit: int = 50) -> list[Profile]:
        """The ``limit`` most recently updated rows, read past any injected fault."""
        return await self._core.db.peek_recent(limit)

    async def db_count(self) -> int:
        """How many rows the ``profiles`` table holds."""
        return await self._core.db.count()
