"""The cache store a ``cache_url`` names."""

from __future__ import annotations

import time

from cachetui.engine.config import EngineConfig
from cachetui.engine.errors import ValidationError
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.memory import MemoryStore
from cachetui.engine.stores.redis_url import (
    REDIS_URL_FORMS,
    is_redis_url,
    mask_url,
    parse_redis_url,
)

#: Every cache URL form, for help texts and error messages.
CACHE_URL_FORMS = f"memory:// (in-process), {REDIS_URL_FORMS}"


def check_cache_url(url: str) -> None:
    """Raise :class:`ValidationError` (one line, password masked) unless ``url`` names a
    cache store: ``memory://`` or a valid Redis URL (see
    :func:`~cachetui.engine.stores.redis_url.parse_redis_url`). Connects to nothing."""
    if url.lower() == "memory://":
        return
    if url.lower().startswith("memory://"):
        raise ValidationError(
            f"invalid cache URL {mask_url(url)!r}: memory:// takes nothing after it",
            field="cache_url",
        )
    if not is_redis_url(url):
        raise ValidationError(
            f"unsupported cache URL {mask_url(url)!r}: use {CACHE_URL_FORMS}", field="cache_url"
        )
    parse_redis_url(url)


def make_store(config: EngineConfig, url: str | None = None) -> CacheStore:
    """The store ``config.cache_url`` names (see :func:`check_cache_url`), reached at
    ``url`` if given (a link's relay in front of it); ValidationError for any other
    URL."""
    check_cache_url(config.cache_url)
    if config.cache_url.lower() == "memory://" and config.invalidate_url is not None:
        from cachetui.engine.stores.near_cache import NearMemoryStore

        return NearMemoryStore(
            config.capacity, config.eviction, config.ttl, guard=config.db_timeout
        )
    if config.cache_url.lower() == "memory://":
        clock = config.cache_clock or time.monotonic
        return MemoryStore(config.capacity, config.eviction, config.ttl, clock=clock)
    from cachetui.engine.stores.redis_codec import namespace_for
    from cachetui.engine.stores.redis_store import RedisStore

    store = RedisStore(
        url or config.cache_url,
        namespace=namespace_for(config.db_path),
        capacity=config.capacity,
        eviction=config.eviction,
        ttl=config.ttl,
        ephemeral=config.db_path == ":memory:",
    )
    if url and url != config.cache_url:  # show the server, not the relay
        store.description = store.description.replace(store.safe_url, mask_url(config.cache_url))
    return store
