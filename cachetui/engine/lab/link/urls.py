"""Which server a URL names, and the same URL pointed at a link's relay instead.

Redis: ``redis://`` and ``rediss://`` (default port 6379). PostgreSQL: ``postgresql://``
and ``postgres://`` (default port 5432), with libpq's ways of naming the host: in the
authority, or ``?host=``/``?hostaddr=``/``?port=`` (which win over it), else ``PGHOST``
and ``PGPORT``. The link relays TCP: a Unix socket (``unix://``, a host that is a path,
none at all for PostgreSQL, whose default is a socket) and a list of hosts are refused
with a ValidationError. Everything else in the URL (user, password, database, options)
is kept as written; messages show it through :func:`mask_url`.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from cachetui.engine.errors import ValidationError
from cachetui.engine.stores.redis_url import mask_url

Address = tuple[str, int]

DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "postgresql": 5432, "postgres": 5432}
_POSTGRES = ("postgresql", "postgres")
_HOST_KEYS = ("host", "hostaddr", "port")


def link_target(url: str) -> Address:
    """The host and port of the server ``url`` names (ValidationError when a link cannot
    stand in front of it)."""
    scheme, host, port, _ = _parts(url)
    return host, port


def relay_url(url: str, relay: Address) -> str:
    """``url`` with its server replaced by ``relay`` (host, port), all else as written."""
    scheme, _, _, query = _parts(url)
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    host = f"[{relay[0]}]" if ":" in relay[0] else relay[0]
    netloc = f"{userinfo}@{host}:{relay[1]}" if "@" in parts.netloc else f"{host}:{relay[1]}"
    if scheme in _POSTGRES:  # libpq's ?host= and ?port= win over the authority: drop them
        kept = [
            pair
            for pair in query.split("&")
            if pair and unquote(pair.partition("=")[0]) not in _HOST_KEYS
        ]
        query = "&".join(kept)  # as written: libpq decodes %XX, not "+"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _parts(url: str) -> tuple[str, str, int, str]:
    if "://" not in url:
        raise ValidationError(
            f"link: {url!r} is not a server's URL (a SQLite file has no network to delay): "
            "give a PostgreSQL (postgresql://HOST:PORT/DB) or Redis (redis://HOST:PORT/DB) URL",
            field="url",
        )
    shown = mask_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        raise ValidationError(_SOCKET.format(shown), field="url")
    if scheme not in DEFAULT_PORTS:
        raise ValidationError(
            f"link: {shown} names no server it can relay to: give a PostgreSQL "
            "(postgresql://HOST:PORT/DB) or Redis (redis://HOST:PORT/DB) URL",
            field="url",
        )
    if "," in parts.netloc.rpartition("@")[2]:
        raise ValidationError(f"link: {shown} names several hosts; give one", field="url")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(
            f"link: {shown}: the port is not a number from 1 to 65535", field="url"
        ) from None
    host = parts.hostname or ""
    if scheme in _POSTGRES:
        given = dict(parse_qsl(parts.query, keep_blank_values=True))
        host = given.get("hostaddr") or given.get("host") or host or os.environ.get("PGHOST", "")
        port_text = given.get("port") or (str(port) if port else os.environ.get("PGPORT", ""))
        if "," in host or "," in port_text:
            raise ValidationError(f"link: {shown} names several hosts; give one", field="url")
        if port_text:
            try:
                port = int(port_text) if port_text.isascii() else 0  # digits 0–9 only
            except ValueError:
                port = 0
            if not 0 < port < 65536:
                raise ValidationError(
                    f"link: {shown}: port {port_text!r} is not a number from 1 to 65535",
                    field="url",
                )
        if not host or host.startswith(("/", "@")):  # libpq's default is a Unix socket
            raise ValidationError(_SOCKET.format(shown), field="url")
    return scheme, host or "localhost", port or DEFAULT_PORTS[scheme], parts.query


_SOCKET = (
    "link: {} names a Unix socket; the link relays TCP: name a host and port (127.0.0.1:5432, say)"
)
