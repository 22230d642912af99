"""The in-process store: capacity, LRU / LFU / FIFO eviction, TTL."""

from __future__ import annotations

from cachetui.engine import Profile
from cachetui.engine.stores import MemoryStore


def p(user_id: int, version: int = 1) -> Profile:
    return Profile(user_id, f"user {user_id}", "", "", 0, version, "t")


def keys(store: MemoryStore) -> list[int]:
    return sorted(e.profile.user_id for e in store.entries_nowait())


def test_lru_evicts_the_least_recently_used():
    store = MemoryStore(capacity=3, eviction="lru")
    dropped = []
    store.set_drop_listener(lambda k, _, why: dropped.append((k, why)))
    for k in (1, 2, 3):
        store.set_nowait(p(k))
    store.get_nowait(1)
    store.set_nowait(p(4))
    assert keys(store) == [1, 3, 4] and dropped == [(2, "evict")]


def test_fifo_ignores_reads_and_overwrites():
    store = MemoryStore(capacity=3, eviction="fifo")
    for k in (1, 2, 3):
        store.set_nowait(p(k))
    store.get_nowait(1)
    store.set_nowait(p(1, 2))
    store.set_nowait(p(4))
    assert keys(store) == [2, 3, 4]


def test_lfu_evicts_the_least_frequently_used():
    store = MemoryStore(capacity=3, eviction="lfu")
    for k in (1, 2, 3):
        store.set_nowait(p(k))
    for _ in range(3):
        store.get_nowait(1)
    store.get_nowait(3)
    store.set_nowait(p(4))  # 2 has the fewest uses
    assert keys(store) == [1, 3, 4]
    store.set_nowait(p(5))  # 4 (one use) goes before 3 (two uses)
    assert keys(store) == [1, 3, 5]
    store.delete_nowait(5)
    store.set_nowait(p(6))
    store.set_nowait(p(7))
    assert keys(store) == [1, 3, 7]


def test_ttl_expires_entries_and_reports_them():
    now = [100.0]
    store = MemoryStore(capacity=10, ttl=5, clock=lambda: now[0])
    dropped = []
    store.set_drop_listener(lambda k, _, why: dropped.append((k, why)))
    store.set_nowait(p(1))
    now[0] += 3
    [entry] = store.entries_nowait()
    assert entry.ttl_left == 2 and entry.age == 3
    assert store.get_nowait(1) == p(1)
    now[0] += 2
    assert store.get_nowait(1) is None
    assert dropped == [(1, "expire")]


def test_overwrite_resets_ttl_and_counts_hits():
    now = [0.0]
    store = MemoryStore(capacity=10, ttl=5, clock=lambda: now[0])
    store.set_nowait(p(1))
    now[0] = 4
    store.get_nowait(1)
    store.set_nowait(p(1, 2))
    now[0] = 8
    [entry] = store.entries_nowait()
    assert entry.profile.version == 2 and entry.hits == 1 and entry.ttl_left == 1
