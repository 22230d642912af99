"""PostgreSQL's errors, classified once (shared/DESIGN.md, "Databases"): permanent for
one row (SQLSTATE classes 23 and 22, and P0001, a trigger's RAISE) → that row is
refused; everything else the server or the connection says → DatabaseUnavailable,
retried (an outage, a serialization failure, a server shutting down, too many clients,
a pool with no free connection: back-pressure, not a lost write). Messages never carry
a password."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from cachetui.engine.database.postgres_sessions import NoReply
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.stores.redis_url import mask_secrets, mask_url

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


def _address(url: str) -> tuple[str, str] | None:
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return None
    return str(params.get("host") or "localhost"), str(params.get("port") or "5432")


def server_words(text: str, url: str, server_url: str) -> str:
    """``text``, a driver's or a server's message about a connection to ``url``, safe to
    show and naming the server the user gave (``server_url``): the passwords of both
    masked, and, when ``url`` is a link's relay in front of the server, the relay's
    address (libpq's ``"HOST", port N``, or ``HOST:N``) replaced by the server's."""
    text = mask_secrets(mask_secrets(text, url), server_url)
    if url == server_url:
        return text
    text = text.replace(mask_url(url), mask_url(server_url))
    relay, server = _address(url), _address(server_url)
    if relay is not None and server is not None:
        text = text.replace(f'"{relay[0]}", port {relay[1]}', f'"{server[0]}", port {server[1]}')
        text = text.replace(f"{relay[0]}:{relay[1]}", f"{server[0]}:{server[1]}")
    return text


def _lost(exc: BaseException) -> bool:
    """Whether the connection went while in use (closed, reset): libpq's own error, with
    no SQLSTATE, or class 08."""
    if isinstance(exc, NoReply):  # says itself how long it waited, and why
        return False
    state = getattr(exc, "sqlstate", None)
    if state is not None:
        return str(state).startswith("08")
    return isinstance(exc, psycopg.OperationalError | OSError)


def unavailable(
    exc: BaseException, where: str, words: Callable[[str], str] = str
) -> DatabaseUnavailable:
    """DatabaseUnavailable for an error that is not about one row, in words (``words``
    makes a driver's or server's text safe: :func:`server_words`)."""
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
    elif _lost(exc):  # libpq's "consuming input failed: server closed the connection …"
        reason = "the connection to the server was lost, closed or reset (an outage: retried)"
    else:
        reason = message(exc)
    return DatabaseUnavailable(words(f"{where}: {reason}"), transient=True)


#: What the server says when it takes no more connections (SQLSTATE 53300).
_CONNECTION_LIMITS = (
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
)


def connect_problem(exc: BaseException, url: str) -> str:
    """Why a first connection to ``url`` failed, as a phrase a user can act on (the
    password never in it)."""
    text = mask_secrets(message(exc), url)
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


async def _connect_error(conninfo: str, timeout: float) -> BaseException | None:
    """The error of one connection tried now (None: it opened)."""
    try:
        async with asyncio.timeout(timeout):
            conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await conn.close()
    except (psycopg.Error, OSError, TimeoutError) as exc:
        return exc
    return None


async def open_problem(
    exc: BaseException, url: str, server: tuple[str, str], timeout: float
) -> str:
    """Why connecting to ``url`` failed (:func:`connect_problem`), naming the server the
    user gave: ``server`` is its URL and the conninfo to reach it without the link in
    front (``url`` is then the link's relay). Through a link, the server is tried
    directly: its own refusal, or else the link passes no connection (a partition)."""
    server_url, direct = server
    if url == server_url:
        return connect_problem(exc, url)
    first = await _connect_error(direct, timeout)
    if first is None:  # the server answers: the link is cut
        host, port = _address(server_url) or ("localhost", "5432")
        return f"the link in front of the server {host}:{port} passes no connection (a partition)"
    if isinstance(first, TimeoutError):
        return f"no answer from {mask_url(server_url)} within --db-timeout"
    return server_words(connect_problem(first, server_url), url, server_url)


async def no_connection(
    conninfo: str, url: str, where: str, timeout: float, server: tuple[str, str] | None = None
) -> DatabaseUnavailable:
    """Why the pool gave no connection within --db-timeout: one connection tried now says
    whether the server is at its limit or every connection of the pool is busy
    (back-pressure), or whether it cannot be reached (an outage). ``server``: as for
    :func:`open_problem` (the link's relay is ``url``)."""
    problem = await connect_failure(conninfo, url, where, timeout, server)
    return problem or unavailable(PoolTimeout(), where)


async def connect_failure(
    conninfo: str, url: str, where: str, timeout: float, server: tuple[str, str] | None = None
) -> DatabaseUnavailable | None:
    """The error of one connection tried now, worded as :func:`no_connection` words it
    (an outage, or back-pressure); None if it opened."""
    exc = await _connect_error(conninfo, timeout)
    if exc is not None:
        if server is not None and server[0] != url:
            problem = await open_problem(exc, url, server, timeout)
        elif isinstance(exc, TimeoutError):
            problem = f"no answer from {mask_url(url)} within --db-timeout"
        else:
            problem = connect_problem(exc, url)
        if "back-pressure" in problem:
            return DatabaseUnavailable(f"{where}: {problem}", transient=True)
        return DatabaseUnavailable(
            f"{where}: the server cannot be reached: {problem} (an outage: retried)",
            transient=True,
        )
    return None
