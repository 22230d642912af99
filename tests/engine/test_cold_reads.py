"""Reads of users the cache does not hold (a read miss, a write-behind update of an
uncached user): the newest committed row, read beside other writers, faults applied."""

from __future__ import annotations

import pytest

from cachetui.engine import DatabaseUnavailable
from tests.conftest import BOTH_DATABASES, db_sql
from tests.sql_dialect import writer_holding

pytestmark = BOTH_DATABASES


@pytest.fixture
def cache_url() -> str:
    return "memory://"  # the path under test is the database's


def commit_elsewhere(db_path: str, user_id: int, version: int) -> None:
    """Another client changes the row and commits."""
    db_sql(
        db_path,
        "UPDATE profiles SET version = ?, bio = 'elsewhere' WHERE user_id = ?",
        version,
        user_id,
    )


async def test_each_miss_reads_the_newest_committed_row(make_engine, db_path):
    engine = await make_engine("write-through")
    assert (await engine.read(1)).version == 1
    for version in (5, 6):
        commit_elsewhere(db_path, 1, version)
        await engine.invalidate(1)
        assert (await engine.read(1)).version == version  # never an older snapshot
    assert engine.metrics.db_reads == 3


async def test_a_write_behind_update_of_an_uncached_user_builds_on_the_row(make_engine, db_path):
    engine = await make_engine("write-behind")
    commit_elsewhere(db_path, 4, 7)
    acknowledged = await engine.update(4, {"followers": 1})
    assert (acknowledged.version, acknowledged.bio) == (8, "elsewhere")


async def test_a_writer_holding_its_transaction_does_not_block_reads(make_engine, db_path):
    engine = await make_engine("write-through")
    with writer_holding(db_path, "UPDATE profiles SET version = 9 WHERE user_id = 2"):
        assert (await engine.read(2)).version == 1  # what is committed, at once
    await engine.invalidate(2)
    assert (await engine.read(2)).version == 9


@pytest.mark.parametrize(
    ("fault", "value", "message"),
    [
        ("db_down", True, "database is down (injected outage)"),
        ("db_error_rate", 1.0, "database error (injected, error rate 100%)"),
    ],
)
async def test_injected_faults_apply_to_cold_reads(make_engine, fault, value, message):
    engine = await make_engine("write-behind")
    setattr(engine.faults, fault, value)
    with pytest.raises(DatabaseUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        await engine.read(3)
    with pytest.raises(DatabaseUnavailable, match="neither cached nor pending"):
        await engine.update(3, {"bio": "needs the row"})
    setattr(engine.faults, fault, False if fault == "db_down" else 0.0)
    assert (await engine.read(3)).version == 1
