"""Rows the database rejects and writes built on a version that is gone: parked as dead
letters (never lost, never applied silently), every other row landing beside them."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import EventKind, WriteRejected
from tests.conftest import BOTH_DATABASES, db_row, db_sql, db_version
from tests.sql_dialect import NO_SUCH_COLUMN, create_reject_trigger, drop_trigger, trigger_names

pytestmark = BOTH_DATABASES


def reject_13(path: str) -> None:
    """Another program's trigger that refuses every update of user 13."""
    create_reject_trigger(path, "reject_13", 13, "user 13 rejected")


# Other members of the kind: a constraint that one row breaks (SQLITE_CONSTRAINT).
UNIQUE_NAMES = "CREATE UNIQUE INDEX one_name ON profiles (name)"


async def test_a_poison_row_is_parked_and_the_other_19_land(make_engine, db_path):
    engine = await make_engine("write-behind")
    reject_13(db_path)
    for user in range(1, 21):
        await engine.update(user, {"bio": f"bio {user}"})
    await engine.flush()  # returns: the rejected row is parked, not raised
    assert [db_version(db_path, u) for u in range(1, 21) if u != 13] == [2] * 19
    assert db_version(db_path, 13) == 1
    [letter] = engine.dead_letters()
    assert (letter.user_id, letter.kind, letter.version, letter.base_version) == (
        13,
        "rejected",
        2,
        1,
    )
    assert letter.attempts == engine.config.max_attempts == 3
    assert "user 13 rejected" in letter.error
    assert engine.metrics.dead_letters == 1 and engine.metrics.pending == 0
    # parked in the same database, readable by any client
    assert db_sql(db_path, "SELECT user_id, kind, version, attempts FROM dead_letters") == [
        (13, "rejected", 2, 3)
    ]
    assert any(e.kind is EventKind.DEAD_LETTER and e.user_id == 13 for e in engine.recent_events())
    # reads serve the parked value; updates build on it and replace it
    assert (await engine.read(13)).bio == "bio 13"
    await engine.store.clear()
    assert (await engine.read(13)).version == 2  # from the dead letter
    third = await engine.update(13, {"name": "Thirteen"})
    assert third.version == 3 and third.bio == "bio 13"
    await engine.flush()
    assert db_version(db_path, 13) == 1 and engine.dead_letters()[0].version == 3
    # once the database accepts it, a retry lands it with its original base
    drop_trigger(db_path, "reject_13")
    assert await engine.retry_dead_letters() == [13]
    await engine.flush()
    assert db_version(db_path, 13) == 3 and engine.dead_letters() == []
    assert db_sql(db_path, "SELECT count(*) FROM dead_letters") == [(0,)]


async def test_a_flush_that_only_tried_a_rejected_row_counts_no_transaction(make_engine, db_path):
    """Trial finding: the strip said "DB writes 0 in 3 tx" after the only row tried was
    refused three times; a transaction that wrote nothing is not a write transaction."""
    engine = await make_engine("write-behind")
    reject_13(db_path)
    await engine.update(13, {"bio": "refused"})
    for _ in range(engine.config.max_attempts):
        await engine.flush()
    assert [d.user_id for d in engine.dead_letters()] == [13]
    assert (engine.metrics.db_writes, engine.metrics.db_transactions) == (0, 0)
    await engine.update(14, {"bio": "fine"})
    await engine.flush()
    assert (engine.metrics.db_writes, engine.metrics.db_transactions) == (1, 1)
    # the history numbers transactions the same way: the first that wrote is tx 1
    landings = [r for r in engine.history.records() if r["type"] == "landing"]
    assert [(r["user"], r["tx"]) for r in landings] == [(14, 1)]


async def test_a_constraint_one_row_breaks_parks_that_row_only(make_engine, db_path):
    engine = await make_engine("write-behind", max_attempts=2)
    db_sql(db_path, UNIQUE_NAMES)
    for user in (1, 2, 3):
        await engine.update(user, {"name": "Same" if user < 3 else "Other"})
    await engine.close()  # close returns: nothing pending, one row parked
    assert db_row(db_path, 1).name == "Same" and db_row(db_path, 3).name == "Other"
    assert db_version(db_path, 2) == 1
    assert db_sql(db_path, "SELECT user_id, kind, attempts FROM dead_letters") == [
        (2, "rejected", 2)
    ]


