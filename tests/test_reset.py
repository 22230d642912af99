"""`cachetui reset`: lists what cachetui made in a database (and its queue), asks, removes
exactly that; a database cachetui did not make is refused with nothing removed. Real
PostgreSQL, Redis and SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from cachetui.engine import Engine, EngineConfig
from cachetui.reset.command import main
from tests.conftest import postgres_or_skip, private_schema, redis_or_skip


@pytest.fixture(scope="module")
def reset_database() -> Iterator[str]:
    """A database of these tests' own: a reset removes every benchmark's leftover schema
    in its database, which must not be those other tests make meanwhile."""
    base = postgres_or_skip()
    url = base.rsplit("/", 1)[0] + f"/cachetui_reset_{uuid.uuid4().hex[:12]}"
    yield postgres_or_skip(url)  # created
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(url.rsplit("/", 1)[1])
            )
        )


@pytest.fixture
def postgres_url(reset_database: str) -> Iterator[str]:
    with private_schema(reset_database) as url:
        yield url


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data directory (where a server's outbox lives): the test's own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "cachetui"


def objects(url: str) -> set[str]:
    """The tables and functions in the schema the URL works in, as psql would list them."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT 'table ' || table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() UNION SELECT 'function ' || routine_name "
            "FROM information_schema.routines WHERE routine_schema = current_schema()"
        ).fetchall()
    return {str(name) for (name,) in rows}


def used(config: EngineConfig) -> str:
    """An engine over ``config`` that wrote once through its queue; the database's id
    (read as a user would, from cachetui_meta)."""

    async def run() -> None:
        async with Engine(config) as engine:
            await engine.seed(5)
            await engine.update(1, {"name": "reset me"})
            await engine.flush()

    asyncio.run(run())
    query = "SELECT value FROM cachetui_meta WHERE key = 'database_id'"
    if config.db_url is not None:
        with psycopg.connect(config.db_url, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
    else:
        with sqlite3.connect(config.db_path) as db:
            row = db.execute(query).fetchone()
        db.close()
    assert row is not None
    return str(row[0])


@pytest.mark.postgres
def test_reset_removes_exactly_cachetuis_objects_after_asking(postgres_url, data_dir, capsys):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int)")  # the user's own: kept
    config = EngineConfig(db_url=postgres_url, policy="write-behind", queue_url="sqlite://")
    database_id = used(config)
    outbox = data_dir / f"outbox-{database_id}.db"
    assert outbox.exists() and "table profiles" in objects(postgres_url)

    assert main(["--db", postgres_url], ask=lambda prompt: "n") == 1
    out = capsys.readouterr().out
    assert "table " in out and str(outbox) in out and "nothing removed" in out
    assert "table profiles" in objects(postgres_url) and outbox.exists()

    assert main(["--db", postgres_url], ask=lambda prompt: "y") == 0
    assert objects(postgres_url) == {"table orders"}
    assert not outbox.exists()
    assert "removed" in capsys.readouterr().out


@pytest.mark.postgres
def test_reset_refuses_a_profiles_table_cachetui_did_not_make(postgres_url, capsys):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE profiles (id int PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE cachetui_meta (key text, value text)")
    assert main(["--db", postgres_url, "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not made by cachetui" in err[0] and "nothing removed" in err[0]
    assert objects(postgres_url) == {"table profiles", "table cachetui_meta"}


@pytest.mark.postgres
def test_reset_removes_the_queues_stream_and_its_keys(postgres_url, capsys):
    queue = redis_or_skip()
    config = EngineConfig(db_url=postgres_url, policy="write-behind", queue_url=queue)
    database_id = used(config)
    stream = f"cachetui:queue:{database_id}"
    with redis.Redis.from_url(queue) as client:
        client.set(f"{stream}:owner:a-dead-host/1", "1")  # a heartbeat left by a crash
        client.xadd(stream, {"left": "behind"})
        assert main(["--db", postgres_url, "--queue", queue, "--yes"]) == 0
        assert not client.exists(stream) and not list(client.scan_iter(f"{stream}:*"))
    assert "redis key" in capsys.readouterr().out


def test_reset_of_a_sqlite_file_removes_it_its_journal_and_outbox(tmp_path, capsys):
    db = tmp_path / "lab.db"
    config = EngineConfig(db_path=str(db), policy="write-behind", queue_url="sqlite://")
    used(config)
    (tmp_path / "lab.db-wal").write_bytes(b"")  # as a crash leaves it
    keep = tmp_path / "lab.db.notes"
    keep.write_text("mine")
    assert main(["--db", str(db), "--yes"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["lab.db.notes"]


def test_reset_refuses_a_file_that_is_not_cachetuis(tmp_path, capsys):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE profiles (id int)")
    conn.close()
    assert main(["--db", str(other), "--yes"]) == 2
    assert "not made by cachetui" in capsys.readouterr().err
    assert other.exists()


@pytest.mark.postgres
def test_reset_refuses_when_the_users_objects_depend_on_cachetuis_tables(postgres_url, capsys):
    used(EngineConfig(db_url=postgres_url))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE VIEW my_report AS SELECT user_id, name FROM profiles")
        conn.execute("CREATE TABLE my_orders (id int, user_id bigint REFERENCES profiles)")
    before = objects(postgres_url)
    assert main(["--db", postgres_url, "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing removed" in err[0]
    assert "my_report" in err[0] and "my_orders" in err[0]
    assert objects(postgres_url) == before  # the view, the key, cachetui's tables: all kept
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM my_report").fetchone() == (5,)
        keys = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'my_orders'::regclass"
        ).fetchone()
    assert keys == (1,)


@pytest.mark.postgres
def test_reset_leaves_alone_a_schema_named_like_a_benchmarks_holding_the_users_data(
    postgres_url, capsys
):
    mine = "cachetui_bench_another_host_7_0"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(mine)))
        conn.execute(sql.SQL("CREATE TABLE {}.invoices (id int)").format(sql.Identifier(mine)))
    try:
        assert main(["--db", postgres_url, "--yes"]) == 0
        out = capsys.readouterr().out
        assert f"schema {mine} is left alone" in out and "invoices" in out
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            kept = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                (mine,),
            ).fetchone()
        assert kept == (1,)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(mine)))


def test_reset_refuses_a_queue_file_that_is_not_an_outbox(tmp_path, capsys):
    db = tmp_path / "lab.db"
    used(EngineConfig(db_path=str(db)))
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert main(["--db", str(db), "--queue", f"sqlite:///{notes}", "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an outbox" in err[0] and "nothing removed" in err[0]
    assert notes.read_text() == "mine" and db.exists()
