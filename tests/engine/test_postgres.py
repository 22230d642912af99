"""The engine over a real PostgreSQL server: the same contract as over SQLite (versions,
write ids and the guard, other programs' writes, conflicts, dead letters, the lab's
rejection trigger, durable queues, rewinds), checked through a separate psycopg
connection as psql would; and bad URLs refused with one clear line."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig, ValidationError
from cachetui.engine.profile import Profile
from tests.conftest import postgres_or_skip, private_schema
from tests.delay_relay import DelayRelay

pytestmark = pytest.mark.postgres
COLUMNS = "user_id, name, bio, location, followers, version, updated_at, write_id"


def psql(url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode(), params or None)
        return cur.fetchall() if cur.description else []


def row(url: str, user_id: int) -> Profile | None:
    rows = psql(url, f"SELECT {COLUMNS} FROM profiles WHERE user_id = %s", user_id)
    return Profile(*rows[0]) if rows else None


@pytest.fixture
async def make_pg(postgres_url: str) -> AsyncIterator[Callable[..., Any]]:
    engines: list[Engine] = []

    async def factory(policy: str = "write-through", seed: int = 20, **options: Any) -> Engine:
        options.setdefault("flush_interval", 3600.0)
        options.setdefault("flush_timeout", 0.5)
        options.setdefault("retry_base", 0.01)
        options.setdefault("retry_cap", 0.05)
        engine = Engine(EngineConfig(db_url=postgres_url, policy=policy, **options))
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


@pytest.mark.parametrize("policy", ["write-through", "write-around", "write-behind", "no-cache"])
async def test_updates_land_with_their_write_id_and_reads_see_them(make_pg, postgres_url, policy):
    engine = await make_pg(policy)
    assert engine.db.description.startswith("PostgreSQL 15")  # type: ignore[attr-defined]
    written = [await engine.update(uid, {"bio": f"bio {uid}"}) for uid in range(1, 11)]
    await engine.flush()
    assert [row(postgres_url, p.user_id) for p in written] == written
    assert await engine.read(5) == written[4]
    if policy == "write-behind":
        assert engine.metrics.db_transactions == 1  # one batch, one round trip


async def test_external_writes_rewinds_and_write_through_conflicts(make_pg, postgres_url):
    engine = await make_pg("write-through")
    external = await engine.external_update(6, {"bio": "external"})
    assert (external.version, external.write_id) == (2, None) and row(postgres_url, 6) == external
    before = row(postgres_url, 6)
    assert before is not None
    await engine.update(6, {"bio": "ours"})
    await engine.restore_rows([before])  # versions go down; the trigger stands aside
    assert row(postgres_url, 6) == before and engine.epoch == 1
    psql(postgres_url, "UPDATE profiles SET bio = 'behind its back' WHERE user_id = 7")
    await engine.read(7)  # cached before? no: write-through re-reads on a conflict
    again = await engine.update(7, {"location": "Here"})
    assert (again.version, again.bio, again.location) == (3, "behind its back", "Here")


async def test_a_profiles_table_not_made_by_cachetui_is_refused(postgres_url):
    psql(postgres_url, "CREATE TABLE profiles (id serial PRIMARY KEY, email text)")
    engine = Engine(EngineConfig(db_url=postgres_url))
    with pytest.raises(DatabaseUnavailable, match="not made by cachetui"):
        await engine.start()
    assert psql(
        postgres_url,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'dead_letters' "
        "AND schemaname = current_schema()",
    ) == [(0,)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://postgres@127.0.0.1:1/x", "connection refused"),
        ("postgresql://postgres@no-such-host.invalid/x", "unknown host"),
        ("postgresql://postgres@127.0.0.1:5432/cachetui_no_such_db", "createdb"),
        ("postgresql://postgres:s3cret@127.0.0.1:1/x", "connection refused"),
    ],
)
async def test_bad_urls_are_one_clear_line_without_the_password(url, message):
    engine = Engine(EngineConfig(db_url=url, db_timeout=2))
    with pytest.raises(DatabaseUnavailable) as error:
        await engine.start()
    text = str(error.value)
    assert message in text and "s3cret" not in text and "\n" not in text


def test_db_url_and_db_path_together_are_refused():
    with pytest.raises(ValidationError, match="not both"):
        EngineConfig(db_url="postgresql://h/db", db_path="profiles.db")
    with pytest.raises(ValidationError, match="unknown database URL"):
        EngineConfig(db_url="mysql://h/db")
    assert EngineConfig(db_url="sqlite:///tmp/x.db").db_path == "tmp/x.db"
    masked = EngineConfig(db_url="postgresql://u:pw@h/db").db_path
    assert "pw" not in masked and masked.startswith("postgresql://")


async def test_a_connection_lost_mid_run_is_ridden_out(postgres_url):
    """The server's connection drops as a batch's reply comes back: write-behind keeps
    the writes and lands them on a new connection; nothing is written twice."""
    parts = urlsplit(postgres_url)
    async with DelayRelay(parts.hostname or "127.0.0.1", parts.port or 5432) as relay:
        url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}"))
        engine = Engine(
            EngineConfig(db_url=url, policy="write-behind", flush_interval=3600, retry_base=0.01)
        )
        await engine.start()
        try:
            await engine.seed(5)
            written = [await engine.update(uid, {"bio": "across a reset"}) for uid in (1, 2)]
            relay.reset_next_reply()
            await engine.flush(timeout=5)
            assert [row(postgres_url, p.user_id) for p in written] == written
            assert engine.metrics.retries >= 1 and engine.dead_letters() == []
        finally:
            await engine.close()


async def test_a_nul_in_text_is_refused_before_it_is_queued(make_pg, postgres_url):
    engine = await make_pg("write-behind")
    with pytest.raises(ValidationError, match="NUL character"):
        await engine.update(1, {"name": "a\x00b"})
    await engine.update(2, {"name": "innocent"})
    await engine.flush()  # nothing blocks the queue
    assert engine.pending_writes() == []


async def test_other_programs_delete_and_insert_in_another_search_path(make_pg, postgres_url):
    """The triggers find their table in the schema they are on, whatever the other
    program's search_path."""
    engine = await make_pg("write-behind")
    schema = psql(postgres_url, "SELECT current_schema()")[0][0]
    plain = postgres_url.split("?")[0]  # the default search_path
    await engine.update(4, {"bio": "ours, landed"})
    await engine.flush()
    queued = await engine.update(4, {"bio": "ours, queued"})
    with psycopg.connect(plain, autocommit=True) as conn, conn.transaction():
        conn.execute(
            f'CREATE TEMP TABLE keep AS SELECT * FROM "{schema}".profiles '
            "WHERE user_id = 4".encode()
        )
        conn.execute(f'DELETE FROM "{schema}".profiles WHERE user_id = 4'.encode())
        conn.execute(f'INSERT INTO "{schema}".profiles SELECT * FROM keep'.encode())
    assert psql(postgres_url, "SELECT version, write_id FROM profiles WHERE user_id = 4") == [
        (3, None)
    ]
    await engine.flush()
    [letter] = engine.dead_letters()
    assert (letter.kind, letter.write_id) == ("conflict", queued.write_id)


