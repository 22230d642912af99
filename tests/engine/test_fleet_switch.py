"""Switching the queue live (``Engine.set_queue``, the app's ``D``) into and out of the
fleet queue (a ``redis://`` queue): joining makes the instance a member that takes
partitions; leaving lands what it holds first, and leaves what other live members hold
to them; nothing acknowledged vanishes. A live instance of another queue kind on the
database refuses the switch, as it refuses a start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cachetui.engine import Engine, ValidationError
from tests.conftest import db_row, db_version, delete_test_keys

pytestmark = pytest.mark.parametrize("cache_url", ["memory://"])


@pytest.fixture
def fleet_url(redis_url: str, tmp_path: Path) -> Iterator[str]:
    yield redis_url
    delete_test_keys(redis_url, tmp_path)


def members(url: str, engine: Engine) -> set[str]:
    with redis.Redis.from_url(url) as client:
        found = client.hkeys(f"cachetui:queue:{engine.db.database_id}:fleet:members")
    return {m.decode() for m in found}


async def split_between(*engines: Engine) -> None:
    """Wait until every partition is held, each engine holding some."""
    async with asyncio.timeout(20):
        while True:
            status = await engines[0].fleet_status()
            assert status is not None
            holders = {owner for owner, _ in status.holders.values()}
            if len(status.holders) == status.partitions and len(holders) == len(engines):
                return
            await asyncio.sleep(0.05)


async def test_switching_to_redis_joins_the_fleet_and_away_lands_what_it_held(
    make_engine, db_path, fleet_url
):
    engine = await make_engine("write-behind")
    in_memory = await engine.update(1, {"bio": "in memory"})
    await engine.set_queue(fleet_url)
    assert db_version(db_path, 1) == in_memory.version  # the memory queue drained first
    assert engine.queue_location.startswith("fleet queue cachetui:queue:")
    await split_between(engine)  # alone: it takes every partition
    status = await engine.fleet_status()
    assert status is not None and members(fleet_url, engine) == {status.me}
    in_fleet = await engine.update(2, {"bio": "in the fleet"})
    [pending] = await engine.fleet_pending()
    assert (pending.user_id, pending.version, pending.acknowledged_by) == (2, 2, status.me)

    await engine.set_queue("memory://")
    assert db_row(db_path, 2) == in_fleet  # landed before it left
    assert members(fleet_url, engine) == set() and await engine.fleet_status() is None
    assert engine.queue_location == "memory"
    later = await engine.update(2, {"bio": "in memory again"})
    assert later.version == 3 and db_version(db_path, 2) == 2


async def test_leaving_the_fleet_leaves_what_other_members_hold_to_them(
    make_engine, db_path, fleet_url
):
    a = await make_engine("write-behind", queue_url=fleet_url)
    b = await make_engine("write-behind", queue_url=fleet_url, seed=0)
    await split_between(a, b)
    acknowledged = [await a.update(user, {"bio": f"by a, {user}"}) for user in range(1, 17)]

    await a.set_queue("memory://")  # lands its partitions; b's stay in Redis, for b
    status = await b.fleet_status()
    assert status is not None and members(fleet_url, b) == {status.me}
    pending = await b.fleet_pending()
    assert pending and {e.holder for e in pending} == {status.me}
    await b.flush()
    assert [db_row(db_path, p.user_id) for p in acknowledged] == acknowledged
    assert await b.fleet_pending() == []


async def test_a_live_instance_of_another_kind_refuses_the_switch_in_one_line(
    make_engine, db_path, fleet_url
):
    engine = await make_engine("write-behind", queue_url=fleet_url)
    other = {"name": "far", "host": "another-host", "owner": "1:1:1", "policy": "write-behind"}
    other |= {"queue": "fleet", "conflict": "reject", "claim_after": 3600.0}
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO cachetui_meta (key, value) VALUES ('instance:far', json_set(?, "
            "'$.heartbeat', (julianday('now') - 2440587.5) * 86400.0))",
            (json.dumps(other),),
        )
    with pytest.raises(ValidationError) as refused:
        await engine.set_queue("memory://")
    line = str(refused.value)
    assert "instance far (write-behind) is running on this database" in line
    assert "its queue is a fleet queue (redis), this one's a memory queue" in line
    assert engine.queue_location.startswith("fleet queue ")  # nothing changed
    status = await engine.fleet_status()
    assert status is not None and members(fleet_url, engine) == {status.me}
