"""The cache store a ``cache_url`` names."""

from __future__ import annotations

from cachetui.engine.config import EngineConfig
from cachetui.engine.errors import ValidationError
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.memory import MemoryStore


def make_store(config: EngineConfig) -> CacheStore:
    """``memory://`` (in-process) or ``redis://…`` / ``rediss://…``; ValidationError
    for any other scheme."""
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
