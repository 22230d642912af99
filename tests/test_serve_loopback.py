"""Loopback, as ``cachetui serve`` judges it (issue 31, item 6): the address it listens on
(a token is asked beyond loopback) and the Host a request names (refused on loopback
unless it is this machine's, against DNS rebinding) follow one rule, over IPv4, IPv6
(bracketed, zoned, IPv4-mapped) and names."""

from __future__ import annotations

import socket

import pytest

from cachetui.serve.listening import is_loopback, listen
from cachetui.serve.request_checks import host_name, host_problem


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def this_machines_address() -> str | None:
    """This machine's non-loopback IPv4 address (the default route's), if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect(("192.0.2.1", 9))  # a documentation net: no packet is sent
            address = udp.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),  # all of 127.0.0.0/8 is loopback
        ("localhost", True),  # a name: resolved, then judged by its address
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # 127.0.0.1 as IPv6 sees it
        ("0.0.0.0", False),  # every interface
        ("::", False),
    ],
)
def test_the_address_it_listens_on_is_judged_loopback_or_not(host, loopback):
    if ":" in host and not ipv6_available():
        pytest.skip("this machine has no IPv6 loopback to listen on")
    with listen(host, 0) as sock:
        assert is_loopback(sock) is loopback


def test_this_machines_own_network_address_is_not_loopback():
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    with listen(address, 0) as sock:
        assert not is_loopback(sock)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LocalHost.",  # case and a final dot do not matter
        "localhost:8000",
        "127.0.0.1",
        "127.0.0.1:1",
        "127.200.0.9:65535",
        "[::1]",
        "[::1]:8000",
        "[0:0:0:0:0:0:0:1]:80",
        "[::ffff:127.0.0.1]:8000",
    ],
)
def test_a_request_for_this_machine_is_answered_on_loopback(host):
    assert host_problem([host]) is None


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("attacker.example", "is not localhost"),
        ("localhost.attacker.example", "is not localhost"),
        ("127.0.0.1.nip.io", "is not localhost"),  # a name that resolves to loopback
        ("10.0.0.1:8000", "is not localhost"),
        ("0.0.0.0", "is not localhost"),
        ("[::2]", "is not localhost"),
        ("[fe80::1]:80", "is not localhost"),
        ("[::ffff:10.0.0.1]", "is not localhost"),
        ("[::1", "is malformed"),
        ("127.0.0.1:99999", "is malformed"),
    ],
)
def test_a_request_for_another_host_is_refused_on_loopback_saying_why(host, why):
    problem = host_problem([host])
    assert problem is not None and why in problem


def test_names_given_with_allow_host_are_answered_in_any_spelling():
    allowed = frozenset({host_name("Tunnel.Example."), host_name("::2")})
    assert host_problem(["tunnel.example:443"], allowed) is None
    assert host_problem(["TUNNEL.EXAMPLE"], allowed) is None
    assert host_problem(["[::2]:80"], allowed) is None
    assert host_problem(["other.example"], allowed) is not None
