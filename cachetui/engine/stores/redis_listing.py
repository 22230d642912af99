"""The panes' listing of a Redis cache store (:class:`RedisListing`): what Redis
really holds under the store's namespace, youngest first by the store times the
scripts keep (see ``redis_scripts``), and the store's size and peeks."""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable

from redis.exceptions import RedisError

from cachetui.engine.profile import Profile
from cachetui.engine.stores.base import CacheEntry
from cachetui.engine.stores.redis_codec import decode, fetched_entries, youngest_entries
from cachetui.engine.stores.redis_connection import (
    CHUNK,
    FULL_LISTING_SECONDS,
    SCAN_COUNT,
    RedisConnection,
)


class RedisListing(RedisConnection):
    """The listing half of the Redis store, over its connection."""

    async def entries(self, limit: int | None = None) -> list[CacheEntry]:
        """What Redis really holds under this namespace, found with SCAN (and the store's
        bookkeeping made to match it). With ``limit``, the ``limit`` most recently stored,
        youngest first, by the store times the scripts keep (one ZREVRANGE, not a SCAN of
        every key at each repaint of a pane). Keys set by hand have no store time and
        sort as the oldest: while the store keeps ``limit`` entries or more they cannot be
        among the youngest; below that, a full listing finds them, at most every
        :data:`FULL_LISTING_SECONDS`. Keys deleted behind the store's back are found by
        the listing that misses them (and by the store's upkeep every few seconds)."""
        if limit is not None and limit <= 0:
            return []
        now = time.monotonic()
        if limit is not None:
            youngest, kept = await self._youngest(limit)
            if kept >= limit or (kept and now - self._listed_at < FULL_LISTING_SECONDS):
                return youngest
        await self.record_uses()
        self._listed_at = now
        # SCAN may return a key twice; a key set by hand may not end in an id
        start = len(self.prefix)
        keys = sorted(
            {k for k in await self._profile_keys() if k[start:].isascii() and k[start:].isdigit()}
        )
        ids = [int(k[start:]) for k in keys]
        if not keys:
            if await self._call(self.batcher.execute, "ZCARD", self._index):
                await self._reconcile()
            return []
        found = len(keys)
        if limit is not None:  # youngest first, as the limited listing promises
            stored_at = await self._store_times(ids)
            # ties as the listing without a SCAN orders them (ZREVRANGE): by id as text
            youngest_first = heapq.nlargest(
                limit, range(len(ids)), key=lambda i: (stored_at[i] or 0, str(ids[i]))
            )
            keys = [keys[i] for i in youngest_first]
            ids = [ids[i] for i in youngest_first]
        out, indexed = await self._fetch(keys, ids)
        if indexed != found:
            await self._reconcile()
        return out

    async def _youngest(self, limit: int) -> tuple[list[CacheEntry], int]:
        """(the ``limit`` most recently stored entries, youngest first; how many entries
        have a store time), in one round trip that also sends the uses gathered."""
        uses, self._uses = self._uses, []
        reply = await self._script("YOUNGEST", 0, limit, *uses)
        out, kept, missing = youngest_entries(reply)
        if missing:
            await self._reconcile()
        return out, kept

    async def _fetch(self, keys: list[str], ids: list[int]) -> tuple[list[CacheEntry], int]:
        """The entries of these keys in one pipeline: (entries in the order given, how
        many ids the index holds). Keys gone since they were listed are left out."""
        pipe = self._client.pipeline(transaction=False)
        pipe.time()
        for i in range(0, len(keys), CHUNK):
            pipe.mget(keys[i : i + CHUNK])
        # Without a configured TTL only a key set by hand could expire: not worth one
        # PTTL per key on every refresh.
        with_ttl = self.ttl_ms > 0
        if with_ttl:
            for key in keys:
                pipe.pttl(key)
        pipe.hmget(self._hits, ids)
        for uid in ids:  # (ZMSCORE would be one command, but needs Redis 6.2)
            pipe.zscore(self._stored, uid)
        pipe.zcard(self._index)
        results = await self._call(pipe.execute)
        return fetched_entries(results, ids, with_ttl, CHUNK)

    async def _store_times(self, ids: list[int]) -> list[float | None]:
        """Each id's store time (server ms), None where it has none."""
        pipe = self._client.pipeline(transaction=False)
        for uid in ids:
            pipe.zscore(self._stored, uid)
        return list(await self._call(pipe.execute))

    async def size(self) -> int:
        """The entries the store indexes (ZCARD). Keys Redis expired leave the index at the
        next write or the store's upkeep (every few seconds), and a key deleted behind the
        store's back when a listing finds it gone; keys set by hand are not counted."""
        return int(await self._call(self.batcher.execute, "ZCARD", self._index))

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        ids = list(user_ids)
        if not ids:
            return {}
        values = await self._call(
            self.batcher.execute, "MGET", *[self.prefix + str(u) for u in ids]
        )
        out = {}
        for uid, raw in zip(ids, values, strict=True):
            if raw is not None and (profile := decode(raw, uid)) is not None:
                out[uid] = profile
        return out

    # -- internals -------------------------------------------------------------------
    async def _profile_keys(self) -> list[str]:
        try:
            return [
                k.decode()
                async for k in self._client.scan_iter(match=self.prefix + "*", count=SCAN_COUNT)
            ]
        except RedisError as exc:
            raise self._unavailable(exc) from None