async def test_dead_letters_survive_a_restart_and_can_be_discarded(make_engine, db_path):
    engine = await make_engine("write-behind")
    reject_13(db_path)
    await engine.update(13, {"bio": "parked"})
    await engine.close()
    again = await make_engine("write-behind", seed=0)
    [letter] = again.dead_letters()
    assert letter.user_id == 13 and letter.profile.bio == "parked"
    discarded = await again.discard_dead_letter(13)
    assert discarded.version == 2 and again.dead_letters() == []
    assert (await again.read(13)).version == 1  # the cache entry went with it
    assert db_sql(db_path, "SELECT count(*) FROM dead_letters") == [(0,)]


async def test_a_full_queue_does_not_block_behind_a_poison_row(make_engine, db_path):
    engine = await make_engine("write-behind", max_pending=2)
    reject_13(db_path)
    await engine.update(13, {"bio": "x"})
    for user in range(1, 8):  # each new user waits for room: the flusher makes it
        await asyncio.wait_for(engine.update(user, {"bio": "y"}), 10)
    await engine.flush()
    assert [db_version(db_path, u) for u in range(1, 8)] == [2] * 7
    assert [d.user_id for d in engine.dead_letters()] == [13]


@pytest.mark.parametrize("policy", ["write-through", "write-around"])
async def test_a_group_commit_fails_only_the_rejected_caller(make_engine, db_path, policy):
    engine = await make_engine(policy)
    reject_13(db_path)
    results = await asyncio.gather(
        *(engine.update(u, {"bio": "group"}) for u in range(1, 21)), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], WriteRejected)
    assert (failed[0].user_id, failed[0].version) == (13, 2)
    assert "user 13 rejected" in failed[0].reason
    assert [db_version(db_path, u) for u in range(1, 21) if u != 13] == [2] * 19
    assert (await engine.read(13)).version == 1  # the cache holds nothing unwritten


async def test_a_schema_error_keeps_the_writes_pending(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "kept"})
    db_sql(db_path, "ALTER TABLE profiles RENAME COLUMN bio TO biography")
    with pytest.raises(Exception, match=NO_SUCH_COLUMN):
        await engine.flush(timeout=0.1)
    assert [p.user_id for p in engine.pending_writes()] == [1]
    assert engine.dead_letters() == []
    assert await engine.close(timeout=0.1, discard=True) == [(1, 2)]


async def test_the_lab_trigger_stages_a_poison_row_and_is_always_removed(make_engine, db_path):
    engine = await make_engine("write-behind")
    reject_13(db_path)  # somebody else's trigger: never touched
    await engine.reject_writes(7)
    assert {n for n in trigger_names(db_path) if n.startswith("cachetui_lab")} == {
        "cachetui_lab_reject_7"
    }
    await engine.update(7, {"bio": "poison"})
    await engine.update(8, {"bio": "fine"})
    await engine.flush()
    assert [d.user_id for d in engine.dead_letters()] == [7] and db_version(db_path, 8) == 2
    await engine.close()  # the lab trigger goes with the engine
    names = trigger_names(db_path)
    assert {n for n in names if not n.startswith("cachetui_foreign_")} == {"reject_13"}


async def test_a_lab_trigger_left_by_a_killed_process_is_removed_at_start(make_engine, db_path):
    first = await make_engine("write-through")
    await first.close()
    # what a killed process would have left behind
    create_reject_trigger(db_path, "cachetui_lab_reject_5", 5, "left over")
    again = await make_engine("write-through", seed=0)
    assert {n for n in trigger_names(db_path) if n.startswith("cachetui_lab")} == set()
    assert any("cachetui_lab_reject_5" in e.detail for e in again.recent_events())
    assert (await again.update(5, {"bio": "accepted"})).version == 2
