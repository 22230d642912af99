"""Bad input changes nothing (issue 31, item 6): every command refused because a server
it names cannot be used says so in one line naming the option, and leaves no trace —
no database file, nothing in the user's data folder, no key in Redis, no table in
PostgreSQL. A queue that did not answer used to be found only after the database
file was made and the screen had started."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_or_skip, private_schema
from tests.private_redis import PrivateRedis, private_redis

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedis]:
    """A Redis of this module's alone: any key in it was written by a refused command."""
    with private_redis() as redis_server:
        yield redis_server


def refused(tmp_path: Path, *args: str) -> str:
    """Run ``cachetui ARGS`` (no terminal); its last stderr line, after checking it
    exited 2 without a traceback."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "TERM": "dumb"}
    result = subprocess.run(
        [sys.executable, "-m", "cachetui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()[-1]


COMMANDS = {
    "app": [],
    "worker": ["worker", "--seconds", "1"],
    "compare": ["compare"],
    "serve": ["serve", "--port", "0"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option", ["--queue", "--cache", "--invalidate"])
def test_a_redis_that_does_not_answer_is_refused_before_anything_is_written(
    tmp_path, server, command, option
):
    db = tmp_path / "lab.db"
    args = [*COMMANDS[command], "--db", str(db)]
    if option == "--invalidate":  # a near cache: the queue and the cache on a live server
        args += ["--queue", server.url, "--invalidate", NOWHERE]
    elif option == "--cache":
        args += ["--queue", server.url, "--cache", NOWHERE]
    else:
        args += ["--cache", server.url, "--queue", NOWHERE]
    if command == "compare":
        args += ["write-through", "write-behind"]
    line = refused(tmp_path, *args)
    assert f"error: {option}: cannot reach Redis at {NOWHERE}: connection refused" in line
    assert not db.exists()
    assert not (tmp_path / "data").exists()  # no outbox, no history, no log
    assert server.key_count() == 0


def test_bench_refuses_a_queue_that_does_not_answer_before_it_runs(tmp_path, server):
    line = refused(tmp_path, "bench", "--cache", server.url, "--queue", NOWHERE, "--ops", "10")
    assert line == f"cachetui bench: error: --queue: cannot reach Redis at {NOWHERE}: " + (
        "connection refused"
    )
    assert server.key_count() == 0


@pytest.mark.parametrize("command", ["app", "worker"])
def test_on_postgresql_a_refused_command_makes_no_table(tmp_path, server, command):
    with private_schema(postgres_or_skip()) as url:
        line = refused(tmp_path, *COMMANDS[command], "--db", url, "--queue", NOWHERE)
        assert f"error: --queue: cannot reach Redis at {NOWHERE}" in line
        import psycopg

        with psycopg.connect(url) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            ).fetchall()
        assert tables == []
    assert server.key_count() == 0
