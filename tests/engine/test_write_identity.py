"""Write identity: every acknowledged write has a ``write_id`` (``instance:epoch:op``)
that names it in the row, the queue, the outbox, the stream and the dead letters; a
version number alone does not (it repeats after a crash, another program makes its own,
an overwrite lands under another). Writes by other programs are recognised by a
trigger: their rows have no write id and a version one up."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest
import redis

from cachetui.engine import Engine, EngineConfig
from tests.conftest import BOTH_DATABASES, db_row, db_script, db_sql, delete_test_keys
from tests.sql_dialect import on_server, trigger_names

pytestmark = BOTH_DATABASES

memory_store = pytest.mark.parametrize("cache_url", ["memory://"])
POLICIES = ["write-through", "write-around", "write-behind", "no-cache"]


def sql(path: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    return db_sql(path, statement, *params)


@pytest.mark.parametrize("policy", POLICIES)
async def test_each_acknowledged_write_has_its_own_id_in_results_and_in_the_row(
    make_engine, db_path, policy
):
    engine = await make_engine(policy)
    first = await engine.update(1, {"bio": "one"})
    second = await engine.update(1, {"bio": "two"})
    other = await engine.update(2, {"bio": "three"})
    ids = [first.write_id, second.write_id, other.write_id]
    assert all(isinstance(i, str) for i in ids) and len(set(ids)) == 3
    instance, epoch, _op = str(first.write_id).split(":")
    assert (instance, int(epoch)) == (engine.instance_id, engine.epoch)
    assert (await engine.read(1)).write_id == second.write_id  # reads carry it
    await engine.flush()
    assert sql(db_path, "SELECT write_id FROM profiles WHERE user_id = 1") == [(second.write_id,)]
    assert db_row(db_path, 1) == second  # the whole acknowledged write, id included


@memory_store
async def test_two_engines_and_a_restart_never_repeat_an_id(make_engine, db_path):
    one = await make_engine("write-through")
    two = await make_engine("write-through", seed=0)
    a = await one.update(1, {"bio": "a"})
    b = await two.update(1, {"bio": "b"})
    await one.close()
    again = await make_engine("write-through", seed=0)
    c = await again.update(1, {"bio": "c"})
    assert len({a.write_id, b.write_id, c.write_id}) == 3
    assert len({one.instance_id, two.instance_id, again.instance_id}) == 3


@memory_store
async def test_after_a_crash_the_same_version_is_another_write(make_engine, db_path):
    engine = await make_engine("write-behind")
    lost = await engine.update(3, {"bio": "lost in the crash"})
    await engine.crash()
    assert engine.epoch == 1
    again = await engine.update(3, {"bio": "after the crash"})
    assert again.version == lost.version == 2  # a version does not name a write…
    assert again.write_id != lost.write_id  # …its id does, and says the epoch
    assert str(again.write_id).split(":")[1] == "1"
    await engine.flush()
    assert db_row(db_path, 3) == again


@memory_store
async def test_another_programs_write_has_no_id_and_a_version_one_up(make_engine, db_path):
    engine = await make_engine("write-through")
    ours = await engine.update(4, {"bio": "ours"})
    # a program that knows nothing of versions or write ids
    sql(db_path, "UPDATE profiles SET location = 'Oslo' WHERE user_id = 4")
    assert sql(db_path, "SELECT version, write_id, location FROM profiles WHERE user_id = 4") == [
        (ours.version + 1, None, "Oslo")
    ]
    # one that raises the version itself: not raised twice
    sql(db_path, "UPDATE profiles SET bio = 'theirs', version = version + 1 WHERE user_id = 4")
    assert sql(db_path, "SELECT version, write_id FROM profiles WHERE user_id = 4") == [
        (ours.version + 2, None)
    ]
    # on a row nobody of ours wrote (seeded: no write id)
    sql(db_path, "UPDATE profiles SET bio = 'x' WHERE user_id = 5")
    assert sql(db_path, "SELECT version, write_id FROM profiles WHERE user_id = 5") == [(2, None)]
    # the lab's external writer is such a program
    external = await engine.external_update(6, {"bio": "external"})
    assert (external.version, external.write_id) == (2, None)
    assert db_row(db_path, 6) == external
    # and our next write builds on it as usual
    ours_again = await engine.update(4, {"bio": "ours again"})
    assert ours_again.version == ours.version + 3 and ours_again.write_id is not None


@memory_store
async def test_an_overwritten_conflict_lands_under_another_version_with_the_same_id(
    make_engine, db_path
):
    engine = await make_engine("write-behind", conflict="overwrite")
    acknowledged = await engine.update(7, {"bio": "acknowledged as v2"})
    sql(db_path, "UPDATE profiles SET location = 'Oslo' WHERE user_id = 7")  # now v2
    await engine.flush()
    landed = db_row(db_path, 7)
    assert landed is not None and landed.version == 3 != acknowledged.version
    assert landed.write_id == acknowledged.write_id and landed.bio == "acknowledged as v2"


@memory_store
async def test_queue_outbox_and_dead_letters_carry_the_write_id(make_engine, db_path):
    engine = await make_engine("write-behind", queue_url="sqlite://")
    pending = await engine.update(8, {"bio": "pending"})
    assert [p.profile.write_id for p in engine.pending_writes()] == [pending.write_id]
    assert sql(engine.queue_location, "SELECT write_id FROM outbox") == [(pending.write_id,)]
    await engine.reject_writes(8)
    await engine.flush()
    await engine.flush()
    await engine.flush()
    [letter] = engine.dead_letters()
    assert letter.write_id == pending.write_id
    assert sql(db_path, "SELECT write_id FROM dead_letters WHERE user_id = 8") == [
        (pending.write_id,)
    ]


async def test_a_stream_entry_and_a_redis_cache_entry_carry_the_write_id(
    make_engine, db_path, tmp_path, redis_url
):
    try:
        engine = await make_engine("write-behind", cache_url=redis_url, queue_url=redis_url)
        pending = await engine.update(9, {"bio": "in the stream"})
        key = f"cachetui:queue:{engine.db.database_id}"
        with redis.Redis.from_url(redis_url) as client:
            entries = client.xrange(key)
            cached = client.get(f"cachetui:{engine.store.namespace}:profile:9")  # type: ignore[attr-defined]
        assert [fields[b"w"].decode() for _, fields in entries] == [pending.write_id]
        assert cached is not None and json.loads(cached)["write_id"] == pending.write_id
        assert (await engine.read(9)).write_id == pending.write_id  # a hit from Redis
    finally:
        delete_test_keys(redis_url, tmp_path)


@memory_store
async def test_a_rewind_writes_rows_as_given_and_starts_a_new_epoch(make_engine, db_path):
    engine = await make_engine("write-through")
    before = await engine.external_update(10, {"bio": "another program's v2"})
    await engine.external_update(10, {"bio": "another program's v3"})
    await engine.update(11, {"bio": "ours, to be rewound"})
    rewound = [before, db_row(db_path, 11)._replace(version=1, write_id=None)]  # type: ignore[union-attr]
    await engine.restore_rows(rewound)
    # versions went down, write ids are as given: the trigger stood aside
    assert [db_row(db_path, 10), db_row(db_path, 11)] == rewound
    assert engine.epoch == 1
    after = await engine.update(10, {"bio": "after the rewind"})
    assert str(after.write_id).split(":")[1] == "1" and after.version == 3


async def test_a_database_of_the_previous_schema_is_migrated_in_place(tmp_path):
    path = str(tmp_path / "old.db")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            """
            CREATE TABLE profiles (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                bio TEXT NOT NULL, location TEXT NOT NULL, followers INTEGER NOT NULL,
                version INTEGER NOT NULL, updated_at TEXT NOT NULL);
            CREATE TABLE dead_letters (user_id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
                version INTEGER NOT NULL, base_version INTEGER NOT NULL, db_version INTEGER,
                profile TEXT NOT NULL, error TEXT NOT NULL, attempts INTEGER NOT NULL,
                first_failed_at TEXT NOT NULL, last_failed_at TEXT NOT NULL);
            INSERT INTO profiles VALUES (1, 'Ada', 'old', 'London', 5, 7, 't');
            PRAGMA user_version = 3;
            """
        )
    async with Engine(EngineConfig(db_path=path, policy="write-through")) as engine:
        kept = await engine.read(1)
        assert (kept.name, kept.version, kept.write_id) == ("Ada", 7, None)
        new = await engine.update(1, {"bio": "new"})
    assert sql(path, "PRAGMA user_version") == [(4,)]
    assert sql(path, "SELECT version, write_id FROM profiles") == [(8, new.write_id)]
    sql(path, "UPDATE profiles SET bio = 'by hand' WHERE user_id = 1")  # the trigger is there
    assert sql(path, "SELECT version, write_id FROM profiles") == [(9, None)]


KEEP_12 = "CREATE TEMP TABLE keep AS SELECT * FROM profiles WHERE user_id = 12"
KEEP_ALL = "CREATE TEMP TABLE keep AS SELECT * FROM profiles"
PUT_BACK_12 = (
    "INSERT INTO profiles SELECT user_id, name, bio, 'Foreignville', followers, version, "
    "updated_at, write_id FROM keep"
)
PUT_BACK_ALL = (
    "INSERT INTO profiles SELECT user_id, name, bio, "
    "CASE WHEN user_id = 12 THEN 'Foreignville' ELSE location END, followers, version, "
    "updated_at, write_id FROM keep"
)
#: Each way another program can rewrite user 12's row, in each database's words.
FOREIGN_WRITES = {
    "update keeping the write id": (
        ["UPDATE profiles SET location = 'Foreignville' WHERE user_id = 12"],
    )
    * 2,
    "update clearing the write id": (
        ["UPDATE profiles SET location = 'Foreignville', write_id = NULL WHERE user_id = 12"],
    )
    * 2,
    "insert or replace (an upsert)": (
        [
            "INSERT OR REPLACE INTO profiles SELECT user_id, name, bio, 'Foreignville', "
            "followers, version, updated_at, write_id FROM profiles WHERE user_id = 12"
        ],
        [
            "INSERT INTO profiles SELECT user_id, name, bio, 'Foreignville', followers, "
            "version, updated_at, write_id FROM profiles WHERE user_id = 12 "
            "ON CONFLICT (user_id) DO UPDATE SET location = excluded.location, "
            "version = excluded.version, write_id = excluded.write_id"
        ],
    ),
    "delete then insert": ([KEEP_12, "DELETE FROM profiles WHERE user_id = 12", PUT_BACK_12],) * 2,
    "delete everything then insert": (
        [KEEP_ALL, "DELETE FROM profiles", PUT_BACK_ALL],
        [KEEP_ALL, "TRUNCATE profiles", PUT_BACK_ALL],
    ),
}


@memory_store
@pytest.mark.parametrize("statements", FOREIGN_WRITES.values(), ids=FOREIGN_WRITES)
async def test_no_foreign_write_is_overwritten_unseen(make_engine, db_path, statements):
    on_sqlite, on_postgres = statements
    """However another program writes the row (even keeping its version and copying our
    write id), the write queued before it is a conflict, never landed over it."""
    engine = await make_engine("write-behind")
    ours = await engine.update(12, {"bio": "ours, landed"})
    await engine.flush()
    queued = await engine.update(12, {"bio": "ours, queued"})
    db_script(db_path, on_postgres if on_server(db_path) else on_sqlite)
    foreign = db_row(db_path, 12)
    assert foreign is not None and foreign.location == "Foreignville"
    assert (foreign.write_id, foreign.version) == (None, ours.version + 1)
    await engine.flush()
    assert db_row(db_path, 12) == foreign  # not overwritten
    [letter] = engine.dead_letters()
    assert (letter.kind, letter.write_id) == ("conflict", queued.write_id)


@memory_store
async def test_a_rewind_past_a_lab_rejection_keeps_every_trigger(make_engine, db_path):
    engine = await make_engine("write-through")
    before = db_row(db_path, 13)
    await engine.update(13, {"bio": "to be rewound"})
    await engine.reject_writes(13)
    await engine.restore_rows([before])  # the lab's fault does not stop a rewind
    assert db_row(db_path, 13) == before
    assert {"cachetui_foreign_write", "cachetui_lab_reject_13"} <= trigger_names(db_path)
    sql(db_path, "UPDATE profiles SET location = 'Oslo2' WHERE user_id = 14")
    assert sql(db_path, "SELECT version, write_id FROM profiles WHERE user_id = 14") == [(2, None)]


async def test_two_engines_opening_an_old_file_at_once_migrate_it_once(tmp_path):
    import asyncio

    for round_ in range(5):
        path = str(tmp_path / f"old{round_}.db")
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.executescript(
                "CREATE TABLE profiles (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "bio TEXT NOT NULL, location TEXT NOT NULL, followers INTEGER NOT NULL, "
                "version INTEGER NOT NULL, updated_at TEXT NOT NULL); PRAGMA user_version = 3;"
            )
        engines = [Engine(EngineConfig(db_path=path)) for _ in range(2)]
        await asyncio.gather(*(e.start() for e in engines))
        await asyncio.gather(*(e.close() for e in engines))


@memory_store
async def test_a_seed_after_every_row_was_deleted_lifts_each_row_above_its_old_version(
    make_engine, db_path
):
    """Another program empties the table and the lab seeds it again: a reseeded row is
    above the version it had, so nothing cached or queued from before looks newer (a
    large seed skips that lookup only where no row was ever deleted)."""
    engine = await make_engine("write-through")
    for _ in range(3):
        await engine.update(7, {"bio": "before the table was emptied"})
    old = db_row(db_path, 7)
    assert old is not None and old.version == 4
    db_script(db_path, ["DELETE FROM profiles"])
    assert await engine.seed(20) == 20
    again = db_row(db_path, 7)
    assert again is not None and again.version == old.version + 1
    assert again.write_id is None
    untouched = db_row(db_path, 8)
    assert untouched is not None and untouched.version == 2  # its old version was 1
