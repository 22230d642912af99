"""What lets tests run in parallel without touching each other's data: a PostgreSQL
schema per test, Redis keys deleted per test, a temporary folder per test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import redis

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.stores.redis_codec import namespace_for
from tests.conftest import database_ids, delete_test_keys, postgres_or_skip, private_schema


def test_a_test_works_in_its_own_schema_of_the_test_database(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        schema, database = conn.execute("SELECT current_schema(), current_database()").fetchone()
        conn.execute("CREATE TABLE profiles (user_id bigint PRIMARY KEY)")
        conn.execute("INSERT INTO profiles VALUES (1)")
        conn.commit()
    assert schema.startswith("t_")
    assert database == "cachetui_test" or "CACHETUI_TEST_POSTGRES" in os.environ
    with private_schema(postgres_or_skip()) as other, psycopg.connect(other) as conn:
        # another test's schema does not see this one's table
        assert conn.execute("SELECT to_regclass('profiles')").fetchone() == (None,)


def test_a_private_schema_is_dropped_with_all_it_holds():
    base = postgres_or_skip()
    with private_schema(base) as url, psycopg.connect(url) as conn:
        (schema,) = conn.execute("SELECT current_schema()").fetchone()
        conn.execute("CREATE TABLE leftover (x int)")
        conn.commit()
    with psycopg.connect(base) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    assert found == (0,)


async def test_a_tests_redis_cleanup_deletes_its_keys_and_no_one_elses(redis_url, tmp_path):
    folders = ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in folders:
        folder.mkdir()
        config = EngineConfig(
            db_path=str(folder / "profiles.db"),
            cache_url=redis_url,
            policy="write-behind",
            queue_url=redis_url,
            flush_interval=3600,
        )
        engine = await Engine(config).start()
        await engine.seed(5)
        await engine.read(1)  # a cache entry under the database's namespace
        await engine.update(2, {"bio": "pending"})  # an entry in the database's stream
        engine.faults.db_down = True  # the write stays in the stream, for the next start
        await engine.close(discard=True)

    def keys_of(folder: Path) -> set[bytes]:
        (database_id,) = database_ids(folder)
        namespace = namespace_for(str(folder / "profiles.db"))
        with redis.Redis.from_url(redis_url) as client:
            return {
                key
                for pattern in (f"cachetui:{namespace}:*", f"cachetui:queue:{database_id}*")
                for key in client.scan_iter(match=pattern, count=1000)
            }

    theirs_before = keys_of(theirs)
    assert theirs_before
    assert {key.split(b":")[1] for key in keys_of(ours)} == {
        namespace_for(str(ours / "profiles.db")).encode(),
        b"queue",
    }
    delete_test_keys(redis_url, ours)
    assert keys_of(ours) == set()
    assert keys_of(theirs) == theirs_before
    delete_test_keys(redis_url, theirs)
    assert keys_of(theirs) == set()


def test_a_tests_temporary_folder_is_its_own(private_tmp):
    assert tempfile.gettempdir() == str(private_tmp)
    assert tempfile.mkdtemp(prefix="cachetui-compare-").startswith(str(private_tmp))
