"""Redis URLs, checked before anything connects: every form redis-py accepts.

``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTION=VALUE&…]``, ``rediss://…`` (the
same over TLS) and ``unix://[[USER]:PASSWORD@]/PATH.sock[?db=N&…]`` (a Unix socket).
redis-py's own parser reads them, with the options it knows and their types; this module
also refuses what that parser lets through silently: a database that is not a number
(``/abc`` is read as database 0), a negative one, two different ones (``/1?db=2``),
port 0, a socket URL without a path, an option no connection takes.

:func:`parse_redis_url` serves every option that names a Redis server (``--cache``
today); the command lines wrap its :class:`~cachetui.engine.errors.ValidationError` into
their own one-line error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from cachetui.engine.errors import CacheTuiError, ValidationError

#: The Redis URL forms, for help texts and error messages.
REDIS_URL_FORMS = "redis://[:PASSWORD@]HOST:PORT/DB, rediss://… (TLS) or unix:///PATH.sock?db=N"
REDIS_SCHEMES = ("redis", "rediss", "unix")
_DEFAULT_HOST = "localhost"  # what redis-py connects to when the URL names no host …
_DEFAULT_PORT = 6379  # … and no port


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to show and to log): in the
    authority (``redis://user:pw@host``) and in the query (``?password=pw``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    authority_end = len(rest)
    for mark in "/?":
        at = rest.find(mark, rest.rfind("@") + 1)
        if at != -1:
            authority_end = min(authority_end, at)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        credentials, host = authority.rsplit("@", 1)
        if ":" in credentials:
            credentials = credentials.split(":", 1)[0] + ":***"
        authority = f"{credentials}@{host}"
    tail = re.sub(r"(?i)(password=)[^&#]*", r"\1***", tail)
    return f"{scheme}{sep}{authority}{tail}"


def url_password(url: str) -> str:
    """The password in ``url``'s authority as written (percent-encoded or not), or ""."""
    authority = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    return authority.rpartition("@")[0].partition(":")[2] if "@" in authority else ""


def mask_secrets(text: str, url: str) -> str:
    """``text`` (a driver's or a server's message about ``url``) with ``url`` masked
    (:func:`mask_url`) and its password as ``***`` wherever it stands as a token of its
    own: as written, decoded, and as a ``password=…`` of a connection string."""
    if "://" in url:
        text = text.replace(url, mask_url(url))
    password = url_password(url)
    queried = re.findall(r"(?i)[?&]password=([^&#]*)", url)
    secrets = {password, unquote(password), *queried, *map(unquote, queried)} - {""}
    for secret in sorted(secrets, key=len, reverse=True):
        text = re.sub(rf"(?<![\w%]){re.escape(secret)}(?![\w%])", "***", text)
    return re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)", r"\1***", text)


@dataclass(frozen=True)
class RedisAddress:
    """Where a valid Redis URL points: ``host`` and ``port`` over TCP (``rediss``: with
    TLS), or ``path``, a Unix socket; ``db`` is the logical database."""

    scheme: str
    host: str | None
    port: int | None
    path: str | None
    db: int
    has_password: bool

    @property
    def where(self) -> str:
        """``HOST:PORT`` (``[::1]:PORT`` for IPv6), or the socket's path."""
        if self.path is not None:
            return self.path
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_password_placeholder(self) -> str:
        """The URL of this server and database with ``PASSWORD`` where the password goes:
        ``redis://:PASSWORD@HOST:PORT/DB`` or ``unix:///PATH?db=N&password=PASSWORD``."""
        if self.path is not None:
            return f"unix://{self.path}?db={self.db}&password=PASSWORD"
        return f"{self.scheme}://:PASSWORD@{self.where}/{self.db}"


def is_redis_url(url: str) -> bool:
    """Whether ``url``'s scheme is one of Redis' (``redis``, ``rediss``, ``unix``); it
    may still be invalid otherwise (see :func:`parse_redis_url`)."""
    return url.partition("://")[0].lower() in REDIS_SCHEMES and "://" in url


