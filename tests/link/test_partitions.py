"""Partitions, live: ``blackhole`` holds every byte (a client times out; lifted, the held
bytes arrive) and ``reset`` drops every connection with a RST and refuses new ones."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.link import Link
from tests.conftest import TEST_REDIS_URL
from tests.link.conftest import connect, ping, receive

pytestmark = pytest.mark.redis


def test_a_blackhole_times_a_client_out_then_traffic_flows_again(redis_link: Link):
    client = redis.Redis.from_url(redis_link.relay_url(TEST_REDIS_URL), socket_timeout=0.2)
    try:
        assert client.ping()
        redis_link.partition = "blackhole"
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.ping()
        assert time.monotonic() - started >= 0.2
        assert redis_link.stats()["held"] > 0  # the PING is held, not dropped
        redis_link.partition = None
        assert client.ping()  # redis-py reconnects: the link takes new connections again
    finally:
        client.close()


def test_bytes_held_by_a_blackhole_arrive_once_it_is_lifted(redis_link: Link):
    with connect(redis_link) as sock, connect(redis_link) as during:
        ping(sock)
        redis_link.partition = "blackhole"
        sock.sendall(b"PING\r\n")
        with pytest.raises(TimeoutError):
            sock.settimeout(0.15)
            sock.recv(7)
        assert ping_held(during) is None  # a connection opened during it: nothing flows
        redis_link.rtt = 0.02
        lifted = time.monotonic()
        redis_link.partition = None
        sock.settimeout(5)
        assert receive(sock, 7) == b"+PONG\r\n"
        assert time.monotonic() - lifted >= 0.02  # held bytes travel from the lift on
        during.settimeout(5)
        assert receive(during, 7) == b"+PONG\r\n"


def ping_held(sock: socket.socket) -> bytes | None:
    sock.sendall(b"PING\r\n")
    sock.settimeout(0.15)
    try:
        return sock.recv(7)
    except TimeoutError:
        return None


def test_reset_closes_every_connection_and_refuses_new_ones(redis_link: Link):
    assert redis_link.address is not None
    with connect(redis_link) as sock:
        ping(sock)
        redis_link.partition = "reset"
        with pytest.raises(ConnectionResetError):
            sock.sendall(b"PING\r\n")
            sock.recv(7)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(redis_link.address, timeout=2).close()
    client = redis.Redis.from_url(redis_link.relay_url(TEST_REDIS_URL), socket_timeout=1)
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
        redis_link.partition = None  # listening again, on the same port
        assert client.ping()
    finally:
        client.close()


def test_partition_takes_blackhole_reset_or_none_only(redis_link: Link):
    for wrong in ("down", "", 1, True):
        with pytest.raises(ValidationError, match="blackhole"):
            redis_link.partition = wrong  # type: ignore[assignment]
    assert redis_link.partition is None
    with pytest.raises(ValidationError):
        redis_link.rtt = -0.001
    with pytest.raises(ValidationError):
        redis_link.jitter = 11.0
    assert redis_link.rtt == 0.0 and redis_link.jitter == 0.0
