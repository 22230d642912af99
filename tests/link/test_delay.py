"""What the link does to time, measured through a real relay in a child process, in front
of a real Redis server (redis-py and raw sockets) or an echo server. Lower bounds come
first: a relay that adds nothing fails them."""

from __future__ import annotations

import statistics
import time

import pytest
import redis

from cachetui.engine.lab.link import Link
from tests.conftest import TEST_REDIS_URL
from tests.link.conftest import connect, ping, receive

RTT = 0.05


@pytest.mark.redis
def test_sequential_round_trips_each_pay_the_rtt(redis_link: Link):
    client = redis.Redis.from_url(redis_link.relay_url(TEST_REDIS_URL))
    try:
        client.ping()  # connected before the link slows down
        redis_link.rtt = RTT
        started = time.monotonic()
        for _ in range(20):
            client.ping()
        elapsed = time.monotonic() - started
    finally:
        client.close()
    assert elapsed >= 20 * RTT  # 1 s: a relay that adds nothing cannot pass
    assert elapsed < 20 * RTT * 1.6


@pytest.mark.redis
def test_a_pipeline_pays_one_rtt_not_one_per_request(redis_link: Link):
    client = redis.Redis.from_url(redis_link.relay_url(TEST_REDIS_URL))
    try:
        client.ping()
        redis_link.rtt = RTT
        pipe = client.pipeline(transaction=False)
        for i in range(100):
            pipe.get(f"cachetui-link-test:{i}")
        started = time.monotonic()
        assert pipe.execute() == [None] * 100
        elapsed = time.monotonic() - started
    finally:
        client.close()
    assert RTT <= elapsed < 2 * RTT


@pytest.mark.redis
def test_requests_sent_apart_without_waiting_overlap_in_flight(redis_link: Link):
    """Ten PINGs written 3 ms apart, each its own chunk: the replies come back one RTT
    after each was sent, not one RTT after the previous reply."""
    with connect(redis_link) as sock:
        ping(sock)
        redis_link.rtt = RTT
        started = time.monotonic()
        for _ in range(10):
            sock.sendall(b"PING\r\n")
            time.sleep(0.003)
        assert receive(sock, 70) == b"+PONG\r\n" * 10
        elapsed = time.monotonic() - started
    assert RTT + 9 * 0.003 <= elapsed < 2 * RTT + 0.03


@pytest.mark.redis
def test_a_new_connection_pays_one_rtt_more(redis_link: Link):
    redis_link.rtt = RTT
    started = time.monotonic()
    with connect(redis_link) as sock:
        first = ping(sock)
        from_connect = time.monotonic() - started
        second = ping(sock)
    assert from_connect >= 2 * RTT  # the handshake's round trip, then the request's
    assert first >= 2 * RTT - 0.005  # connect() itself returns at once (the relay accepts)
    assert RTT <= second < 1.6 * RTT


def test_order_is_kept_under_jitter(echo_server: tuple[str, int]):
    """Chunks whose jitter draws differ still arrive in the order they were sent: each is
    delivered no earlier than the one before it."""
    with Link(echo_server, rtt=0.0, jitter=0.02) as link, connect(link) as sock:
        sent = b"".join(f"{i:04d}".encode() for i in range(150))
        for i in range(0, len(sent), 4):
            sock.sendall(sent[i : i + 4])
            time.sleep(0.0005)  # each its own chunk, most of them
        assert receive(sock, len(sent)) == sent


def test_jitter_spreads_round_trips_with_its_percentiles(echo_server: tuple[str, int]):
    """With jitter D (p99 D, p50 D/10 one way), a round trip is two draws: its median is a
    few D/10, and some take several times that."""
    jitter = 0.01
    with Link(echo_server, rtt=0.0, jitter=jitter) as link, connect(link) as sock:
        times = []
        for _ in range(40):
            started = time.monotonic()
            sock.sendall(b"x")
            receive(sock, 1)
            times.append(time.monotonic() - started)
    assert jitter / 10 <= statistics.median(times) <= 6 * jitter / 10
    assert max(times) >= 3 * jitter / 10


def test_jitter_draws_have_p50_a_tenth_and_p99_the_given_value():
    from cachetui.engine.lab.link.shaping import Shaping

    shaping = Shaping(0.0, 0.004, seed=27)
    draws = sorted(shaping.jitter_draw() for _ in range(40_000))
    assert draws[20_000] == pytest.approx(0.0004, rel=0.05)
    assert draws[39_600] == pytest.approx(0.004, rel=0.1)


def test_rtt_changes_live_on_an_open_connection(echo_server: tuple[str, int]):
    with Link(echo_server, rtt=0.0) as link, connect(link) as sock:
        sock.sendall(b"x")
        receive(sock, 1)
        link.rtt = 0.03
        started = time.monotonic()
        sock.sendall(b"x")
        receive(sock, 1)
        assert time.monotonic() - started >= 0.03
        link.rtt = 0.0
        times = []
        for _ in range(3):  # the best of three: one may meet a busy machine
            started = time.monotonic()
            sock.sendall(b"x")
            receive(sock, 1)
            times.append(time.monotonic() - started)
        assert min(times) < 0.02


def test_the_measured_rtt_follows_the_link(echo_server: tuple[str, int]):
    with Link(echo_server, rtt=0.02, interval=0.1) as link:
        measured = link.probe()
        assert measured is not None and 0.02 <= measured < 0.035
        link.rtt = 0.0
        measured = link.probe()
        assert measured is not None and measured < 0.01
        link.partition = "blackhole"
        assert link.measured_rtt() is None  # nothing gets through to measure
        link.partition = None


@pytest.mark.postgres
def test_postgresql_through_the_link(postgres_url: str):
    """libpq's URL (user, database, options=-csearch_path=…) reaches the server through
    the relay, and every statement pays the RTT."""
    import psycopg

    with Link.for_url(postgres_url, rtt=0.02) as link:
        with psycopg.connect(link.relay_url(postgres_url), autocommit=True) as conn:
            schema = conn.execute("SHOW search_path").fetchone()
            started = time.monotonic()
            for _ in range(5):
                conn.execute("SELECT 1").fetchone()
            elapsed = time.monotonic() - started
        assert link.stats()["accepted"] == 1
    assert schema is not None and schema[0].startswith("t_")
    assert 5 * 0.02 <= elapsed < 5 * 0.02 * 1.8


@pytest.mark.redis
def test_small_writes_are_not_held_for_nagle(redis_link: Link):
    """TCP_NODELAY: a request written in two parts reaches the server at once. With
    Nagle's algorithm the relay would hold the second part until the server ACKs the
    first, which the server delays (it has no reply to carry the ACK yet): ~40 ms each."""
    with connect(redis_link) as sock:
        ping(sock)
        started = time.monotonic()
        for _ in range(20):
            sock.sendall(b"PI")
            time.sleep(0.001)  # two chunks for the relay
            sock.sendall(b"NG\r\n")
            assert receive(sock, 7) == b"+PONG\r\n"
        assert (time.monotonic() - started) / 20 < 0.015