async def test_a_copy_of_the_database_elsewhere_has_an_id_of_its_own(postgres_url):

    engine = Engine(EngineConfig(db_url=postgres_url))
    await engine.start()
    first = engine.db.database_id
    await engine.close()
    with private_schema(postgres_or_skip()) as other:  # the tables copied into another schema
        schema = psql(postgres_url, "SELECT current_schema()")[0][0]
        target = psql(other, "SELECT current_schema()")[0][0]
        psql(other, f'CREATE TABLE cachetui_meta AS SELECT * FROM "{schema}".cachetui_meta')
        psql(other, "ALTER TABLE cachetui_meta ADD PRIMARY KEY (key)")
        copy = Engine(EngineConfig(db_url=other))
        await copy.start()
        try:
            assert copy.db.database_id not in ("", first) and target != schema
        finally:
            await copy.close()
    again = Engine(EngineConfig(db_url=postgres_url))
    await again.start()
    assert again.db.database_id == first  # the original keeps its id
    await again.close()


def test_db_timeout_is_bounded():
    for bad in (float("inf"), 0.0, 1e-5, 3_000_000):
        with pytest.raises(ValidationError, match="db_timeout"):
            EngineConfig(db_url="postgresql://h/db", db_timeout=bad)


async def test_pgoptions_in_the_environment_choose_the_schema(postgres_url, monkeypatch):
    schema = psql(postgres_url, "SELECT current_schema()")[0][0]
    monkeypatch.setenv("PGOPTIONS", f"-csearch_path={schema}")
    async with Engine(EngineConfig(db_url=postgres_url.split("?")[0])) as engine:
        await engine.seed(3)
    assert psql(postgres_url, "SELECT count(*) FROM profiles") == [(3,)]  # in that schema
