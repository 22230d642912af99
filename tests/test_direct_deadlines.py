"""The queries that go straight to the PostgreSQL server, not through an engine (``cachetui
reset``, the run schemas of ``bench``, ``--talk``'s schema): each is bounded by
``--db-timeout``, and one clear line says so when it is hit: a statement waiting on a lock
another session holds (the server's statement_timeout), a reply the network holds (the
link's blackhole). Real PostgreSQL, a database of these tests' own."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from cachetui.bench.command import main as bench_main
from cachetui.cli.command import main as app_main
from cachetui.cli.talk import TALK_SCHEMA
from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from cachetui.engine.database import run_schemas
from cachetui.engine.database.postgres_direct import direct
from cachetui.engine.lab.link import Link
from cachetui.reset.command import main as reset_main
from tests.conftest import postgres_or_skip, private_schema

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(30, method="thread")]

TIMEOUT = "0.3"  # --db-timeout: a hit is a fraction of a second


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    """A database of this module's own (the talk's schema and the benchmarks' schemas
    are the database's, not a test schema's)."""
    base = postgres_or_skip()
    name = f"cachetui_direct_{uuid.uuid4().hex[:12]}"
    yield postgres_or_skip(base.rsplit("/", 1)[0] + f"/{name}")  # created
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def held(url: str, *statements: str) -> Iterator[None]:
    """Another session runs ``statements`` in a transaction left open (its locks held)
    for the block."""
    with psycopg.connect(url) as other:
        for statement in statements:
            other.execute(statement)
        yield
        other.rollback()


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_reset_stops_at_db_timeout_when_a_lock_holds_its_query(own_database, capsys):
    with private_schema(own_database) as url:

        async def made() -> None:
            async with Engine(EngineConfig(db_url=url)) as engine:
                await engine.seed(3)

        asyncio.run(made())
        with held(url, "LOCK TABLE cachetui_meta IN ACCESS EXCLUSIVE MODE"):
            code = reset_main(["--db", url, "--db-timeout", TIMEOUT, "--yes"])
        line = one_error_line(capsys.readouterr().err)
        assert code == 2
        assert "no answer within --db-timeout 0.3 s" in line
        assert "lock another session holds" in line
        with psycopg.connect(url, autocommit=True) as conn:  # nothing removed
            assert conn.execute("SELECT count(*) FROM profiles").fetchone() == (3,)


def test_bench_stops_at_db_timeout_when_its_run_schema_cannot_be_made(
    own_database, monkeypatch, capsys
):
    name = f"cachetui_bench_{run_schemas.host_tag()}_1_{uuid.uuid4().int % 10**6}"
    monkeypatch.setattr(run_schemas, "new_schema_name", lambda: name)
    # another session made a schema of that name and has not committed: CREATE waits
    with held(own_database, f"CREATE SCHEMA {name}"):
        code = bench_main(
            ["--db", own_database, "--db-timeout", TIMEOUT, "--policy", "no-cache"]
            + ["--ops", "10", "--keys", "5", "--json"]
        )
    line = one_error_line(capsys.readouterr().err)
    assert code != 0
    assert f"creating schema {name}" in line and "no answer within --db-timeout 0.3 s" in line
    assert "lock another session holds" in line


async def test_a_run_schemas_drop_stops_at_db_timeout_when_a_lock_holds_it(own_database):
    name = await run_schemas.create_schema(own_database)
    try:
        with psycopg.connect(own_database, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {}.t (id int)").format(sql.Identifier(name)))
        with (
            held(own_database, f"LOCK TABLE {name}.t IN ACCESS SHARE MODE"),
            pytest.raises(DatabaseUnavailable, match=f"dropping schema {name}.*no answer.*lock"),
        ):
            await run_schemas.drop_schemas(own_database, [name], 0.3)
    finally:
        await run_schemas.drop_schemas(own_database, [name])
    assert name not in await run_schemas.list_schemas(own_database)


def test_talk_stops_at_db_timeout_when_a_lock_holds_its_schema(own_database, capsys):
    with psycopg.connect(own_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {TALK_SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TALK_SCHEMA}.held (id int)")
    lock = f"LOCK TABLE {TALK_SCHEMA}.held IN ACCESS SHARE MODE"
    with held(own_database, lock), pytest.raises(SystemExit) as exited:
        app_main(["--talk", "--db", own_database, "--db-timeout", TIMEOUT])
    assert exited.value.code == 2
    line = one_error_line(capsys.readouterr().err.splitlines()[-1])
    assert f"making schema {TALK_SCHEMA}" in line and "no answer within --db-timeout" in line
    assert "lock another session holds" in line


async def test_a_direct_statement_gives_up_on_a_reply_the_link_holds(own_database):
    with Link.for_url(own_database, rtt=0.0) as link:
        async with direct(link.relay_url(own_database), 0.3) as conn:
            assert await conn.execute("listing", "SELECT 1") == [(1,)]
            link.partition = "blackhole"
            with pytest.raises(DatabaseUnavailable, match="listing: no answer.*no reply"):
                await conn.execute("listing", "SELECT 1")
