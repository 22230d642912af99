"""The connection half of the Redis cache store (:class:`RedisConnection`, which
:class:`~.redis_store.RedisStore` completes): the client over one blocking connection
pool (see ``redis_pool``; a limit of the client or the server fails one call with
StoreBusy, only a server that does not answer raises StoreUnavailable), the scripts
called by SHA through the batcher (see ``redis_batcher``), the server's run id (a
restart empties this namespace), and the upkeep that sends the reads' uses in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cachetui.engine.background import stop_if_asked
from cachetui.engine.errors import StoreUnavailable, ValidationError
from cachetui.engine.profile import Profile
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.redis_batcher import CommandBatcher
from cachetui.engine.stores.redis_codec import decode, text
from cachetui.engine.stores.redis_errors import store_error, unreachable
from cachetui.engine.stores.redis_pool import MAX_CONNECTIONS, blocking_client
from cachetui.engine.stores.redis_scripts import scripts
from cachetui.engine.stores.redis_url import mask_url, parse_redis_url

#: Keys per SCAN step, and keys or ids per UNLINK, DELETE script call or MGET.
SCAN_COUNT = 1000
CHUNK = 1000
#: With a limit, a listing of the entries SCANs every key at most this often (seconds).
FULL_LISTING_SECONDS = 5.0
_USES_INTERVAL = 0.25  # the reads' uses are sent at least this often (seconds)
_CHECKS_EVERY = 12  # upkeep rounds between restart checks and index repairs (3 s)


class RedisConnection(CacheStore):
    """``url`` is ``redis://[user:password@]host:port/db``, ``rediss://…`` (TLS) or
    ``unix:///path.sock?db=N``: any form redis-py accepts (see ``redis_url``). Calls
    share ``max_connections`` connections and wait up to ``pool_timeout`` seconds (by
    default twice ``timeout``, the longest a call holds one) for a free one."""

    local = False
    lost_on_crash = False

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        capacity: int = 1000,
        eviction: str = "lru",
        ttl: float | None = None,
        ephemeral: bool = False,
        timeout: float = 1.0,
        max_connections: int = MAX_CONNECTIONS,
        pool_timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.address = parse_redis_url(url)  # ValidationError: one line, password masked
        self.url = url
        self.safe_url = mask_url(url)
        self.capacity = capacity
        self.eviction = eviction
        self.ttl_ms = 0 if ttl is None else max(1, round(ttl * 1000))
        self.ttl = ttl
        #: Delete this namespace on close (a ``:memory:`` database dies with the engine).
        self.ephemeral = ephemeral
        self.namespace = namespace
        base = f"cachetui:{namespace}:"
        self.prefix = base + "profile:"
        self._index = base + "index"
        self._clock_key = base + "clock"
        self._hits = base + "hits"
        self._stored = base + "stored_at"
        self._legacy_stored = base + "stored"  # earlier versions' hash of store times
        self._expiry = base + "expiry"
        self._listed_at = -FULL_LISTING_SECONDS  # when entries() last SCANned every key
        self._sources = scripts(base, eviction, capacity, self.ttl_ms)
        self.description = f"{self.safe_url} ({eviction}, capacity {capacity})"  # a URL says redis
        try:
            self._client = blocking_client(
                url,
                max_connections=max_connections,
                pool_timeout=2 * timeout if pool_timeout is None else pool_timeout,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
                decode_responses=False,
                redis_connect_func=self._on_connect,
            )
        except (ValueError, RedisError) as exc:
            raise ValidationError(
                f"invalid Redis URL {self.safe_url}: {exc}", field="cache_url"
            ) from None
        #: The client's connection pool (blocking: callers wait for a free connection).
        self.pool = self._client.connection_pool
        self._sha = {n: hashlib.sha1(s.encode()).hexdigest() for n, s in self._sources.items()}
        self._by_sha = {self._sha[n]: s for n, s in self._sources.items()}
        self._batcher: CommandBatcher | None = None
        self._uses: list[str] = []  # ids of reads served, not yet sent
        self._run_id = ""  # the server's run id: a new one means it restarted
        self._started = False
        self._recheck = False  # a connection was (re)made: look for a restart first
        #: Called after a server restart emptied this namespace.
        self.on_restart: Callable[[], None] | None = None
        self._use_flusher: asyncio.Task[None] | None = None
        self._decoded: dict[int, tuple[bytes | str, Profile]] = {}
        self._memo_limit = max(64, 2 * capacity)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self._client.ping()
            self._run_id = await self._server_run_id()
            for source in self._sources.values():
                await self._client.script_load(source)
            await self._adopt_legacy_store_times()
            self._started = True
        except RedisError as exc:
            await self._client.aclose()
            raise unreachable(self.url, exc) from None
        self._use_flusher = asyncio.get_running_loop().create_task(self._upkeep())

    async def _adopt_legacy_store_times(self) -> None:
        """Earlier versions kept the store times in a hash (``stored``): they move into
        the sorted set, so the panes list a cache those versions filled youngest first."""
        if await self._client.type(self._legacy_stored) not in (b"hash", "hash"):
            return
        kept = await self._client.hgetall(self._legacy_stored)
        times: dict[str, float] = {
            text(uid): float(at) for uid, at in kept.items() if uid.isdigit() and at.isdigit()
        }
        pipe = self._client.pipeline(transaction=True)
        if times:
            pipe.zadd(self._stored, times, nx=True)  # a time this version wrote is newer
        pipe.unlink(self._legacy_stored)
        await pipe.execute()

    async def close(self) -> None:
        if self._use_flusher is not None:
            self._use_flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._use_flusher
            self._use_flusher = None
        with contextlib.suppress(Exception):  # closing must not fail on a dead server
            await self.record_uses()
            if self.ephemeral:
                await self.clear()
        if self._batcher is not None:
            await self._batcher.aclose()
        await self._client.aclose()

    async def ping(self) -> None:
        await self._call(self._client.ping)
        await self.check_restart()

    async def check_restart(self) -> bool:
        """Whether the server restarted since we last looked (its run id changed). A
        server restored from a snapshot may hold entries older than the database and
        we cannot know which: this namespace is then emptied (a cache may always be)."""
        try:
            run_id = await self._server_run_id()
        except RedisError as exc:
            raise self._unavailable(exc) from None
        if run_id == self._run_id:
            return False
        self._run_id = run_id
        self._uses.clear()
        await self.clear()
        if self.on_restart is not None:
            self.on_restart()
        return True

    async def _on_connect(self, connection: Any) -> None:
        """Every new connection of the pool: the usual handshake, then, after start,
        a note to look for a server restart before the next read (a reconnection that
        redis-py's retry made silently may be to a restarted server)."""
        handshake = getattr(connection, "on_connect_check_health", None)
        await (handshake() if handshake is not None else connection.on_connect())
        if self._started:
            self._recheck = True

    async def _server_run_id(self) -> str:
        info = await self._client.info("server")
        return str(info.get("run_id", ""))

    async def record_uses(self) -> None:
        """Send the uses of the reads served since the last batch (LRU/LFU, hits)."""
        if self._uses:
            uses, self._uses = self._uses, []
            await self._script("TOUCH", 0, *uses)

    async def _upkeep(self) -> None:
        """Send the uses every quarter second; every few seconds also look for a server
        restart and forget index entries whose keys were deleted behind our back."""
        rounds = 0
        while True:
            await asyncio.sleep(_USES_INTERVAL)
            rounds += 1
            with contextlib.suppress(StoreUnavailable):
                await self.record_uses()
                if rounds % _CHECKS_EVERY == 0:
                    await self.check_restart()
                    await self._reconcile()
            stop_if_asked()  # redis-py may have swallowed the close's cancel

    # -- shared by both halves ---------------------------------------------------------
    async def clear(self) -> None:
        """Delete every key of this namespace (SCAN + UNLINK, never KEYS)."""
        pattern = f"cachetui:{self.namespace}:*"
        batch: list[bytes] = []
        try:
            async for key in self._client.scan_iter(match=pattern, count=SCAN_COUNT):
                batch.append(key)
                if len(batch) >= CHUNK:
                    await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                await self._client.unlink(*batch)
        except RedisError as exc:
            raise self._unavailable(exc) from None

    async def _reconcile(self) -> None:
        dropped = await self._script("RECONCILE", 0)
        if dropped:
            self._report(dropped)

    def _report(self, dropped: list[bytes]) -> None:
        listener = self._on_drop
        if listener is None:
            return
        for i in range(0, len(dropped), 3):
            reason, uid, raw = dropped[i].decode(), int(dropped[i + 1]), dropped[i + 2]
            profile = decode(raw, uid) if raw else None
            listener(uid, profile, reason)

    @property
    def batcher(self) -> CommandBatcher:
        """The running event loop's batcher of commands (see ``redis_batcher``)."""
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.loop is not loop:
            self._batcher = CommandBatcher(self._client, self._by_sha, loop)
        return self._batcher

    async def _script(self, name: str, numkeys: int, *args: Any) -> Any:
        """Run a script by SHA (reloaded by the batcher if the server forgot it)."""
        return await self._call(self.batcher.execute, "EVALSHA", self._sha[name], numkeys, *args)

    async def _call(self, func: Any, *args: Any) -> Any:
        try:
            return await func(*args)
        except RedisError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return store_error(self.safe_url, exc)
