"""Another writer: a row's version never goes down, and a write built on a version that
is gone is never applied silently."""

from __future__ import annotations

import pytest

from cachetui.engine import EventKind, WriteConflict
from cachetui.engine.core import EngineCore
from tests.conftest import BOTH_DATABASES, db_row, db_version

pytestmark = BOTH_DATABASES


async def test_write_behind_conflict_is_parked_not_applied(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "mine"})  # v2 pending, built on v1
    await engine.external_update(1, {"location": "theirs"})
    await engine.external_update(1, {"followers": 7})  # the database holds v3
    await engine.flush()
    row = db_row(db_path, 1)
    assert (row.version, row.location, row.followers) == (3, "theirs", 7)  # not overwritten
    [letter] = engine.dead_letters()
    assert (letter.kind, letter.version, letter.base_version, letter.db_version) == (
        "conflict",
        2,
        1,
        3,
    )
    assert letter.profile.bio == "mine"
    assert engine.metrics.conflicts == 1
    assert any(e.kind is EventKind.CONFLICT and e.user_id == 1 for e in engine.recent_events())
    assert (await engine.read(1)).version == 3  # reads see the database


async def test_overwrite_replaces_the_row_with_a_higher_version(make_engine, db_path):
    engine = await make_engine("write-behind", conflict="overwrite")
    await engine.update(1, {"bio": "mine"})
    await engine.external_update(1, {"location": "theirs"})
    await engine.external_update(1, {"followers": 7})
    await engine.flush()
    row = db_row(db_path, 1)
    assert (row.version, row.bio) == (4, "mine")  # the database's + 1
    assert engine.dead_letters() == []
    conflict = [e for e in engine.recent_events() if e.kind is EventKind.CONFLICT]
    assert "overwriting v3" in conflict[0].detail
    assert (await engine.read(1)).version == 4  # the cache holds the rebased row


@pytest.mark.parametrize("policy", ["write-through", "write-around"])
async def test_a_direct_write_on_a_stale_read_reapplies_the_changes(make_engine, db_path, policy):
    engine = await make_engine(policy)
    await engine.read(1)  # cached v1
    await engine.external_update(1, {"location": "theirs"})  # database v2
    got = await engine.update(1, {"bio": "mine"})
    row = db_row(db_path, 1)
    assert got == row and (row.version, row.location, row.bio) == (3, "theirs", "mine")


async def test_a_second_conflict_raises_and_writes_nothing(make_engine, db_path, monkeypatch):
    engine = await make_engine("write-through")
    await engine.read(1)
    await engine.external_update(1, {"location": "theirs"})
    core: EngineCore = engine._core
    real_read = core.read_db

    async def read_then_another_writer(op, user_id):  # the other writer strikes again
        profile = await real_read(op, user_id)
        await engine.external_update(user_id, {"followers": 99})
        return profile

    monkeypatch.setattr(core, "read_db", read_then_another_writer)
    with pytest.raises(WriteConflict) as caught:
        await engine.update(1, {"bio": "mine"})
    assert (caught.value.user_id, caught.value.db_version) == (1, 3)
    assert db_row(db_path, 1).bio != "mine" and db_version(db_path, 1) == 3


async def test_two_engines_on_one_file_never_lower_a_version(make_engine, db_path):
    first = await make_engine("write-behind")
    second = await make_engine("write-behind", seed=0)
    await first.update(1, {"bio": "first"})  # v2, pending in the first engine
    await second.update(1, {"bio": "second"})  # v2 too, built on v1
    await second.flush()
    await second.update(1, {"bio": "second again"})  # v3, built on v2
    await second.flush()
    await first.flush()  # built on v1: a conflict, parked
    # (over one shared Redis the second engine may build on the first's cached v2, a
    # version the database never had: that write conflicts and is parked too)
    assert db_row(db_path, 1).bio == "second again"
    assert [d.kind for d in first.dead_letters()] == ["conflict"]
    assert db_version(db_path, 1) == 3 - len(second.dead_letters())
