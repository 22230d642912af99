"""Values outside what the database can store never poison what is around them: the API
refuses them before anything is queued; a row that reaches the database anyway (an old
durable queue) fails alone and is parked with its cause; and no failure inside flush or
close leaves the engine unable to take the next call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3

import pytest
import redis

from cachetui.engine import (
    CacheTuiError,
    PendingWritesError,
    Profile,
    ValidationError,
)
from cachetui.engine.database.base import RowRejected
from cachetui.engine.database.sqlite import SQLiteDatabase
from tests.conftest import db_row, db_version, delete_test_keys, redis_or_skip

TOO_BIG = 2**63  # one more than SQLite's largest INTEGER
LONE_SURROGATE = "caf\udce9"  # what a badly decoded byte leaves: not UTF-8 text


@pytest.mark.parametrize("policy", ["write-behind", "write-through"])
async def test_followers_beyond_the_database_are_refused_and_the_others_land(
    make_engine, db_path, policy
):
    engine = await make_engine(policy)
    for user in range(2, 11):
        await engine.update(user, {"bio": "innocent"})
    with pytest.raises(ValidationError, match="followers must be <= 9,223,372,036,854,775,807"):
        await engine.update(1, {"followers": TOO_BIG})
    assert 1 not in {p.user_id for p in engine.pending_writes()}
    await engine.flush()
    assert [db_version(db_path, user) for user in range(1, 11)] == [1] + [2] * 9
    assert (await engine.update(1, {"followers": TOO_BIG - 1})).followers == TOO_BIG - 1
    await engine.close()
    assert db_row(db_path, 1).followers == TOO_BIG - 1


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("read", (TOO_BIG,)),
        ("update", (TOO_BIG, {"bio": "x"})),
        ("invalidate", (TOO_BIG,)),
        ("external_update", (TOO_BIG, {"bio": "x"})),
        ("retry_dead_letters", (TOO_BIG,)),
    ],
)
async def test_user_ids_beyond_the_database_are_a_validation_error(make_engine, call, args):
    engine = await make_engine("write-behind")
    with pytest.raises(ValidationError, match="user id must be <= 9,223,372,036,854,775,807"):
        await getattr(engine, call)(*args)
    assert engine.pending_writes() == []
    assert (await engine.read(1)).version == 1  # and the engine goes on


@pytest.mark.parametrize("field", ["name", "bio", "location"])
async def test_text_that_is_not_storable_unicode_is_refused(make_engine, field):
    engine = await make_engine("write-behind")
    with pytest.raises(ValidationError, match=f"{field} must be text a database can store"):
        await engine.update(1, {field: LONE_SURROGATE})
    with pytest.raises(ValidationError, match="lone surrogate"):
        await engine.external_update(1, {field: LONE_SURROGATE})
    assert engine.pending_writes() == []
    assert (await engine.update(1, {field: "café"})).version == 2  # real accents are fine


async def test_a_row_that_cannot_be_bound_fails_alone_in_its_transaction(db_path):
    database = SQLiteDatabase(db_path)
    await database.open()
    try:
        await database.seed(3, "2026-01-01T00:00:00.000Z")
        rows = await database.fetch_many([1, 2, 3])
        bad = rows[2]._replace(followers=TOO_BIG, version=2)
        good = [rows[u]._replace(bio="lands", version=2) for u in (1, 3)]
        failures = await database.write([(good[0], 1), (bad, 1), (good[1], 1)])
    finally:
        await database.close()
    assert list(failures) == [2]
    assert isinstance(failures[2], RowRejected) and "OverflowError" in failures[2].reason
    assert (db_row(db_path, 1).bio, db_row(db_path, 3).bio) == ("lands", "lands")
    assert db_version(db_path, 2) == 1


def queue_entry(queue: str, db_path: str, database_id: str, profile: Profile) -> None:
    """Put ``profile`` in the durable queue as an engine that died (kill -9) left it."""
    text = json.dumps(profile.as_dict())
    if queue == "sqlite://":
        with contextlib.closing(sqlite3.connect(db_path + ".outbox")) as db, db:
            db.execute(
                "INSERT INTO outbox (owner, user_id, version, base_version, profile, queued_at)"
                " VALUES ('999999999:1:1', ?, ?, ?, ?, '2026-01-01T00:00:00Z')",
                (profile.user_id, profile.version, profile.version - 1, text),
            )
        return
    with redis.Redis.from_url(queue) as client:
        client.xadd(
            f"cachetui:queue:{database_id}",
            {"u": profile.user_id, "v": profile.version, "b": profile.version - 1}
            | {"o": "elsewhere/1:1:1", "p": text},
        )


@pytest.fixture(params=["sqlite", "redis"])
def durable_queue(request: pytest.FixtureRequest, tmp_path):
    if request.param == "sqlite":
        yield "sqlite://"
        return
    url = redis_or_skip()
    yield url
    delete_test_keys(url, tmp_path)


@pytest.mark.parametrize("cache_url", ["memory://"])
async def test_a_durable_queue_holding_an_unstorable_write_parks_it_and_starts(
    make_engine, db_path, durable_queue
):
    first = await make_engine("write-behind", queue_url=durable_queue, max_attempts=2)
    database_id = first.db.database_id
    await first.close()
    row = Profile(3, "Ada", "bio", "Oslo", TOO_BIG, 2, "2026-01-01T00:00:00.000Z")
    queue_entry(durable_queue, db_path, database_id, row)  # written before the API refused it
    queue_entry(durable_queue, db_path, database_id, row._replace(user_id=4, followers=4))

    engine = await make_engine("write-behind", queue_url=durable_queue, max_attempts=2, seed=0)
    assert engine.recovered == 2
    await engine.flush()
    assert db_row(db_path, 4).followers == 4  # the good write beside it landed
    (letter,) = engine.dead_letters()
    assert (letter.user_id, letter.kind, letter.version) == (3, "rejected", 2)
    assert "OverflowError" in letter.error
    await engine.update(5, {"bio": "and the engine goes on"})
    await engine.close()
    again = await make_engine("write-behind", queue_url=durable_queue, seed=0)
    assert again.recovered == 0  # parked, not replayed at every start
    assert [d.user_id for d in again.dead_letters()] == [3]


async def test_an_unexpected_failure_in_flush_is_a_cachetui_error_and_nothing_hangs(
    make_engine, db_path
):
    engine = await make_engine("write-behind", flush_timeout=0.2)
    await engine.update(1, {"bio": "kept"})
    real_write = engine.db.write

    async def broken_write(rows, **options):
        raise RuntimeError("a bug in a backend")

    engine.db.write = broken_write  # type: ignore[method-assign]
    with pytest.raises(PendingWritesError, match="RuntimeError: a bug in a backend") as error:
        await engine.flush()
    assert isinstance(error.value, CacheTuiError)
    with pytest.raises(PendingWritesError):
        await engine.close()
    async with asyncio.timeout(10):  # it used to wait for ever at the gate close() shut
        assert (await engine.update(2, {"bio": "taken after a failed close"})).version == 2
    engine.db.write = real_write  # type: ignore[method-assign]
    await engine.close()
    assert (db_version(db_path, 1), db_version(db_path, 2)) == (2, 2)


async def test_the_panes_views_of_an_id_no_user_can_have_are_empty(make_engine):
    engine = await make_engine("write-behind")
    await engine.read(1)  # cached
    assert set(await engine.db_rows([TOO_BIG, 1, 0, -5])) == {1}
    assert set(await engine.cache_peek([TOO_BIG, 1, True])) == {1}


def test_a_port_of_digits_int_refuses_is_a_validation_error():
    from cachetui.engine.stores.redis_url import parse_redis_url

    with pytest.raises(ValidationError, match="the port must be a number from 1 to 65535"):
        parse_redis_url("redis://127.0.0.1:²/0")


@pytest.mark.parametrize("cache_url", ["redis"], indirect=True)
async def test_a_key_set_by_hand_with_a_digit_int_refuses_is_skipped(make_engine, cache_url):
    engine = await make_engine("write-behind")
    await engine.read(1)
    with redis.Redis.from_url(cache_url) as client:
        client.set(f"cachetui:{engine.store.namespace}:profile:²", "{}")
    assert [e.profile.user_id for e in await engine.cache_entries()] == [1]


async def test_a_seed_count_past_the_bound_is_refused_before_any_row(make_engine, db_path):
    engine = await make_engine("write-through", seed=0)
    with pytest.raises(ValidationError, match="profile count must be at most 10,000,000"):
        await engine.seed(10**23)
    assert await engine.db_count() == 0
