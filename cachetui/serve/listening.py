"""The socket ``cachetui serve`` listens on, and the URLs that reach it: from this
machine, and (on every interface) from another one."""

from __future__ import annotations

import ipaddress
import socket

from cachetui.serve.request_checks import is_loopback_address


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when that is impossible)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def is_loopback(sock: socket.socket) -> bool:
    """Whether ``sock`` listens on a loopback address only (127.0.0.0/8, ::1, or
    127.0.0.0/8 mapped into IPv6): the rule Host headers are judged by."""
    return is_loopback_address(sock.getsockname()[0])


def lan_url(sock: socket.socket) -> str | None:
    """For a server on every interface, its URL on this machine's usual address (the
    one the default route leaves from; no packet is sent), None when there is none."""
    host, port = sock.getsockname()[:2]
    if host not in ("0.0.0.0", "::"):
        return None
    family = socket.AF_INET if host == "0.0.0.0" else socket.AF_INET6
    probe = "192.0.2.1" if family == socket.AF_INET else "2001:db8::1"  # documentation nets
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect((probe, 9))
            address = udp.getsockname()[0]
    except OSError:
        return None
    if ipaddress.ip_address(address).is_loopback or address in ("0.0.0.0", "::"):
        return None
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


def browser_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
