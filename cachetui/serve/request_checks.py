"""Which requests ``cachetui serve`` answers, read from their ``Host`` and ``Origin``.

A web page the user visits must not drive the server behind their back (Jupyter Server
answers the same threat with ``check_host`` and ``check_origin``):

- On loopback, by DNS rebinding: a name of the attacker's that first resolves to the
  attacker, then to 127.0.0.1, makes the attacker's page same-origin with the server. Its
  requests then name the attacker's host, so the ``Host`` must be a loopback name or
  address (``localhost``, 127.0.0.0/8, ``[::1]``; any port, so that a tunnel's works) or a
  name given with ``--allow-host``. Names compare without case and without a final dot.
- On every interface, by a cross-site websocket (browsers let any page open one): a
  websocket drives an app, so a browser's ``Origin`` must be the very origin the request
  was sent to (scheme, host and port). ``Origin: null`` (a sandboxed frame, a local file)
  is no origin of this server's. A client that sends no ``Origin`` is not a browser, so
  not a web page: it is let in (the token, where there is one, still applies).

Every problem is a sentence naming the header's text as :func:`shown` quotes it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

LOOPBACK_NAMES = frozenset({"localhost"})
"""Names that mean this machine's loopback (with 127.0.0.0/8 and ::1)."""

MAX_NAME_LENGTH = 253  # DNS's

SHOWN_LENGTH = 100
"""At most this much of a header is shown in a page or a log line."""

_AUTHORITY = re.compile(r"(?P<host>\[[^\[\]]*\]|[^:\[\]]*)(?::(?P<port>[0-9]{1,5}))?")
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?#@]*)")
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def shown(text: str) -> str:
    """``text`` from a request, quoted and escaped for a page or a log line: no control
    character, no byte that is not ASCII, at most :data:`SHOWN_LENGTH` characters."""
    if len(text) > SHOWN_LENGTH:
        return f"{ascii(text[:SHOWN_LENGTH])}… ({len(text)} characters)"
    return ascii(text)


class Authority(NamedTuple):
    """``host[:port]``: a name in lower case, an IPv4 address, or ``[IPv6]`` compressed."""

    host: str
    port: int | None


def parse_authority(text: str) -> Authority:
    """``host[:port]`` as a Host header or an origin gives it; ValueError if it is not."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        raise ValueError("not a host with an optional :port")
    host, port = match["host"].lower(), match["port"]
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ValueError("not an IPv6 address in brackets") from None
    elif not _NAME.fullmatch(host):
        raise ValueError("not a host name or address")
    number = None if port is None else int(port)
    if number is not None and not 0 < number < 65536:
        raise ValueError("its port is not between 1 and 65535")
    return Authority(host, number)


def host_name(text: str) -> str:
    """A name as ``--allow-host`` takes it (a host name, an IPv4 address, an IPv6 address
    with or without brackets; no port), in the form Host headers are compared in;
    ValueError saying what is wrong."""
    if "://" in text or "/" in text:
        raise ValueError(f"expected a host name, not a URL: {shown(text)}")
    if text.count(":") >= 2 and not text.startswith("["):  # a bare IPv6 address
        text = f"[{text}]"
    try:
        authority = parse_authority(text)
    except ValueError:
        raise ValueError(
            f"expected a host name (letters, digits, - _ and .) or an IP address, got {shown(text)}"
        ) from None
    if authority.port is not None:
        raise ValueError(
            f"expected a host name without a port (any port is allowed), got {shown(text)}"
        )
    name = _comparable(authority.host)
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a host name has at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    return name


def _comparable(host: str) -> str:
    return host[:-1] if host.endswith(".") else host


def is_loopback_address(host: str) -> bool:
    """Whether ``host`` (an address, IPv6 with or without brackets or a ``%zone``) is a
    loopback address: 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6
    (``::ffff:127.0.0.1``). A name is not an address: False."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def host_problem(hosts: list[str], allowed: frozenset[str] = frozenset()) -> str | None:
    """Why a request with these Host headers is refused on loopback, or None.
    ``allowed``: names from :func:`host_name`."""
    if not hosts:
        return "it names no host (it has no Host header)"
    if len(hosts) > 1:
        return f"it has {len(hosts)} Host headers"
    try:
        host = _comparable(parse_authority(hosts[0]).host)
    except ValueError as exc:
        return f"its Host {shown(hosts[0])} is malformed: {exc}"
    if host in LOOPBACK_NAMES or host in allowed or is_loopback_address(host):
        return None
    also = ", nor a name given with --allow-host" if allowed else ""
    return f"its Host {shown(hosts[0])} is not localhost, 127.0.0.1 or [::1]{also}"


def _origin(scheme: str, authority: Authority) -> tuple[str, str, int | None]:
    return scheme, authority.host, authority.port or DEFAULT_PORTS.get(scheme)


def origin_problem(origins: list[str], scheme: str, hosts: list[str]) -> str | None:
    """Why a websocket with these Origin headers, sent over ``scheme`` to these Host
    headers, is refused, or None: a browser's Origin must be the request's own."""
    if not origins:
        return None  # not a browser: no web page
    if len(origins) > 1:
        return f"it has {len(origins)} Origin headers"
    given = origins[0]
    if given.strip().lower() == "null":
        return "its Origin is null (a sandboxed frame or a local file, not this server's page)"
    try:
        (host,) = hosts
        own = _origin(scheme, parse_authority(host))
    except ValueError:
        return f"its Origin {shown(given)} cannot be checked: it names no valid Host"
    match = _ORIGIN.fullmatch(given.lower())
    try:
        if match is None:
            raise ValueError
        theirs = _origin(match["scheme"], parse_authority(match["authority"]))
    except ValueError:
        return f"its Origin {shown(given)} is not an origin (scheme://host[:port])"
    if theirs != own:
        return (
            f"its Origin {shown(given)} is not this server's page "
            f"({shown(f'{scheme}://{host}')}): another web page opened it"
        )
    return None
