"""The in-process cache store: a dict bounded by capacity, LRU/LFU/FIFO, optional TTL."""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from cachetui.engine.profile import Profile
from cachetui.engine.stores.base import CacheEntry, CacheStore


class _Entry:
    __slots__ = ("profile", "stored_at", "expires_at", "hits")

    def __init__(self, profile: Profile, stored_at: float, expires_at: float | None) -> None:
        self.profile = profile
        self.stored_at = stored_at
        self.expires_at = expires_at
        self.hits = 0


class MemoryStore(CacheStore):
    """LRU by default; ``eviction`` picks "lru", "lfu" or "fifo"."""

    local = True

    def __init__(
        self,
        capacity: int = 1000,
        eviction: str = "lru",
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.capacity = capacity
        self.eviction = eviction
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[int, _Entry] = OrderedDict()
        #: The keys in the order they were last stored: the youngest entries are its end.
        self._stored: OrderedDict[int, None] = OrderedDict()
        self._policy = _make_policy(eviction)
        self._lru = eviction == "lru"
        self.description = f"memory ({eviction}, capacity {capacity})"

    # -- the hot path: no I/O, no await ---------------------------------------------
    def get_nowait(self, user_id: int) -> Profile | None:
        entry = self._data.get(user_id)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            self._drop(user_id, "expire")
            return None
        entry.hits += 1
        if self._lru:
            self._data.move_to_end(user_id)
        else:
            self._policy.touch(self._data, user_id)
        return entry.profile

    def set_nowait(self, profile: Profile) -> None:
        key = profile.user_id
        now = self._clock()
        expires_at = None if self.ttl is None else now + self.ttl
        entry = self._data.get(key)
        if entry is not None:
            entry.profile = profile
            entry.stored_at = now
            entry.expires_at = expires_at
            self._stored.move_to_end(key)
            if self._lru:
                self._data.move_to_end(key)
            else:
                self._policy.touch(self._data, key)
            return
        self._data[key] = _Entry(profile, now, expires_at)
        self._stored[key] = None
        self._policy.inserted(key)
        while len(self._data) > self.capacity:
            self._drop(self._policy.victim(self._data), "evict")

    def delete_nowait(self, user_id: int) -> bool:
        if self._data.pop(user_id, None) is None:
            return False
        del self._stored[user_id]
        self._policy.removed(user_id)
        return True

    def clear_nowait(self) -> None:
        self._data.clear()
        self._stored.clear()
        self._policy = _make_policy(self.eviction)

    def expire_due(self) -> int:
        """Drop every expired entry now; returns how many."""
        if self.ttl is None:
            return 0
        now = self._clock()
        due = [k for k, e in self._data.items() if e.expires_at is not None and e.expires_at <= now]
        for key in due:
            self._drop(key, "expire")
        return len(due)

    def entries_nowait(self, limit: int | None = None) -> list[CacheEntry]:
        """Every live entry, or the ``limit`` most recently stored (youngest first)."""
        self.expire_due()
        now = self._clock()
        chosen: Iterable[_Entry] = self._data.values()
        if limit is not None:
            data = self._data
            chosen = [data[key] for key in itertools.islice(reversed(self._stored), max(0, limit))]
        return [
            CacheEntry(
                profile=e.profile,
                hits=e.hits,
                age=now - e.stored_at,
                ttl_left=None if e.expires_at is None else e.expires_at - now,
            )
            for e in chosen
        ]

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._data

    def _drop(self, key: int, reason: str) -> None:
        entry = self._data.pop(key)
        del self._stored[key]
        self._policy.removed(key)
        if self._on_drop is not None:
            self._on_drop(key, entry.profile, reason)

    # -- the async interface ---------------------------------------------------------
    async def get(self, user_id: int) -> Profile | None:
        return self.get_nowait(user_id)

    async def set(self, profile: Profile, *, fill: bool = False) -> None:
        self.set_nowait(profile)

    async def delete(self, user_id: int) -> bool:
        return self.delete_nowait(user_id)

    async def clear(self) -> None:
        self.clear_nowait()

    async def entries(self, limit: int | None = None) -> list[CacheEntry]:
        return self.entries_nowait(limit)

    async def size(self) -> int:
        return len(self._data)

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        data = self._data
        return {u: data[u].profile for u in user_ids if u in data}


class _EvictionPolicy:
    """Picks the victim; the store's OrderedDict keeps insertion (or recency) order."""

    def touch(self, data: OrderedDict[int, _Entry], key: int) -> None:
        pass

    def inserted(self, key: int) -> None:
        pass

    def removed(self, key: int) -> None:
        pass

    def victim(self, data: OrderedDict[int, _Entry]) -> int:
        return next(iter(data))


class _Lru(_EvictionPolicy):
    def touch(self, data: OrderedDict[int, _Entry], key: int) -> None:
        data.move_to_end(key)


class _Fifo(_EvictionPolicy):
    """Oldest insertion first; reads and overwrites keep the position."""


class _Lfu(_EvictionPolicy):
    """Least frequently used first; ties go to the least recently used of them."""

    def __init__(self) -> None:
        self._freq: dict[int, int] = {}
        self._buckets: dict[int, OrderedDict[int, None]] = {}
        self._min = 1

    def inserted(self, key: int) -> None:
        self._freq[key] = 1
        self._buckets.setdefault(1, OrderedDict())[key] = None
        self._min = 1

    def touch(self, data: OrderedDict[int, _Entry], key: int) -> None:
        freq = self._freq[key]
        bucket = self._buckets[freq]
        del bucket[key]
        if not bucket:
            del self._buckets[freq]
            if self._min == freq:
                self._min = freq + 1
        self._freq[key] = freq + 1
        self._buckets.setdefault(freq + 1, OrderedDict())[key] = None

    def removed(self, key: int) -> None:
        freq = self._freq.pop(key, None)
        if freq is None:
            return
        bucket = self._buckets[freq]
        del bucket[key]
        if not bucket:
            del self._buckets[freq]

    def victim(self, data: OrderedDict[int, _Entry]) -> int:
        if self._min not in self._buckets:
            self._min = min(self._buckets)
        return next(iter(self._buckets[self._min]))


def _make_policy(eviction: str) -> _EvictionPolicy:
    return {"lru": _Lru, "lfu": _Lfu, "fifo": _Fifo}[eviction]()
