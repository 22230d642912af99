"""Background loops stop when closed, even when a library swallowed the cancellation.

redis-py has been seen to catch a ``CancelledError`` that lands at the wrong moment of a
command (redis-py issues #2028, #2551): the Redis store's upkeep loop then slept on for
ever and ``close()`` never returned (benchmarks/peers.py hung at exit on a loaded
machine, failing CI). Here a call that swallows its cancel stands in for that moment.
"""

from __future__ import annotations

import asyncio

from cachetui.engine.background import stop_if_asked
from cachetui.engine.stores.redis_store import RedisStore
from tests.conftest import delete_namespace


async def swallow_a_cancel(swallowed: asyncio.Event) -> None:
    """Wait, and drop a cancellation as redis-py sometimes does."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        swallowed.set()


async def test_a_loop_whose_call_swallowed_the_cancel_still_stops():
    swallowed = asyncio.Event()

    async def loop() -> None:
        while True:
            await swallow_a_cancel(swallowed)
            stop_if_asked()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert swallowed.is_set()
    assert done == {task} and task.cancelled()


async def test_the_redis_store_closes_when_its_upkeep_swallowed_the_cancel(redis_url, monkeypatch):
    store = RedisStore(redis_url, namespace="upkeep-cancel")
    await store.start()
    entered, swallowed = asyncio.Event(), asyncio.Event()

    async def record_uses() -> None:  # the upkeep's Redis call, caught mid-command
        if not entered.is_set():
            entered.set()
            await swallow_a_cancel(swallowed)

    monkeypatch.setattr(store, "record_uses", record_uses)
    try:
        await asyncio.wait_for(entered.wait(), 5)  # the upkeep is inside its call
        closing = asyncio.create_task(store.close())
        done, _ = await asyncio.wait({closing}, timeout=5)
        assert swallowed.is_set()
        assert done == {closing}, "close() hung on an upkeep loop that never stopped"
        closing.result()
    finally:
        delete_namespace(redis_url, "upkeep-cancel")
