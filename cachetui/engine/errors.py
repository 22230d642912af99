"""Errors the engine raises. Every message says what was wrong and with what."""

from __future__ import annotations

from cachetui.engine.words import plural


class CacheTuiError(Exception):
    """Base class of every error the engine raises: catch it to catch them all.

    The specific errors below keep their other bases (``ValidationError`` is also a
    ``ValueError``, ``ProfileNotFound`` a ``LookupError``), so code that catches those
    still works."""


class ValidationError(CacheTuiError, ValueError):
    """An update or a configuration value was rejected before anything was written."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ProfileNotFound(CacheTuiError, LookupError):
    """The user does not exist in the cache, the pending queue or the database."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} does not exist")
        self.user_id = user_id


class DatabaseUnavailable(CacheTuiError):
    """A database call failed: an injected outage or error, or the database itself.

    ``transient`` is True for failures worth retrying at once (an injected error
    rate); an outage is not transient: it lasts until it is switched off.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class OutcomeUnknown(DatabaseUnavailable):
    """A commit was sent but its reply was lost (a partition, the connection closed or
    reset, the server ended the session): the write may have landed or not. Not
    acknowledged. Until the engine settles it by reading the row's write id (see
    ``Engine.unsettled_commits()``), the user's cache entry is dropped and that user's
    reads and updates settle it first. ``user_id`` and ``write_id`` name the write (None
    when the database raises it, before the engine knows whose write it was);
    ``session`` is the database's handle of the connection it was sent on."""

    def __init__(
        self,
        message: str,
        *,
        user_id: int | None = None,
        write_id: str | None = None,
        session: object = None,
    ) -> None:
        super().__init__(message, transient=True)
        self.user_id = user_id
        self.write_id = write_id
        self.session = session


class DatabaseFileLost(DatabaseUnavailable):
    """The database file was deleted, or another file put at its path, while the engine
    had it open: writing on would land in a file no one can read, so writes stay
    pending. ``how`` says what happened ("deleted", "replaced by another file");
    ``Engine.rescue_database()`` writes everything into a new file."""

    def __init__(self, path: str, how: str) -> None:
        super().__init__(
            f"the database file {path} was {how} while cachetui had it open: "
            "writes are kept pending, not written into a file no one can read"
        )
        self.path = path
        self.how = how


class PendingWritesError(DatabaseUnavailable):
    """Writes are still pending and could not be flushed (the database is failing)."""

    def __init__(self, pending: int, cause: str) -> None:
        words = plural(pending, "write is", "writes are")
        super().__init__(f"{pending} acknowledged {words} still pending: {cause}")
        self.pending = pending


class WriteRejected(CacheTuiError):
    """The database refused this write for good (a constraint, a trigger's
    ``RAISE(ABORT)``, a type mismatch): retrying the same row cannot help. Nothing was
    written. ``reason`` is the database's message."""

    def __init__(self, user_id: int, version: int, reason: str) -> None:
        super().__init__(f"user {user_id} v{version} rejected by the database: {reason}")
        self.user_id = user_id
        self.version = version
        self.reason = reason


class WriteConflict(WriteRejected):
    """Another writer changed the row since this write read it (its version is
    ``db_version``, None if the row is gone), and re-applying the changes once on the new
    row conflicted again. Nothing was written."""

    def __init__(self, user_id: int, version: int, db_version: int | None) -> None:
        found = "the row is gone" if db_version is None else f"it is now at v{db_version}"
        super().__init__(user_id, version, f"another writer changed the row ({found})")
        self.db_version = db_version


class StoreUnavailable(CacheTuiError):
    """The cache store (for example a Redis server) cannot be reached."""


class StoreBusy(StoreUnavailable):
    """A limit of the cache store's client or server refused this one call: the client's
    connection pool had no free connection in time, or the server's ``maxclients`` or
    ``maxmemory`` (``OOM``) is reached, or a script keeps it ``BUSY``. The server
    answers: the cache is not down, the call failed and nothing else. Reads that hit one
    are served by the database; nothing already cached is dropped.

    A :class:`StoreUnavailable` so that callers that catch that (the panes, the lab, the
    command lines) show it as one failed call; the cache's health
    (:mod:`cachetui.engine.stores.health`) tells the two apart: only a store that does
    not answer is an outage."""


class Interrupted(CacheTuiError):
    """An update was in progress when a simulated crash happened: not acknowledged."""


class EngineClosed(CacheTuiError):
    """The engine was used before ``start()`` or after ``close()``."""
