"""Redis errors in a user's words: a short reason from a redis-py error, which errors are
a limit of the client or the server rather than an outage, the one-line error for a
server that cannot be used at start, and a synchronous reachability check for command
lines."""

from __future__ import annotations

import os

from redis.exceptions import (
    AuthenticationError,
    MaxClientsReachedError,
    MaxConnectionsError,
    OutOfMemoryError,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)

from cachetui.engine.errors import StoreBusy, StoreUnavailable, ValidationError
from cachetui.engine.stores.redis_url import RedisAddress, mask_url, parse_redis_url


def describe_error(exc: BaseException) -> str:
    """A short reason: 'connection refused', 'timed out', ... from a redis-py error."""
    cause: BaseException | None = exc
    while cause is not None:  # the OS error behind it says most
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.errno:
            # gaierror's codes are negative: its own text is the one to show
            text = os.strerror(cause.errno) if cause.errno > 0 else cause.strerror
            return str(text or cause).lower()
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip().rstrip(".")
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("timeout", "timed out"),
        ("timed out", "timed out"),
        ("name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("closed by server", "connection closed by the server"),
        ("invalid username-password", "authentication failed"),
        ("invalid password", "authentication failed"),
        ("noauth", "authentication required"),
        ("authentication required", "authentication required"),
    ):
        if needle in lowered:
            return reason
    if ". " in text:
        text = text.rsplit(". ", 1)[1]
    if not text:
        return type(exc).__name__
    if text[1:2].isupper():  # an acronym ("DB index is out of range"): keep it
        return text
    return text[:1].lower() + text[1:]


def limit_reason(exc: BaseException) -> str | None:
    """The limit of the client or the server that refused this call, None if ``exc`` is
    not one. Such a server answers: the call failed, the cache is not down (an outage is
    only a server that does not answer: connection refused or reset, timed out)."""
    text = str(exc).lower()
    if isinstance(exc, MaxConnectionsError) or "too many connections" in text:
        return "the client's connection pool is full"
    if isinstance(exc, RedisConnectionError) and "no connection available" in text:
        return "no free connection in the client's pool in time (too many calls at once)"
    if isinstance(exc, MaxClientsReachedError) or "max number of clients reached" in text:
        return "the server's maxclients is reached"
    if isinstance(exc, ResponseError):
        code = exc.status_code or str(exc).split(" ", 1)[0]
        if isinstance(exc, OutOfMemoryError) or code == "OOM":
            return "the server's maxmemory is reached (OOM: it refuses writes)"
        if code == "BUSY":
            return "the server is busy running a script"
        if code == "MISCONF":
            return "the server refuses writes: it cannot save its snapshot (MISCONF)"
        if code == "READONLY":
            return "the server is a read-only replica (READONLY): it refuses writes"
        if code == "LOADING":
            return "the server is loading its dataset into memory (LOADING)"
    return None


def store_error(where: str, exc: BaseException) -> StoreUnavailable:
    """A failed call of the store at ``where`` (a masked URL): StoreBusy for a limit of
    the client or the server (this call failed), else StoreUnavailable (no answer)."""
    limit = limit_reason(exc)
    if limit is not None:
        return StoreBusy(f"Redis at {where}: {limit} (this call failed)")
    return StoreUnavailable(f"Redis at {where} unavailable: {describe_error(exc)}")


def unreachable(url: str, exc: BaseException) -> StoreUnavailable:
    """The one-line error for a Redis that cannot be used at start: a password it needs
    (and how to give it), a database it lacks, or why it could not be reached."""
    try:
        address: RedisAddress | None = parse_redis_url(url)
    except ValidationError:
        address = None
    if address is not None:
        known = _known_refusal(address, exc)
        if known is not None:
            return StoreUnavailable(known)
    if isinstance(exc, ResponseError):  # it answered, with an error
        return StoreUnavailable(
            f"Redis at {mask_url(url)} refused the connection: {describe_error(exc)}"
        )
    return StoreUnavailable(f"cannot reach Redis at {mask_url(url)}: {describe_error(exc)}")


def _known_refusal(address: RedisAddress, exc: BaseException) -> str | None:
    """The message for a refusal a user can fix from the URL, None for others."""
    text = str(exc).lower()
    at = f"Redis at {address.where}"
    if isinstance(exc, AuthenticationError) or "noauth" in text:
        if not address.has_password:
            return f"{at} requires a password ({address.with_password_placeholder()})"
        if "no password is set" in text or "without any password configured" in text:
            return f"{at} has no password set: remove the password from the URL"
        return f"{at} refused the user name or password in the URL ({describe_error(exc)})"
    if isinstance(exc, ResponseError) and "db index is out of range" in text:
        return (
            f"{at} has no database {address.db} (a server has databases 0 to its "
            "`databases` setting - 1: 0–15 by default)"
        )
    return None


def check_reachable(url: str, timeout: float = 1.0) -> None:
    """Raise StoreUnavailable (one clear line, password masked) unless a Redis server
    answers at ``url``. Synchronous: for command lines, before an event loop runs."""
    import redis

    try:
        with redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        ) as client:
            client.ping()
    except (RedisError, ValueError) as exc:
        raise unreachable(url, exc) from None
