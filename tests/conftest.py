"""Shared fixtures: engines over real SQLite files in a temporary directory, with the
in-process store and with a real Redis server (``make_engine`` runs each test on both);
a private schema of a real PostgreSQL server per test (``postgres_url``).

Tests run in parallel (pytest-xdist): nothing here touches what another test may use.
Redis: database 15 by default, each engine under its own key namespace (named after its
SQLite file, which lives in the test's own folder) and each durable queue under its
database's random id; a test deletes only its own keys. PostgreSQL: one test database,
a schema per test, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, Profile
from tests.private_cluster import PrivateCluster, private_cluster

EngineFactory = Callable[..., Awaitable[Engine]]

#: Tests use their own logical database; each engine has its own key namespace (named
#: after its SQLite file) and the fixtures delete it afterwards.
TEST_REDIS_URL = os.environ.get("CACHETUI_TEST_REDIS", "redis://127.0.0.1:6379/15")


def redis_or_skip(url: str = TEST_REDIS_URL) -> str:
    """``url`` if a Redis server answers there; else skip — but fail under CI=true."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1) as client:
            client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis server at {url} ({exc}); start one or set CACHETUI_TEST_REDIS"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Redis: {reason}")
        pytest.skip(reason)
    return url


def delete_namespace(url: str, namespace: str) -> None:
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"cachetui:{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


def database_ids(folder: Path) -> list[str]:
    """The ids of the cachetui databases (``*.db``) under ``folder``: a Redis Stream
    queue is named after its database's id."""
    ids = []
    for path in folder.rglob("*.db"):
        with contextlib.suppress(sqlite3.Error), sqlite3.connect(path) as conn:
            row = conn.execute(
                "SELECT value FROM cachetui_meta WHERE key = 'database_id'"
            ).fetchone()
            if row is not None:
                ids.append(str(row[0]))
    return ids


def delete_test_keys(url: str, folder: Path) -> None:
    """Delete what the databases under ``folder`` (one test's) left in Redis: their
    queues' streams and their caches' namespaces; never another test's keys."""
    from cachetui.engine.stores.redis_codec import namespace_for

    with redis.Redis.from_url(url) as client:
        for database_id in database_ids(folder):
            stream = f"cachetui:queue:{database_id}"
            client.delete(stream, *client.scan_iter(match=f"{stream}:*", count=1000))
    for path in folder.rglob("*.db"):
        delete_namespace(url, namespace_for(str(path)))


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield redis_or_skip()


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    """Each engine test runs over the in-process store and over a real Redis."""
    return "memory://" if request.param == "memory" else redis_or_skip()


@pytest.fixture
def db_backend() -> str:
    """The database engine tests run on: SQLite; a module that holds the contract on
    both parametrizes it (``pytestmark = BOTH_DATABASES``)."""
    return "sqlite"


#: Run every test of a module that uses the database (``db_path``, ``make_engine``) on
#: SQLite and on PostgreSQL (with the in-process cache on PostgreSQL: the Redis ×
#: PostgreSQL pairs are left out, see the smoke module). Tests that touch no database run
#: once.
BOTH_DATABASES = pytest.mark.both_databases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker("both_databases") is not None
    if marked and "db_backend" in metafunc.fixturenames:
        metafunc.parametrize("db_backend", ["sqlite", "postgres"])


@pytest.fixture
def db_path(tmp_path: Path, db_backend: str) -> Iterator[str]:
    """Where the test's database is: a SQLite file, or (``db_backend`` postgres) the URL
    of a schema of its own in the PostgreSQL test database."""
    if db_backend == "postgres":
        with private_schema(postgres_or_skip()) as url:
            yield url
    else:
        yield str(tmp_path / "profiles.db")


@pytest.fixture
async def make_engine(db_path: str, cache_url: str) -> AsyncIterator[EngineFactory]:
    """Build started engines over ``db_path`` seeded with 20 profiles, over the store
    ``cache_url`` names; closed at the end (without flushing: tests that care about
    close() call it themselves)."""
    engines: list[Engine] = []

    async def factory(policy: str = "write-through", seed: int = 20, **options: Any) -> Engine:
        options.setdefault("flush_interval", 3600.0)  # tests flush explicitly
        options.setdefault("flush_timeout", 0.5)
        options.setdefault("retry_base", 0.01)
        options.setdefault("retry_cap", 0.05)
        options.setdefault("cache_url", cache_url)
        config = EngineConfig(policy=policy, **db_where(db_path), **options)
        engine = Engine(config)
        await engine.start()
        if seed:
            await engine.seed(seed)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        if engine.running:
            engine.faults.clear()
            await engine.close(timeout=2, discard=True)
        namespace = getattr(engine.store, "namespace", None)
        if namespace is not None:
            delete_namespace(engine.config.cache_url, namespace)


