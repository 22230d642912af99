"""The Redis clients of the cache store and of the Redis Stream queue: each over one
blocking connection pool. When every connection is in use a caller waits for one (up
to ``pool_timeout`` seconds) instead of failing at once: redis-py's default pool raises
"Too many connections" on the 101st concurrent call, which is back-pressure, not a
server that went away (see :func:`~.redis_errors.limit_reason`)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

#: Connections per client. One engine is one event loop: a few dozen connections keep
#: loopback Redis saturated, and leave the server's ``maxclients`` (10,000 by default)
#: to the other processes sharing it.
MAX_CONNECTIONS = 32


def blocking_client(
    url: str,
    *,
    pool_timeout: float,
    max_connections: int = MAX_CONNECTIONS,
    **connection_options: Any,
) -> aioredis.Redis:
    """A client of ``url`` over a pool of ``max_connections`` whose callers wait up to
    ``pool_timeout`` seconds for a free connection (then redis-py raises
    ``ConnectionError("No connection available.")``). ``connection_options`` go to each
    connection (timeouts, retry, decoding). ValueError for a URL redis-py rejects."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **connection_options
    )
    return aioredis.Redis.from_pool(pool)
