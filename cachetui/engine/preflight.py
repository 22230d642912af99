"""Before anything is written or a screen starts: every Redis server a configuration
names answers — its cache (``--cache``), its queue (``--queue``) and its near cache's
channel (``--invalidate``). For command lines: synchronous, before an event loop runs.
Without it a queue that cannot be reached was found only after the database file had
been made and the screen had started."""

from __future__ import annotations

from cachetui.engine.config import EngineConfig
from cachetui.engine.errors import StoreUnavailable
from cachetui.engine.stores.redis_url import is_redis_url


def redis_servers(config: EngineConfig) -> list[tuple[str, str]]:
    """``(option, url)`` of each Redis server ``config`` uses, each URL once."""
    named = [
        ("--cache", config.cache_url),
        ("--queue", config.queue_url),
        ("--invalidate", config.invalidate_url or ""),
    ]
    seen: set[str] = set()
    servers = []
    for option, url in named:
        if is_redis_url(url) and url not in seen:
            seen.add(url)
            servers.append((option, url))
    return servers


def check_servers(config: EngineConfig, timeout: float = 1.0) -> None:
    """StoreUnavailable, one line naming the option, unless every Redis server of
    ``config`` answers a PING within ``timeout`` seconds."""
    for option, url in redis_servers(config):
        check_redis(option, url, timeout)


def check_redis(option: str, url: str, timeout: float = 1.0) -> None:
    """StoreUnavailable (``OPTION: cannot reach Redis at URL: why``, password masked)
    unless the Redis server at ``url`` answers a PING within ``timeout`` seconds."""
    from cachetui.engine.stores.redis_errors import check_reachable

    try:
        check_reachable(url, timeout)
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"{option}: {exc}") from None
