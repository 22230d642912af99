"""``--cache`` URLs are checked before anything starts (``cachetui``, ``bench`` and
``serve`` share the check): every form redis-py accepts is taken, anything else is one
line naming the problem (exit 2), and a server that needs a password says how to give
it — against a real second redis-server started here."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis

from cachetui.cli import command as cli
from cachetui.engine import StoreUnavailable
from cachetui.engine.stores.redis_errors import check_reachable
from cachetui.engine.stores.redis_url import parse_redis_url
from tests.private_redis import PrivateRedis, private_redis


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachetui", *args], capture_output=True, text=True, timeout=60
    )


NOT_A_DATABASE = "the database must be a whole number >= 0 (as in /0)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:6379/abc", f"{NOT_A_DATABASE}, got 'abc'"),
        ("redis://127.0.0.1:6379/-1", f"{NOT_A_DATABASE}, got '-1'"),
        ("redis://127.0.0.1:6379/1/2", f"{NOT_A_DATABASE}, got '1/2'"),
        ("redis://127.0.0.1:6379/1?db=2", "two databases: /1 in the path and db=2 in the options"),
        ("unix:///tmp/r.sock?db=x", "option db='x' is not a valid value"),
        ("unix:///tmp/r.sock?db=-2", "the database must be a whole number >= 0, got '-2'"),
        ("unix://", "a unix:// URL needs the socket's path: unix:///PATH.sock?db=N"),
        ("redis://127.0.0.1:abc/0", "the port must be a number from 1 to 65535, got 'abc'"),
        ("rediss://127.0.0.1:0/0", "the port must be a number from 1 to 65535, got '0'"),
        ("redis://127.0.0.1:70000/0", "the port must be a number from 1 to 65535, got '70000'"),
        ("redis://h/0?socket_timeout=soon", "option socket_timeout='soon' is not a valid value"),
        ("redis://h/0?colour=red", "unknown option 'colour'"),
        ("unix:///tmp/r.sock?ssl_cert_reqs=none", "unknown option 'ssl_cert_reqs'"),
        ("redis://h/0?protocol=9", "protocol must be either 2 or 3"),
        ("redis://h/0?db=1&db=2", "option 'db' is given 2 times"),
    ],
)  # fmt: skip
def test_a_bad_redis_url_is_one_line_naming_its_problem(capsys, url, problem):
    with pytest.raises(SystemExit) as stopped:
        cli.build_parser().parse_args(["--cache", url])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"cachetui: error: argument --cache: invalid Redis URL {url}: {problem}"


@pytest.mark.parametrize(
    ("url", "where", "db"),
    [
        ("redis://", "localhost:6379", 0),
        ("redis://10.1.2.3:6390/7", "10.1.2.3:6390", 7),
        ("rediss://user:pw@cache.example:6380/2?ssl_cert_reqs=none", "cache.example:6380", 2),
        ("redis://[::1]:6379/1", "[::1]:6379", 1),
        ("redis://h/5?db=5&socket_timeout=0.5&client_name=lab", "h:6379", 5),
        ("unix:///run/redis/redis.sock?db=4", "/run/redis/redis.sock", 4),
        ("unix://:pw@/run/redis/redis.sock", "/run/redis/redis.sock", 0),
    ],
)
def test_every_form_redis_py_accepts_is_taken(url, where, db):
    address = parse_redis_url(url)
    assert (address.where, address.db) == (where, db)
    assert cli.build_parser().parse_args(["--cache", url]).cache == url


@pytest.mark.parametrize("command", [[], ["bench"], ["serve", "--port", "0"]])
def test_every_command_refuses_a_bad_url_before_it_starts(command):
    result = run(*command, "--cache", "redis://:s3cret@127.0.0.1:6379/abc")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    prog = " ".join(["cachetui", *command[:1]])
    assert result.stderr.splitlines()[-1] == (
        f"{prog}: error: argument --cache: invalid Redis URL redis://:***@127.0.0.1:6379/abc: "
        "the database must be a whole number >= 0 (as in /0), got 'abc'"
    )


def test_help_names_the_cache_url_forms():
    from cachetui.bench import command as bench
    from cachetui.serve import command as serve

    for parser in (cli.build_parser(), bench.build_parser(), serve.build_parser()):
        text = " ".join(parser.format_help().split())
        assert (
            "--cache URL cache store: memory:// (in-process), redis://[:PASSWORD@]HOST:PORT/DB, "
            "rediss://… (TLS) or unix:///PATH.sock?db=N (default: memory://)"
        ) in text, parser.prog


# -- a real Redis that needs a password --------------------------------------------------------
@pytest.fixture(scope="module")
def password_redis() -> Iterator[PrivateRedis]:
    with private_redis(password="pw-for-the-test") as server:
        yield server


def test_a_server_that_needs_a_password_says_how_to_give_it(password_redis):
    port = password_redis.port
    result = run("--db", ":memory:", "--cache", f"redis://127.0.0.1:{port}/3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    hint = f"redis://:PASSWORD@127.0.0.1:{port}/3"
    assert result.stderr.splitlines()[-1] == (
        f"cachetui: error: --cache: Redis at 127.0.0.1:{port} requires a password ({hint})"
    )
    check_reachable(hint.replace("PASSWORD", password_redis.password))  # the hint works
    with pytest.raises(StoreUnavailable) as refused:
        check_reachable(hint.replace("PASSWORD", "wrong"))
    assert str(refused.value) == (
        f"Redis at 127.0.0.1:{port} refused the user name or password in the URL "
        "(authentication failed)"
    )
    with pytest.raises(StoreUnavailable) as missing:
        check_reachable(f"redis://:{password_redis.password}@127.0.0.1:{port}/99")
    assert str(missing.value).startswith(f"Redis at 127.0.0.1:{port} has no database 99 ")


def test_bench_over_a_unix_socket(password_redis):
    """unix:// is taken (it used to be refused); without the password bench says how to
    give it, and with the password its hint names, the benchmark runs over the socket."""
    path = password_redis.socket
    result = run("bench", "--cache", f"unix://{path}?db=2", "--ops", "10")
    assert result.returncode == 2
    hint = f"unix://{path}?db=2&password=PASSWORD"
    assert result.stderr.splitlines()[-1] == (
        f"cachetui bench: error: --cache: Redis at {path} requires a password ({hint})"
    )
    url = hint.replace("PASSWORD", password_redis.password)
    result = run("bench", "--cache", url, "--policy", "write-through", "--ops", "100",
                 "--keys", "20", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"policy": "write-through"' in result.stdout and '"errors": 0' in result.stdout
    with redis.Redis.from_url(url) as client:
        assert client.dbsize() == 0  # bench's copies took their entries with them