#: The test database on a PostgreSQL server (created when missing); each test gets its own
#: schema in it (see :func:`private_schema`).
TEST_POSTGRES_URL = os.environ.get(
    "CACHETUI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/cachetui_test"
)


def postgres_or_skip(url: str = TEST_POSTGRES_URL) -> str:
    """``url`` once its database exists (created if missing) and a PostgreSQL server
    answers; else skip, but fail under CI=true."""
    import psycopg
    from psycopg import errors, sql

    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres", query=""))
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=3) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if found is None:
                with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = (
            f"no PostgreSQL server at {maintenance} ({first}); start one or set "
            "CACHETUI_TEST_POSTGRES"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    return url


@contextlib.contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A new schema in the database at ``url``; yields a URL whose connections see it
    first (``options=-csearch_path=…``, as libpq takes it). Dropped, with all it holds,
    on the way out."""
    import psycopg
    from psycopg import sql

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    parts = urlsplit(url)
    option = "options=" + quote(f"-csearch_path={schema}", safe="")
    query = f"{parts.query}&{option}" if parts.query else option
    try:
        yield urlunsplit(parts._replace(query=query))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the PostgreSQL test database whose connections work in this test's own
    schema (dropped afterwards)."""
    with private_schema(postgres_or_skip()) as url:
        yield url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivateCluster]:
    """A throwaway PostgreSQL cluster of this run's own, scram-sha-256 and few
    connections, stopped and removed at the end (see tests/private_cluster.py)."""
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own system temporary folder (``TMPDIR``, for it and the processes it
    starts): what a test lists there is its own, whatever runs beside it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    return folder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need a server, so ``-m "not redis"`` (or ``postgres``) leaves
    them out; leave out the Redis × PostgreSQL pairs of BOTH_DATABASES modules."""
    kept, dropped = [], []
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_postgres = params.get("db_backend") == "postgres"
        if on_postgres and params.get("cache_url") == "redis":
            dropped.append(item)
            continue
        kept.append(item)
        if "redis_url" in fixtures or params.get("cache_url") == "redis":
            item.add_marker(pytest.mark.redis)
        if "postgres_url" in fixtures or on_postgres:
            item.add_marker(pytest.mark.postgres)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def db_row(path: str, user_id: int) -> Profile | None:
    """Read a row through a separate connection, as any client would (sqlite3, or
    psycopg for a PostgreSQL URL, as psql would)."""
    if "://" in path:
        import psycopg

        with psycopg.connect(path, autocommit=True) as pg:
            found = pg.execute(
                "SELECT user_id, name, bio, location, followers, version, updated_at, "
                "write_id FROM profiles WHERE user_id = %s",
                (user_id,),
            ).fetchone()
        return None if found is None else Profile(*found)
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT user_id, name, bio, location, followers, version, updated_at, write_id "
            "FROM profiles WHERE user_id = ?",
            (user_id,),
        ).fetchone()
    return None if row is None else Profile(*row)


def db_sql(path: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement through a separate connection and commit it, as another client
    would: sqlite3 for a file, psycopg for a PostgreSQL URL (``?`` placeholders become
    ``%s`` there). The rows it returns, if any."""
    if "://" in path:
        import psycopg

        with psycopg.connect(path, autocommit=True) as pg:
            cursor = pg.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement, params).fetchall()


def db_script(path: str, statements: list[str]) -> None:
    """Run ``statements`` in one transaction on one connection of another client (so a
    temporary table made by one is there for the next)."""
    if "://" in path:
        import psycopg

        with psycopg.connect(path) as pg, pg.transaction():
            for statement in statements:
                pg.execute(statement)  # type: ignore[arg-type]
        return
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for statement in statements:
            conn.execute(statement)


def db_where(path: str) -> dict[str, str]:
    """``EngineConfig`` keywords naming the database at ``path``: ``db_url`` for a server
    URL, else ``db_path``."""
    return {"db_url": path} if "://" in path else {"db_path": path}


def db_version(path: str, user_id: int) -> int | None:
    row = db_row(path, user_id)
    return None if row is None else row.version


@pytest.fixture(autouse=True)
def _own_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What cachetui keeps in the user's data directory (the default database, a server
    database's outbox) goes to this test's own folder, never the real one's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))


@pytest.fixture(autouse=True)
def _no_inherited_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist's workers run with COLUMNS=80 and LINES=24 in their environment: an
    app started in a terminal of another size would draw at 80×24 (the environment wins
    over the terminal's size). A run on one core has neither; nor do the tests."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(autouse=True)
def _collector_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line tunes the garbage collector for its whole process (see
    ``cachetui/app/collector.py``): a test calling it in-process must not leave the rest
    of the run frozen and tuned. (``tests/app/test_collector.py`` tests the tuning.)"""
    import cachetui.app.collector as collector

    monkeypatch.setattr(collector, "tune_collector", lambda: None)
