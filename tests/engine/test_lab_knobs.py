"""The knobs a lab uses to rewind or stage a demo: the queue bound, restoring rows,
resetting the cache."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import EventKind, ValidationError
from tests.conftest import db_row
from tests.waits import wait_until


async def test_lowering_the_queue_bound_applies_backpressure(make_engine):
    engine = await make_engine("write-behind")
    for user in (1, 2, 3):
        await engine.read(user)  # cached: updates need no database read
    engine.faults.db_down = True  # flushes fail: the queue cannot drain
    engine.set_max_pending(2)
    assert engine.max_pending == 2
    await engine.update(1, {"bio": "a"})
    await engine.update(2, {"bio": "b"})
    third = asyncio.create_task(engine.update(3, {"bio": "c"}))
    await wait_until(
        lambda: any(e.kind is EventKind.BACKPRESSURE for e in engine.recent_events()),
        "the third update waited for room",
    )
    assert not third.done()  # waiting for room
    engine.set_max_pending(3)  # raising it lets the waiting caller in at once
    await asyncio.wait_for(third, 1)
    assert len(engine.pending_writes()) == 3
    with pytest.raises(ValidationError, match="max_pending must be an integer >= 1"):
        engine.set_max_pending(0)
    assert engine.max_pending == 3


async def test_restore_rows_and_reset_cache_rewind_a_demo(make_engine, db_path):
    engine = await make_engine("write-through")
    before = await engine.read(4)
    await engine.update(4, {"bio": "changed during the demo"})
    engine.faults.db_down = True  # restoring goes past injected faults
    await engine.restore_rows([before])
    engine.faults.db_down = False
    assert db_row(db_path, 4) == before
    await engine.reset_cache([before])
    assert [e.profile for e in await engine.cache_entries()] == [before]
    assert engine.metrics.db_writes == 1  # the restore is not counted as engine traffic
    await engine.reset_cache()
    assert await engine.cache_entries() == []


async def test_the_flush_interval_can_change_while_running(make_engine, db_path):
    engine = await make_engine("write-behind")  # interval: an hour
    await engine.update(1, {"bio": "soon"})
    flushed = asyncio.Event()
    engine.subscribe(lambda event: event.kind is EventKind.FLUSH and flushed.set())
    engine.set_flush_interval(0.05)
    assert engine.flush_interval == 0.05
    async with asyncio.timeout(10):  # due within 0.05 s; generous on a loaded machine
        await flushed.wait()
    assert db_row(db_path, 1).version == 2
    engine.set_flush_interval(3600)
    # the round that flushed user 1 ends (its bookkeeping): an update arriving before
    # would still go out with it
    await asyncio.sleep(0.2)
    await engine.update(2, {"bio": "later"})
    await asyncio.sleep(0.2)
    assert db_row(db_path, 2).version == 1 and len(engine.pending_writes()) == 1
    with pytest.raises(ValidationError, match="flush_interval must be a number > 0"):
        engine.set_flush_interval(0)
