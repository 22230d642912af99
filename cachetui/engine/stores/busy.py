"""The error of a store that answered but could not serve one call."""

from __future__ import annotations

from cachetui.engine.errors import StoreUnavailable


class StoreBusy(StoreUnavailable):
    """A limit of the cache store's client or server refused this one call: the client's
    connection pool had no free connection in time, or the server's ``maxclients`` or
    ``maxmemory`` (``OOM``) is reached, or a script keeps it ``BUSY``. The server
    answers: the cache is not down, the call failed and nothing else. Reads that hit one
    are served by the database; nothing already cached is dropped.

    A :class:`StoreUnavailable` so that callers that catch that (the panes, the lab, the
    command lines) show it as one failed call; :class:`~.health.CacheHealth` tells the
    two apart: only a store that does not answer is an outage."""
