"""An update cancelled or interrupted by a crash at any await of its path leaves no trace
of a write that was never acknowledged: not in the cache, not in the write queue, not in
the crash report. Under write-through and write-around a commit cannot be undone, but
the cache never holds a value older than the row.

Each case pauses one real call (the store's or the database's, over a real Redis or the
in-process store and a real SQLite file) with a wrapper that waits on an Event, before
the call or after it returned, then cancels the caller or crashes the engine there.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from cachetui.engine import Engine, Interrupted
from tests.conftest import TEST_REDIS_URL, db_version, redis_or_skip

pytestmark = pytest.mark.parametrize("cache_url", ["memory://"])  # each case names its store
USER = 7
#: The awaits of each policy's update path (the in-process store never awaits).
POINTS = {
    "write-behind": ["store.get", "db.fetch_many", "store.set"],
    "write-through": ["store.get", "db.fetch_many", "db.write", "store.set"],
    "write-around": ["store.get", "db.fetch_many", "db.write", "store.delete"],
}
CASES = [
    pytest.param(store, policy, warm, point, id=f"{store}-{policy}-{warm}-{point}")
    for store in ("memory", "redis")
    for warm in ("cold", "cached")
    for policy, points in POINTS.items()
    for point in points
    if (store == "redis" or not point.startswith("store."))
    and not (warm == "cached" and point == "db.fetch_many")
]


class Pause:
    """Wrap one method of a real object: its first call stops at an await, before the
    real call (``after=False``) or once it has returned (``after=True``)."""

    def __init__(self, owner: object, name: str, *, after: bool) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        real: Callable[..., Awaitable[Any]] = getattr(owner, name)
        self._armed = True

        @functools.wraps(real)
        async def paused(*args: Any, **kwargs: Any) -> Any:
            if not self._armed:
                return await real(*args, **kwargs)
            self._armed = False
            if after:
                result = await real(*args, **kwargs)
                self.reached.set()
                await self.release.wait()
                return result
            self.reached.set()
            await self.release.wait()
            return await real(*args, **kwargs)

        setattr(owner, name, paused)


async def run_until(
    engine: Engine, point: str, *, warm: str, after: bool
) -> tuple[asyncio.Task[Any], Pause]:
    if warm == "cached":
        await engine.read(USER)  # the cache holds v1
    owner_name, method = point.split(".")
    owner = engine.store if owner_name == "store" else engine.db
    if point == "db.fetch_many":
        # a cold read runs on the loop's thread when it can, with no await; this is the
        # awaited path it takes otherwise (a fault injected, SQLite busy)
        engine.db.read_on_thread = False
    pause = Pause(owner, method, after=after)
    task = asyncio.create_task(engine.update(USER, {"bio": "never acknowledged"}))
    async with asyncio.timeout(5):
        await pause.reached.wait()
    return task, pause


async def assert_no_trace(engine: Engine, db_path: str) -> None:
    assert USER not in {p.user_id for p in engine.pending_writes()}
    in_db = db_version(db_path, USER)
    cached = (await engine.cache_peek([USER])).get(USER)
    if engine.policy == "write-behind":
        assert in_db == 1
    # never an unacknowledged value, never one older than the row
    assert cached is None or cached.version == in_db, f"cached {cached} beside v{in_db}"
    assert (await engine.read(USER)).version == in_db
    # the user's lock was released: the next update goes through
    assert (await engine.update(USER, {"bio": "next"})).version == in_db + 1


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize(("store", "policy", "warm", "point"), CASES)
async def test_a_cancelled_update_leaves_no_trace(
    make_engine, db_path, store, policy, warm, point, after
):
    url = "memory://" if store == "memory" else redis_or_skip(TEST_REDIS_URL)
    engine = await make_engine(policy, cache_url=url)
    task, pause = await run_until(engine, point, warm=warm, after=after)
    task.cancel()
    pause.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_trace(engine, db_path)


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize(("store", "policy", "warm", "point"), CASES)
async def test_a_crash_mid_update_reports_only_acknowledged_writes(
    make_engine, db_path, store, policy, warm, point, after
):
    url = "memory://" if store == "memory" else redis_or_skip(TEST_REDIS_URL)
    engine = await make_engine(policy, cache_url=url)
    await engine.update(3, {"bio": "acknowledged"})  # lost by the crash under write-behind
    task, pause = await run_until(engine, point, warm=warm, after=after)
    lost = await engine.crash()
    pause.release.set()
    with pytest.raises(Interrupted):
        await task
    assert lost == ([(3, 2)] if policy == "write-behind" else [])
    await assert_no_trace(engine, db_path)


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_cancelled_update_of_a_dead_letter_leaves_it_as_it_was(
    make_engine, db_path, store, after
):
    url = "memory://" if store == "memory" else redis_or_skip(TEST_REDIS_URL)
    engine = await make_engine("write-behind", cache_url=url, max_attempts=1)
    await engine.reject_writes(USER)
    await engine.update(USER, {"bio": "parked"})
    await engine.flush()
    task, pause = await run_until(engine, "db.save_dead_letters", warm="cold", after=after)
    task.cancel()
    pause.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    [letter] = engine.dead_letters()
    assert (letter.version, letter.profile.bio) == (2, "parked")
    cached = (await engine.cache_peek([USER])).get(USER)
    assert cached is None or cached.version == 2
    assert (await engine.read(USER)).bio == "parked"
    # the table holds it as it was too (what a restart would load)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT version FROM dead_letters").fetchall() == [(2,)]
