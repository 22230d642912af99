"""The database file under the engine's feet: deleted or replaced while open, the writes
stay pending (never written into a file no one can read), and a rescue writes everything
into a new file. Dead letters the database could not save are never dropped by close()."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from cachetui.engine import DatabaseFileLost, PendingWritesError
from tests.conftest import db_version

pytestmark = pytest.mark.parametrize("cache_url", ["memory://"])


def on_disk(path: str) -> bool:
    return os.path.isfile(path)


async def test_a_deleted_file_keeps_writes_pending_until_rescued(make_engine, db_path):
    engine = await make_engine("write-behind")
    through = await make_engine("write-through", seed=0)  # a second engine on the file
    await engine.update(1, {"bio": "landed before"})
    await engine.flush()
    for user in (4, 5):
        await engine.update(user, {"bio": f"pending {user}"})
    os.unlink(db_path)  # `rm profiles.db` while the app runs

    assert "deleted" in engine.database_file_error
    with pytest.raises(PendingWritesError, match="deleted"):
        await engine.flush(timeout=0.2)
    assert [p.user_id for p in engine.pending_writes()] == [4, 5]
    assert not on_disk(db_path)  # nothing wrote a new empty file
    with pytest.raises(DatabaseFileLost):  # write-through fails its caller instead
        await through.update(2, {"bio": "x"})

    assert await engine.rescue_database() == db_path
    assert engine.database_file_error == ""
    assert engine.pending_writes() == []
    # a real file again, readable by any client: every row kept, the pending ones landed
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM profiles").fetchone() == (20,)
    assert [db_version(db_path, u) for u in (1, 4, 5, 6)] == [2, 2, 2, 1]


async def test_a_replaced_file_is_left_alone_and_the_rescue_goes_beside_it(
    make_engine, db_path, tmp_path
):
    engine = await make_engine("write-behind")
    await engine.update(4, {"bio": "pending"})
    other = tmp_path / "restored.db"
    shutil.copy(db_path, other)
    os.replace(other, db_path)  # `mv restored.db profiles.db`

    with pytest.raises(PendingWritesError, match="replaced by another file"):
        await engine.flush(timeout=0.2)
    rescued = await engine.rescue_database()
    assert rescued.startswith(db_path + ".rescued-") and on_disk(rescued)
    assert db_version(db_path, 4) == 1  # the file put in its place is untouched
    assert db_version(rescued, 4) == 2


async def test_close_never_drops_dead_letters_the_database_could_not_save(make_engine):
    engine = await make_engine("write-behind", max_attempts=1)
    await engine.reject_writes(13)
    await engine.update(13, {"bio": "parked"})
    await engine.flush()
    assert [d.version for d in engine.dead_letters()] == [2]
    engine.faults.db_down = True
    await engine.update(13, {"bio": "replaces the letter while the database is down"})

    with pytest.raises(PendingWritesError, match="dead letters not yet saved"):
        await engine.close(timeout=0.2)
    assert engine.running  # the caller may retry or discard
    assert await engine.close(timeout=0.2, discard=True) == [(13, 3)]
    assert engine.metrics.lost_writes == 1
