"""The durations the link's flags take, and a server's URL pointed at the relay with
everything else kept (the password never shown in an error)."""

from __future__ import annotations

import pytest

from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.link import format_duration, link_target, parse_duration, relay_url


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300us", 0.0003),
        ("300µs", 0.0003),
        ("2ms", 0.002),
        ("0.5s", 0.5),
        ("1s", 1.0),
        (".5ms", 0.0005),
        (" 3 MS ", 0.003),
        ("0us", 0.0),
        ("10s", 10.0),
    ],
)
def test_durations(text: str, seconds: float):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2", "give a unit: 2ms or 2s"),
        ("-1ms", "never negative"),
        ("1e3ms", "expected"),
        ("nan s", "expected"),
        ("10.001s", "at most 10s"),
        ("", "expected"),
        ("2 m", "expected"),
    ],
)
def test_bad_durations_are_one_line(text: str, problem: str):
    with pytest.raises(ValidationError, match=problem) as info:
        parse_duration(text, what="--db-rtt")
    assert str(info.value).startswith("--db-rtt: ") and "\n" not in str(info.value)


def test_durations_are_shown_in_the_shortest_unit():
    assert [format_duration(s) for s in (0, 0.0003, 0.002, 0.05, 1.5, 0.0000005)] == [
        "0ms",
        "300us",
        "2ms",
        "50ms",
        "1.5s",
        "0.5us",
    ]


RELAY = ("127.0.0.1", 40001)


@pytest.mark.parametrize(
    ("url", "target", "through"),
    [
        ("redis://127.0.0.1:6379/15", ("127.0.0.1", 6379), "redis://127.0.0.1:40001/15"),
        (
            "redis://:s3cret@cache.example/2?socket_timeout=1",
            ("cache.example", 6379),
            "redis://:s3cret@127.0.0.1:40001/2?socket_timeout=1",
        ),
        ("rediss://user:pw@[::1]:7000/0", ("::1", 7000), "rediss://user:pw@127.0.0.1:40001/0"),
        (
            "postgresql://postgres@127.0.0.1:5432/x?options=-c%20search_path%3Dt_1",
            ("127.0.0.1", 5432),
            "postgresql://postgres@127.0.0.1:40001/x?options=-c%20search_path%3Dt_1",
        ),
        (
            "postgres://u:p%40ss@db.example/app?sslmode=require",
            ("db.example", 5432),
            "postgres://u:p%40ss@127.0.0.1:40001/app?sslmode=require",
        ),
        (
            "postgresql:///app?host=db&port=6000&application_name=a+b",
            ("db", 6000),
            "postgresql://127.0.0.1:40001/app?application_name=a+b",
        ),
    ],
)
def test_a_url_through_the_relay_keeps_all_but_the_server(url, target, through):
    assert link_target(url) == target
    assert relay_url(url, RELAY) == through


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("unix:///tmp/redis.sock?db=1&password=hunter2", "Unix socket"),
        ("postgresql://u:hunter2@/app", "Unix socket"),  # libpq's default: a socket
        ("postgresql://u:hunter2@h/app?host=/var/run/postgresql", "Unix socket"),
        ("postgresql://u:hunter2@h1:5432,h2:5433/app", "several hosts"),
        ("redis://:hunter2@h:99999/0", "port"),
        ("sqlite:///profiles.db", "no server"),
        ("profiles.db", "a SQLite file has no network"),
    ],
)
def test_urls_a_link_cannot_stand_in_front_of(url: str, problem: str):
    with pytest.raises(ValidationError, match=problem) as info:
        link_target(url)
    assert "hunter2" not in str(info.value)
