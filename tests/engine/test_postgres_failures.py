"""PostgreSQL going wrong under the engine: an open that must not wait behind another
session's transaction, connections the server ended, a wrong password, a server at
max_connections, a server that stops mid-run. The last three on a throwaway cluster of
the test run's own (``pg_cluster``, tests/private_cluster.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from cachetui.engine import (
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    PendingWritesError,
)
from tests.conftest import db_row, private_schema
from tests.private_cluster import MAX_CONNECTIONS, PrivateCluster
from tests.waits import wait_until

pytestmark = pytest.mark.postgres


def psql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description else []


async def test_an_open_runs_no_ddl_while_another_session_holds_a_long_transaction(
    postgres_url,
):
    async with Engine(EngineConfig(db_url=postgres_url)) as first:
        await first.seed(3)
        with psycopg.connect(postgres_url) as report:  # a long report, say
            report.execute("SELECT count(*) FROM profiles")  # ACCESS SHARE, held
            second = Engine(EngineConfig(db_url=postgres_url, db_timeout=1))
            await second.start()  # DDL would wait for ACCESS EXCLUSIVE past the timeout
            try:
                assert second.db.database_id == first.db.database_id
                assert (await second.read(2)).user_id == 2
            finally:
                await second.close()


async def test_a_schema_that_is_not_current_is_migrated_at_open(postgres_url):
    async with Engine(EngineConfig(db_url=postgres_url)) as engine:
        database_id = engine.db.database_id
    psql(postgres_url, "UPDATE cachetui_meta SET value = 'old' WHERE key = 'schema_digest'")
    psql(postgres_url, "DROP TRIGGER cachetui_foreign_truncate ON profiles")
    async with Engine(EngineConfig(db_url=postgres_url)) as engine:
        assert engine.db.database_id == database_id
    assert psql(
        postgres_url,
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'cachetui_foreign_truncate' "
        "AND tgrelid = 'profiles'::regclass",  # this schema's, not other tests'
    ) == [(1,)]
    assert psql(postgres_url, "SELECT value FROM cachetui_meta WHERE key = 'schema_digest'") != [
        ("old",)
    ]


async def test_the_first_call_after_the_server_ended_the_pools_connections_succeeds(
    postgres_url, monkeypatch
):
    name = f"cachetui-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)  # only this engine's sessions are ended
    config = EngineConfig(db_url=postgres_url, policy="no-cache", db_pool=3)
    async with Engine(config) as engine:
        await engine.seed(3)
        await asyncio.gather(*(engine.read(uid) for uid in (1, 2, 3)))  # a few connections
        ended = psql(
            postgres_url,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{name}' AND pid <> pg_backend_pid()",
        )
        assert ended and all(ok for (ok,) in ended)
        alive = (
            f"SELECT 1 FROM pg_stat_activity WHERE application_name = '{name}' "
            "AND pid <> pg_backend_pid()"
        )
        # they are gone once pg_stat_activity says so: the pool holds only dead ones
        await wait_until(lambda: not psql(postgres_url, alive), "the server ended the sessions")
        assert (await engine.read(1)).user_id == 1  # no error: a new connection
        assert (await engine.update(2, {"bio": "after the restart"})).version == 2


@pytest.fixture
def cluster(pg_cluster: PrivateCluster) -> Iterator[PrivateCluster]:
    """The private cluster, running, with no session of ``lab`` left over."""
    if not _running(pg_cluster):
        pg_cluster.start()
    yield pg_cluster
    if not _running(pg_cluster):
        pg_cluster.start()
    pg_cluster.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'lab'")


def _running(cluster: PrivateCluster) -> bool:
    try:
        cluster.admin("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def no_secret(cluster: PrivateCluster, *texts: object) -> None:
    for text in texts:
        assert cluster.password not in str(text) and "wrong-" not in str(text), text


async def test_a_wrong_password_is_one_line_that_never_shows_it(cluster):
    wrong = f"wrong-{cluster.password}"
    engine = Engine(EngineConfig(db_url=cluster.url(password=wrong), db_timeout=5))
    with pytest.raises(DatabaseUnavailable) as error:
        await engine.start()
    text = str(error.value)
    assert "refused the user name or password" in text and "\n" not in text
    no_secret(cluster, text, repr(error.value), engine.db.path, engine.config.db_path)
    assert "***" in text
    right = Engine(EngineConfig(db_url=cluster.url(), db_timeout=5))
    async with right:  # the right one opens; it is shown nowhere either
        no_secret(cluster, right.db.path, right.db.description)


async def test_too_many_clients_is_back_pressure_not_an_outage(cluster):
    with private_schema(cluster.url()) as url:
        held = [psycopg.connect(cluster.url()) for _ in range(MAX_CONNECTIONS - 1)]
        try:  # every slot of lab's is taken
            engine = Engine(EngineConfig(db_url=url, db_timeout=2))
            with pytest.raises(DatabaseUnavailable) as error:
                await engine.start()
            text = str(error.value)
            assert "too many clients" in text and "back-pressure" in text and "\n" not in text
            no_secret(cluster, text)
            held.pop().close()  # one slot: the engine's first connection
            config = EngineConfig(db_url=url, policy="write-through", db_pool=4, db_timeout=2)
            async with Engine(config) as engine:
                await engine.seed(8)
                done = await asyncio.gather(
                    *(engine.update(uid, {"bio": "one connection"}) for uid in range(1, 9))
                )  # the pool cannot grow: the callers wait their turn
                assert [p.version for p in done] == [2] * 8
            assert db_row(url, 8) == done[-1]  # the engine's slot is free again
        finally:
            for conn in held:
                conn.close()


async def test_a_server_that_stops_mid_run_is_an_outage_ridden_out(cluster):
    with private_schema(cluster.url()) as url:
        config = EngineConfig(
            db_url=url, policy="write-behind", db_timeout=0.5, flush_interval=3600,
            retry_base=0.01, retry_cap=0.05,
        )  # fmt: skip
        async with Engine(config) as engine:
            await engine.seed(3)
            acked = await engine.update(1, {"bio": "through a restart"})
            cluster.stop()
            with pytest.raises(PendingWritesError) as pending:
                await engine.flush(timeout=0.3)
            assert "cannot be reached" in str(pending.value)  # an outage, not back-pressure
            with pytest.raises(DatabaseUnavailable) as down:
                await engine.read(2)  # no cached copy: the database must answer
            assert "cannot be reached" in str(down.value)
            no_secret(cluster, pending.value, down.value)
            no_secret(cluster, *(e.detail for e in engine.recent_events()))
            cluster.start()
            await engine.flush(timeout=10)
            assert db_row(url, 1) == acked
            assert (await engine.read(2)).user_id == 2
