"""What PostgreSQL's failures say (issue 27's review), through a link and without: the
server the user gave is named (never the relay's local port), a password never shows
(even where libpq quotes the URL), a connection lost under a link reset is one clear line
(not the driver's text), and psycopg_pool's own warnings go to cachetui.log, never to the
terminal. Real PostgreSQL, a real link (its relay in a child process)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from cachetui.cli.driver_logs import DRIVER_LOGGERS, route_driver_logs
from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig, Profile
from cachetui.engine.database.postgres_errors import server_words

pytestmark = pytest.mark.postgres

TIMEOUT = 0.5  # --db-timeout: how long a caller waits for a connection the link refuses
SECRET = "s3cret-Pw"
DRIVER_WORDS = ("consuming input", "server closed", "connection to server at", "\n")


def with_password(url: str) -> str:
    """``url`` with a password the trust-auth server ignores (it must never show)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    netloc = f"{user}:{SECRET}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def driver_log(tmp_path: Path) -> Iterator[Path]:
    """psycopg's loggers routed as the command line routes them, then put back."""
    saved = [(logging.getLogger(n), logging.getLogger(n).propagate) for n in DRIVER_LOGGERS]
    handlers = [list(logger.handlers) for logger, _ in saved]
    path = tmp_path / "cachetui.log"
    route_driver_logs(path)
    yield path
    for (logger, propagate), kept in zip(saved, handlers, strict=True):
        logger.handlers[:] = kept
        logger.propagate = propagate


async def pool_has_warned(log: Path) -> None:
    """Wait (bounded) for psycopg_pool's first failed refill to reach the log: it tries
    in the background, later on a loaded machine."""

    def warned() -> bool:
        return log.exists() and "error connecting" in log.read_text()

    deadline = asyncio.get_running_loop().time() + TIMEOUT + 1
    while not warned():
        if asyncio.get_running_loop().time() > deadline:
            return  # the assertion below says what is missing
        await asyncio.sleep(0.1)


async def served_again(engine: Engine, user: int) -> Profile:
    """Read ``user`` once the pool has connections again after a partition (it refills
    in the background: a read before that is back-pressure, not an answer)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT * 4 + 5
    while True:
        try:
            return await engine.read(user)
        except DatabaseUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_link_reset_names_the_server_in_one_line_and_the_pool_keeps_quiet(
    postgres_url, driver_log, capfd
):
    url = with_password(postgres_url)
    port = str(urlsplit(url).port or 5432)
    config = EngineConfig(db_url=url, db_rtt=0.001, db_timeout=TIMEOUT, policy="no-cache")
    async with Engine(config) as engine:
        await engine.seed(3)
        assert engine.link is not None
        relay_port = engine.link.relay_url(url).rsplit(":", 1)[1].split("/")[0]
        assert relay_port != port
        await asyncio.gather(*(engine.db_recent(3) for _ in range(4)))  # pooled, in use
        engine.link.partition = "reset"
        errors = []
        calls = [lambda: engine.db_recent(3)] + [lambda: engine.read(1)] * 6
        for call in calls:  # until the pool has no connection left the reset ended
            with pytest.raises(DatabaseUnavailable) as raised:
                await asyncio.wait_for(call(), TIMEOUT * 4 + 5)
            errors.append(str(raised.value))
            if len(errors) > 1 and "passes no connection" in errors[-1]:
                break
        await pool_has_warned(driver_log)  # its refills fail while the link resets
        engine.link.partition = None
        assert (await served_again(engine, 2)).user_id == 2
    for text in errors:
        assert SECRET not in text and relay_port not in text, text
        assert not any(words in text for words in DRIVER_WORDS), text
        assert text.endswith(  # or, a pooled connection the reset ended, under load:
            (
                f"the link in front of the server 127.0.0.1:{port} passes no connection "
                "(a partition) (an outage: retried)",
                "the connection to the server was lost, closed or reset (an outage: retried)",
            )
        ), text
    assert any("passes no connection" in text for text in errors), errors
    out, err = capfd.readouterr()
    assert err == "" and SECRET not in out  # nothing raw on the terminal
    # the pool's failed refills, if it tried one while the link reset (on a loaded
    # machine it may not have), went to the log, masked
    logged = driver_log.read_text() if driver_log.exists() else ""
    assert SECRET not in logged
    assert not logged or "psycopg.pool warning: error connecting" in logged, logged


async def test_a_call_in_flight_when_the_link_resets_is_one_line(postgres_url):
    url = with_password(postgres_url)
    config = EngineConfig(db_url=url, db_rtt=0.001, db_timeout=2, policy="no-cache")
    async with Engine(config) as engine:
        await engine.seed(3)
        assert engine.link is not None
        engine.link.rtt = 0.2
        reading = asyncio.create_task(engine.db_recent(3))  # its reply is 0.2 s away
        await asyncio.sleep(0.05)
        engine.link.partition = "reset"
        with pytest.raises(DatabaseUnavailable) as raised:
            await reading
        engine.link.partition = None
        engine.link.rtt = 0.001
    assert str(raised.value) == (
        "reading: the connection to the server was lost, closed or reset (an outage: retried)"
    )


async def test_a_server_down_behind_a_link_is_named_not_the_relay():
    dead = free_port()  # nothing listens there
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{dead}/cachetui_test"
    engine = Engine(EngineConfig(db_url=url, db_rtt=0.001, db_timeout=TIMEOUT))
    with pytest.raises(DatabaseUnavailable) as raised:
        await engine.start()
    await engine.close()
    masked = f"postgresql://postgres:***@127.0.0.1:{dead}/cachetui_test"
    assert str(raised.value) == (
        f"cannot open database {masked}: nothing listens at the host and port of {masked} "
        "(connection refused)"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"postgresql://u:{SECRET}@[::1/db", 'in IPv6 host address in URI: "postgresql://u:***@'),
        ("postgresql://u:s%zz@h/db", 'invalid percent-encoded token: "***"'),
    ],
)
async def test_libpq_quoting_the_url_never_shows_the_password(url, said):
    engine = Engine(EngineConfig(db_url=url))
    with pytest.raises(DatabaseUnavailable) as raised:
        await engine.start()
    await engine.close()
    text = str(raised.value)
    assert said in text and SECRET not in text and "s%zz" not in text, text


def test_a_relays_address_in_a_servers_words_becomes_the_servers():
    relay = f"postgresql://u:{SECRET}@127.0.0.1:41234/db"
    server = f"postgresql://u:{SECRET}@db.example:5433/db"
    text = f'connection to server at "127.0.0.1", port 41234 failed ({relay}, 127.0.0.1:41234)'
    assert server_words(text, relay, server) == (
        'connection to server at "db.example", port 5433 failed '
        "(postgresql://u:***@db.example:5433/db, db.example:5433)"
    )
