"""Many concurrent callers on a few keys: at the end cache, database and versions agree."""

from __future__ import annotations

import asyncio
import random

import pytest

from cachetui.engine import KeyState, key_state
from tests.conftest import db_row

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


@pytest.mark.parametrize("policy", ["write-through", "write-around"])
@pytest.mark.parametrize("in_flight", [False, True])
async def test_a_cancelled_update_never_lands_behind_the_callers_back(
    make_engine, db_path, policy, in_flight
):
    engine = await make_engine(policy)
    await engine.read(1)
    await engine.read(2)
    engine.faults.db_latency = 0.05
    first = asyncio.create_task(engine.update(1, {"bio": "A"}))  # commits its own row
    await asyncio.sleep(0)
    queued = asyncio.create_task(engine.update(2, {"bio": "B"}))  # waits for a group
    # cancelled while queued, or once its group is being written
    await asyncio.sleep(0.01)
    if in_flight:
        committer = engine._core.committer  # white-box: wait until the group is in flight
        for _ in range(200):
            if committer._flight is not None and not committer._flight.done():
                break
            await asyncio.sleep(0.002)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    landed = db_row(db_path, 2)
    assert landed.version == (2 if in_flight else 1)  # decided before the cancel returns
    seen = await engine.read(2)
    await first
    await asyncio.sleep(0.15)  # anything still on its way would have landed by now
    engine.faults.db_latency = 0
    assert db_row(db_path, 2) == landed
    assert seen == landed
    cached = await engine.cache_peek([2])
    assert cached.get(2, landed) == landed