class _Problem(CacheTuiError):
    """What is wrong with a Redis URL; :func:`parse_redis_url` words it."""


def parse_redis_url(url: str) -> RedisAddress:
    """Check ``url`` as redis-py would read it, and more strictly (see the module).

    Connects to nothing. Raises :class:`ValidationError` with one line that shows the
    URL (password masked) and names the problem: the scheme, the port, the database
    number, an option or its value."""
    if not is_redis_url(url):
        raise ValidationError(
            f"not a Redis URL: {mask_url(url)} (use {REDIS_URL_FORMS})", field="cache_url"
        )
    try:
        return _parse(url)
    except _Problem as problem:
        raise ValidationError(
            f"invalid Redis URL {mask_url(url)}: {problem}", field="cache_url"
        ) from None


def _parse(url: str) -> RedisAddress:
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    query = parse_qs(parsed.query, keep_blank_values=True)
    for name, values in query.items():
        if len(values) > 1:
            raise _Problem(f"option {name!r} is given {len(values)} times")
    port = _port(parsed.netloc) if scheme != "unix" else None
    kwargs = _redis_py_options(url, query)
    path_db = None if scheme == "unix" else _path_database(unquote(parsed.path))
    db = kwargs.get("db", 0)
    if not isinstance(db, int) or db < 0:
        raise _Problem(f"the database must be a whole number >= 0, got {query['db'][0]!r}")
    has_password = bool(kwargs.get("password"))
    if scheme == "unix":
        path = kwargs.get("path")
        if not isinstance(path, str) or not path:
            raise _Problem("a unix:// URL needs the socket's path: unix:///PATH.sock?db=N")
        return RedisAddress(scheme, None, None, path, db, has_password)
    if path_db is not None and "db" in query and path_db != db:
        raise _Problem(f"two databases: /{path_db} in the path and db={db} in the options")
    host = kwargs.get("host")
    return RedisAddress(
        scheme,
        host if isinstance(host, str) and host else _DEFAULT_HOST,
        _DEFAULT_PORT if port is None else port,
        None,
        db if path_db is None else path_db,
        has_password,
    )


def _port(netloc: str) -> int | None:
    """The port in ``netloc`` (None: none given); 1–65535, else the problem."""
    hostport = netloc.rpartition("@")[2]
    match = re.search(r":([^:\]]*)$", hostport)
    if match is None or not match.group(1):  # "host:" is redis-py's default port too
        return None
    text = match.group(1)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise _Problem(f"the port must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _path_database(path: str) -> int | None:
    """The database a ``redis://`` path names (``/3``), None for no path or ``/``."""
    if path in ("", "/"):
        return None
    match = re.fullmatch(r"/(\d+)/?", path)
    if match is None:
        raise _Problem(
            f"the database must be a whole number >= 0 (as in /0), got {path.strip('/')!r}"
        )
    return int(match.group(1))


def _redis_py_options(url: str, query: dict[str, list[str]]) -> dict[str, object]:
    """What redis-py makes of ``url``: its parser's keyword arguments, after making (not
    opening) the connection it would use, which refuses unknown options and bad values."""
    from redis.asyncio.connection import ConnectionPool, parse_url
    from redis.exceptions import RedisError

    try:
        kwargs: dict[str, object] = dict(parse_url(url))
        ConnectionPool.from_url(url).make_connection()  # type: ignore[no-untyped-call]
    except TypeError as exc:  # a keyword argument no connection takes
        match = re.search(r"argument '(\w+)'", str(exc))
        raise _Problem(f"unknown option {match.group(1) if match else str(exc)!r}") from None
    except (ValueError, RedisError) as exc:
        match = re.search(r"for '(\w+)'", str(exc))
        if match and match.group(1) in query:
            name = match.group(1)
            raise _Problem(f"option {name}={query[name][0]!r} is not a valid value") from None
        text = str(exc).rstrip(".")
        raise _Problem(text[:1].lower() + text[1:]) from None
    return kwargs
