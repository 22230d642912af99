"""A near cache: per-instance (``memory://``) caches kept coherent over Redis pub/sub
(``invalidate_url``, ``--invalidate redis://…``; docs/fleet.md, "Near caches").

Instances on one database share one channel, ``cachetui:invalidate:<database id>``.
Each announces the users it changed, with their versions, at acknowledgement and again
when the write lands (a peer that read the row between the two cached the older one);
peers drop those entries, and for ``db_timeout`` seconds refuse to cache an older version
of them (a read that started before the announcement and fills after it). An instance
ignores its own announcements. Announcements are batched off the hot path: the engine
only adds to a dict (:meth:`NearCache.changed`), a task publishes. Pub/sub delivers at
most once: a subscription that is lost (the connection closed, killed, or silently
re-established) may have missed announcements, so the whole near cache is cleared then,
and again once subscribed anew (what was cached in between was never covered).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cachetui.engine.events import EventKind
from cachetui.engine.profile import Profile
from cachetui.engine.stores.memory import MemoryStore
from cachetui.engine.stores.redis_errors import describe_error, unreachable
from cachetui.engine.stores.redis_url import mask_url
from cachetui.engine.words import plural

#: Every channel's prefix; the database's id follows.
CHANNEL_PREFIX = "cachetui:invalidate:"
#: Users remembered with their newest announced version (oldest forgotten first).
REMEMBERED = 100_000
#: Emit(kind, user_id, version, detail): an event of the engine's log.
Emit = Callable[[EventKind, int | None, int | None, str], None]


def channel_for(database_id: str) -> str:
    """The invalidation channel of the database whose id is ``database_id``."""
    return f"{CHANNEL_PREFIX}{database_id}"


class NearMemoryStore(MemoryStore):
    """The in-process store of a near cache: it keeps no version of a user older than
    one a peer announced within the last ``guard`` seconds."""

    def __init__(self, capacity: int, eviction: str, ttl: float | None, *, guard: float) -> None:
        super().__init__(capacity, eviction, ttl)
        self.guard = guard
        #: Per user, the newest version a peer announced and when (monotonic seconds).
        self.announced: dict[int, tuple[int, float]] = {}
        self.description = f"near cache ({eviction}, capacity {capacity})"

    def set_nowait(self, profile: Profile) -> None:
        newest = self.announced.get(profile.user_id)
        if (
            newest is not None
            and profile.version < newest[0]
            and time.monotonic() - newest[1] < self.guard
        ):
            return  # read before a peer's announcement: older than what it wrote
        super().set_nowait(profile)

    def announce(self, user_id: int, version: int) -> bool:
        """A peer changed ``user_id`` to ``version``: drop the entry; True if one was
        cached."""
        known = self.announced.pop(user_id, None)
        if known is not None and known[0] > version:
            version = known[0]
        self.announced[user_id] = (version, time.monotonic())
        if len(self.announced) > REMEMBERED:
            del self.announced[next(iter(self.announced))]
        return self.delete_nowait(user_id)


class NearCache:
    """Announces this instance's changed users and drops peers' from ``store``."""

    def __init__(
        self, url: str, database_id: str, instance: str, store: NearMemoryStore, emit: Emit
    ) -> None:
        self.url = url
        self.channel = channel_for(database_id)
        self.instance = instance
        self.store = store
        self._emit = emit
        #: The connections' name in ``CLIENT LIST`` (``cachetui-near:<instance>``).
        self.client_name = f"cachetui-near:{instance}"
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2.0, health_check_interval=5, client_name=self.client_name
        )
        self._pending: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None
        #: What happened so far: entries dropped on a peer's announcement, whole clears
        #: on a lost subscription, announcements this instance published (users).
        self.dropped = 0
        self.clears = 0
        self.announced = 0
        self.subscribed = False

    async def start(self) -> None:
        """Subscribe (StoreUnavailable, one line, if Redis cannot be used) and start
        the publisher and the listener."""
        try:
            await self._subscribe()
        except (RedisError, OSError, ValueError) as exc:
            await self._drop_pubsub()
            await self._client.aclose()
            raise unreachable(self.url, exc) from None
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="near-cache-publish"),
            asyncio.create_task(self._listen_loop(), name="near-cache-listen"),
        ]

    async def close(self) -> None:
        """Publish what is pending (best effort), stop, disconnect."""
        if self._pending:
            with contextlib.suppress(RedisError, OSError):
                async with asyncio.timeout(1.0):
                    await self._publish(self._take())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_pubsub()
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()

    # -- announcing (the engine's hot path: no I/O) ----------------------------------
    def changed(self, profile: Profile) -> None:
        """This instance acknowledged ``profile``'s write."""
        self._pending[profile.user_id] = profile.version
        self._wake.set()

    def landed(self, profiles: Iterable[Profile]) -> None:
        """These writes landed in the database."""
        pending = self._pending
        for profile in profiles:
            pending[profile.user_id] = profile.version
        if pending:
            self._wake.set()

    def _take(self) -> dict[int, int]:
        batch, self._pending = self._pending, {}
        self._wake.clear()
        return batch

    async def _publish(self, batch: dict[int, int]) -> None:
        words = " ".join(f"{uid}:{version}" for uid, version in batch.items())
        await self._client.publish(self.channel, f"{self.instance} {words}")
        self.announced += len(batch)

    async def _publish_loop(self) -> None:
        failing = False
        while True:
            await self._wake.wait()
            batch = self._take()
            if not batch:
                continue
            try:
                await self._publish(batch)
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:  # one event per outage
                    self._emit(
                        EventKind.ERROR,
                        None,
                        None,
                        f"near cache: could not announce {len(batch)} changed users to the "
                        f"other instances ({describe_error(exc)}): they may serve stale "
                        "entries of them",
                    )
                failing = True
                await asyncio.sleep(0.2)

    # -- listening ----------------------------------------------------------------------
    async def _subscribe(self) -> None:
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(self.channel)
        message = await pubsub.get_message(timeout=2.0)
        if message is None or message.get("type") != "subscribe":
            raise TimeoutError(f"no subscription confirmation on {self.channel}")
        self.subscribed = True

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _listen_loop(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                self._lost(f"the subscription was lost ({describe_error(exc)})")
                await self._resubscribe()
                continue
            if message is None:
                continue
            kind = message.get("type")
            if kind == "message":
                self._apply(message["data"])
            elif kind == "subscribe":  # redis-py reconnected on its own: a gap
                self._clear(
                    "the subscription was re-established by the client: announcements "
                    "may have been missed, so every entry"
                )

    async def _resubscribe(self) -> None:
        delay = 0.05
        while True:
            await self._drop_pubsub()
            try:
                await self._subscribe()
            except (RedisError, OSError, TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._clear(
                f"subscribed again to {self.channel} at {mask_url(self.url)}: what was "
                "cached meanwhile"
            )
            return

    def _lost(self, why: str) -> None:
        self.subscribed = False
        self._clear(f"{why}: announcements may have been missed, so every entry")

    def _clear(self, what: str) -> None:
        count = len(self.store)
        self.store.clear_nowait()
        self.clears += 1
        self._emit(
            EventKind.INVALIDATE,
            None,
            None,
            f"near cache: {what} is dropped (cleared {count} {plural(count, 'entry', 'entries')})",
        )

    def _apply(self, data: bytes) -> None:
        """A peer's announcement: ``<instance> <user>:<version> …``."""
        try:
            sender, *words = data.decode().split()
            pairs = [tuple(int(n) for n in w.split(":", 1)) for w in words]
        except (UnicodeDecodeError, ValueError):
            return  # not ours: nothing to drop
        if sender == self.instance:
            return
        store = self.store
        for pair in pairs:
            if len(pair) != 2:
                continue
            user_id, version = pair
            if store.announce(user_id, version):
                self.dropped += 1
                self._emit(
                    EventKind.INVALIDATE,
                    user_id,
                    version,
                    "near cache: another instance wrote it",
                )
