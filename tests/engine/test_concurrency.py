"""Many concurrent callers on a few keys: at the end cache, database and versions agree."""

from __future__ import annotations

import asyncio
import random

import pytest

from cachetui.engine import KeyState, key_state
from tests.conftest import BOTH_DATABASES, db_row

pytestmark = BOTH_DATABASES

POLICIES = ["write-through", "write-behind", "write-around", "no-cache"]


@pytest.mark.parametrize("policy", POLICIES)
async def test_concurrent_updates_and_reads_converge(make_engine, db_path, policy):
    engine = await make_engine(policy, flush_interval=0.01, batch_size=7, capacity=3)
    engine.faults.db_latency = 0.001
    keys = [1, 2, 3, 4]
    rng = random.Random(1)
    acked: dict[int, list[int]] = {k: [] for k in keys}

    async def writer(worker: int) -> None:
        for i in range(25):
            key = rng.choice(keys)
            profile = await engine.update(key, {"followers": worker * 1000 + i})
            acked[key].append(profile.version)
            if i % 5 == 0:
                await engine.read(rng.choice(keys))

    await asyncio.gather(*(writer(w) for w in range(8)))
    engine.faults.db_latency = 0
    await engine.flush()

    total = 0
    for key in keys:
        versions = sorted(acked[key])
        total += len(versions)
        assert versions == list(range(2, 2 + len(versions)))  # no version acked twice
        row = db_row(db_path, key)
        assert row.version == versions[-1]
        assert await engine.read(key) == row
        cached = {e.profile.user_id: e.profile for e in await engine.cache_entries()}
        if policy != "no-cache":
            assert key_state(cached.get(key), None, row) in (KeyState.CLEAN, KeyState.UNCACHED)
    assert engine.metrics.updates == total == 200


class HeldCommits:
    """Every database write waits at the door until released (a real write afterwards):
    the order of a group commit becomes deterministic, whatever the machine's load."""

    def __init__(self, engine) -> None:
        self.calls: list[tuple[asyncio.Event, asyncio.Event]] = []
        real = engine.db.write

        async def held(rows):
            reached, release = asyncio.Event(), asyncio.Event()
            self.calls.append((reached, release))
            reached.set()
            await release.wait()
            return await real(rows)

        engine.db.write = held

    async def reached(self, n: int) -> None:
        async with asyncio.timeout(5):
            while len(self.calls) < n:  # noqa: ASYNC110 - polled state
                await asyncio.sleep(0.001)

    def release(self, n: int) -> None:
        self.calls[n - 1][1].set()


@pytest.mark.parametrize("policy", ["write-through", "write-around"])
@pytest.mark.parametrize("in_flight", [False, True])
async def test_a_cancelled_update_never_lands_behind_the_callers_back(
    make_engine, db_path, policy, in_flight
):
    engine = await make_engine(policy)
    await engine.read(1)
    await engine.read(2)
    commits = HeldCommits(engine)
    first = asyncio.create_task(engine.update(1, {"bio": "A"}))  # commits its own row
    await commits.reached(1)
    queued = asyncio.create_task(engine.update(2, {"bio": "B"}))  # waits for a group
    committer = engine._core.committer  # white-box: until it waits in the group
    async with asyncio.timeout(5):
        while not committer._group:  # noqa: ASYNC110 - polled state
            await asyncio.sleep(0.001)
    if in_flight:  # the first commit ends; the group with user 2 is being written
        commits.release(1)
        await commits.reached(2)
    queued.cancel()
    if in_flight:
        commits.release(2)  # the cancel waits for the write already under way
    with pytest.raises(asyncio.CancelledError):
        await queued
    landed = db_row(db_path, 2)
    assert landed.version == (2 if in_flight else 1)  # decided before the cancel returns
    seen = await engine.read(2)
    for _, release in commits.calls:
        release.set()
    await first
    await asyncio.sleep(0.05)  # anything still on its way would have landed by now
    assert len(commits.calls) == (2 if in_flight else 1)  # a withdrawn row is never written
    assert db_row(db_path, 2) == landed
    assert seen == landed
    cached = await engine.cache_peek([2])
    assert cached.get(2, landed) == landed
