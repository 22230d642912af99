"""Cache stores: where cached profiles live."""

from cachetui.engine.stores.base import CacheEntry, CacheStore
from cachetui.engine.stores.memory import MemoryStore

__all__ = ["CacheEntry", "CacheStore", "MemoryStore"]
