"""PostgreSQL's errors, classified once (shared/DESIGN.md, "Databases"): permanent for
one row (SQLSTATE classes 23 and 22, and P0001, a trigger's RAISE) → that row is
refused; everything else the server or the connection says → DatabaseUnavailable,
retried (an outage, a serialization failure, a server shutting down, too many clients,
a pool with no free connection: back-pressure, not a lost write). Messages never carry
a password."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import PoolTimeout

from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.stores.redis_url import mask_url

#: SQLSTATE classes and codes that concern one row only.
ROW_PERMANENT_CLASSES = ("22", "23")
ROW_PERMANENT_CODES = frozenset({"P0001"})


def row_permanent(exc: BaseException) -> bool:
    """Whether PostgreSQL refused one row for good (retrying cannot help); a value
    psycopg cannot send (a DataError of the client's, such as a NUL in text) too."""
    if isinstance(exc, psycopg.DataError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in ROW_PERMANENT_CLASSES or state in ROW_PERMANENT_CODES


def message(exc: BaseException) -> str:
    """The server's first line (its primary message), without the psycopg noise."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = str(primary or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def unavailable(exc: BaseException, where: str) -> DatabaseUnavailable:
    """DatabaseUnavailable for an error that is not about one row, in words."""
    if isinstance(exc, PoolTimeout):
        return DatabaseUnavailable(
            f"{where}: every connection of the pool is busy (raise --db-pool, or lower the "
            "load): back-pressure, nothing lost",
            transient=True,
        )
    state = getattr(exc, "sqlstate", None) or ""
    if state == "53300":
        reason = "the server has too many clients (max_connections): back-pressure"
    elif state == "57014":
        reason = "a statement ran past --db-timeout and was cancelled"
    elif state.startswith("57"):
        reason = f"the server is shutting down or restarting ({message(exc)})"
    elif state.startswith(("40", "08")) or isinstance(exc, psycopg.OperationalError):
        reason = message(exc)
    else:
        reason = message(exc)
    return DatabaseUnavailable(f"{where}: {reason}", transient=True)


#: What the server says when it takes no more connections (SQLSTATE 53300).
_CONNECTION_LIMITS = (
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
)


def connect_problem(exc: BaseException, url: str) -> str:
    """Why a first connection to ``url`` failed, as a phrase a user can act on (the
    password never in it)."""
    text = message(exc)
    if "FATAL:" in text:  # libpq's "connection to server at …, port … failed: FATAL: …"
        text = text.split("FATAL:", 1)[1].strip()
    lowered = text.lower()
    masked = mask_url(url)
    if "does not exist" in lowered and "database" in lowered:
        database = url.rsplit("/", 1)[-1].split("?", 1)[0] or "the database"
        return (
            f"{text} (create it: createdb -h HOST -U USER {database}, or psql -c "
            f"'CREATE DATABASE {database}')"
        )
    if getattr(exc, "sqlstate", None) == "53300" or any(
        limit in lowered for limit in _CONNECTION_LIMITS
    ):
        return (
            f"the server has too many clients ({text}): back-pressure, not an outage; "
            "try again, or lower --db-pool"
        )
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return "the server refused the user name or password"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return f"unknown host in {masked}"
    if "connection refused" in lowered:
        return f"nothing listens at the host and port of {masked} (connection refused)"
    if "timeout" in lowered:
        return f"no answer from {masked} within --db-timeout"
    return text.replace(url, masked)


async def no_connection(conninfo: str, url: str, where: str, timeout: float) -> DatabaseUnavailable:
    """Why the pool gave no connection within --db-timeout: one connection tried now says
    whether the server is at its limit or every connection of the pool is busy
    (back-pressure), or whether it cannot be reached (an outage)."""
    try:
        async with asyncio.timeout(timeout):
            conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await conn.close()
    except (psycopg.Error, OSError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            problem = f"no answer from {mask_url(url)} within --db-timeout"
        else:
            problem = connect_problem(exc, url)
        if "back-pressure" in problem:
            return DatabaseUnavailable(f"{where}: {problem}", transient=True)
        return DatabaseUnavailable(
            f"{where}: the server cannot be reached: {problem} (an outage: retried)",
            transient=True,
        )
    return unavailable(PoolTimeout(), where)
