"""Write-behind: coalescing, batching, flush triggers, backpressure, retries, never a drop."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import (
    Engine,
    EngineConfig,
    EventKind,
    PendingWritesError,
)
from tests.conftest import BOTH_DATABASES, db_row, db_version, db_where
from tests.waits import in_flight, wait_until

pytestmark = BOTH_DATABASES


async def test_coalescing_turns_n_updates_into_one_db_write(make_engine, db_path):
    engine = await make_engine("write-behind")
    for i in range(10):
        last = await engine.update(7, {"followers": i})
    [pending] = engine.pending_writes()
    assert pending.coalesced == 9 and pending.version == 11
    await engine.flush()
    m = engine.metrics
    assert (m.updates, m.db_writes, m.db_transactions, m.coalesced) == (10, 1, 1, 9)
    assert db_row(db_path, 7) == last


async def test_a_batch_is_one_transaction(make_engine, db_path):
    engine = await make_engine("write-behind", batch_size=100)
    for user in range(1, 11):
        await engine.update(user, {"bio": f"batch {user}"})
    await engine.flush()
    m = engine.metrics
    assert (m.db_writes, m.db_transactions) == (10, 1)
    assert all(db_version(db_path, user) == 2 for user in range(1, 11))


async def test_batches_are_at_most_batch_size(make_engine):
    engine = await make_engine("write-behind", batch_size=4)
    await asyncio.gather(*(engine.read(user) for user in range(1, 11)))
    engine.faults.db_down = True  # hold the writes back while they queue up
    for user in range(1, 11):
        await engine.update(user, {"bio": "x"})
    engine.faults.db_down = False
    await engine.flush()
    assert (engine.metrics.db_writes, engine.metrics.db_transactions) == (10, 3)
    sizes = [e.detail for e in engine.recent_events() if e.kind is EventKind.FLUSH]
    assert sizes == [
        "4 writes in 1 transaction",
        "4 writes in 1 transaction",
        "2 writes in 1 transaction",
    ]


async def test_flush_every_interval(make_engine, db_path):
    engine = await make_engine("write-behind", flush_interval=0.05)
    acked = await engine.update(1, {"bio": "timer"})
    await wait_until(  # the flusher's round ends once its commit returned
        lambda: db_version(db_path, 1) == 2 and engine.metrics.db_writes == 1, "a timed flush"
    )
    assert db_row(db_path, 1) == acked
    assert engine.metrics.max_queue_wait > 0


async def test_flush_when_batch_size_is_reached(make_engine, db_path):
    engine = await make_engine("write-behind", batch_size=5)  # interval: an hour
    for user in range(1, 6):
        await engine.update(user, {"bio": "full batch"})
    await wait_until(lambda: not engine.pending_writes(), "a full batch flushed")
    assert all(db_version(db_path, user) == 2 for user in range(1, 6))


async def test_backpressure_makes_the_caller_wait_not_drop(make_engine, db_path):
    engine = await make_engine("write-behind", max_pending=3, batch_size=100)
    for user in range(1, 4):
        await engine.read(user + 3)  # cache users 4..6 for later
        await engine.update(user, {"bio": "fill"})
    engine.faults.db_down = True
    blocked = asyncio.create_task(engine.update(4, {"bio": "waits"}))
    await wait_until(
        lambda: any(e.kind is EventKind.BACKPRESSURE for e in engine.recent_events()),
        "the fourth update waited for room",
    )
    assert not blocked.done()  # the caller waits for room
    assert len(engine.pending_writes()) == 3
    # coalescing into a key that is already pending needs no room
    await asyncio.wait_for(engine.update(1, {"bio": "coalesced"}), 1)
    engine.faults.db_down = False
    acked = await asyncio.wait_for(blocked, 5)
    await engine.flush()
    assert db_row(db_path, 4) == acked
    assert db_row(db_path, 1).bio == "coalesced"


async def test_transient_errors_are_retried_until_every_write_lands(make_engine, db_path):
    engine = await make_engine("write-behind", flush_interval=0.01, batch_size=3, fault_seed=7)
    await asyncio.gather(*(engine.read(user) for user in range(1, 11)))  # cached: no DB reads
    engine.faults.db_error_rate = 0.6
    acked = {}
    for round_ in range(4):
        for user in range(1, 11):
            acked[user] = await engine.update(user, {"followers": round_ * 100 + user})
    await engine.flush(timeout=10)
    engine.faults.db_error_rate = 0.0
    assert engine.metrics.retries > 0
    assert engine.metrics.lost_writes == 0
    for user, profile in acked.items():
        assert db_row(db_path, user) == profile


async def test_flush_raises_with_the_pending_count_when_the_db_is_down(make_engine):
    engine = await make_engine("write-behind")
    await engine.update(1, {"bio": "a"})
    await engine.update(2, {"bio": "b"})
    engine.faults.db_down = True
    with pytest.raises(PendingWritesError, match="2 acknowledged writes are still pending"):
        await engine.flush()
    assert len(engine.pending_writes()) == 2  # still queued, still retried


async def test_a_newer_write_during_a_flush_lands_after_it(make_engine, db_path):
    engine = await make_engine("write-behind")
    engine.faults.db_latency = 0.05
    await engine.read(1)
    await engine.update(1, {"followers": 1})
    flushing = asyncio.create_task(engine.flush())
    await wait_until(lambda: in_flight(engine), "the batch is in flight")
    newest = await engine.update(1, {"followers": 2})
    await flushing  # the in-flight v2 landed, then v3 after it
    assert engine.pending_writes() == []
    assert db_row(db_path, 1) == newest
    m = engine.metrics
    assert (m.db_writes, m.db_transactions, m.coalesced) == (2, 2, 0)
    assert m.updates == m.db_writes + m.coalesced + m.pending + m.lost_writes


async def test_close_flushes_every_pending_write(db_path):
    config = EngineConfig(**db_where(db_path), policy="write-behind", flush_interval=3600)
    async with Engine(config) as engine:
        await engine.seed(10)
        acked = [await engine.update(u, {"bio": "closing"}) for u in range(1, 11)]
        assert db_version(db_path, 1) == 1
    assert [db_row(db_path, p.user_id) for p in acked] == acked


async def test_close_with_the_db_down_refuses_then_discards_on_request(db_path):
    config = EngineConfig(**db_where(db_path), policy="write-behind", flush_interval=3600)
    engine = await Engine(config).start()
    await engine.seed(5)
    await engine.update(2, {"bio": "x"})
    await engine.update(3, {"bio": "y"})
    engine.faults.db_down = True
    with pytest.raises(PendingWritesError) as raised:
        await engine.close(timeout=0.1)
    assert raised.value.pending == 2
    assert engine.running  # nothing was lost: still open
    discarded = await engine.close(timeout=0.1, discard=True)
    assert discarded == [(2, 2), (3, 2)]
    assert not engine.running
    assert db_version(db_path, 2) == 1


async def test_updates_queued_behind_a_batch_in_flight_coalesce(make_engine, db_path):
    engine = await make_engine("write-behind")
    await engine.read(1)
    await engine.update(1, {"followers": 1})
    engine.faults.db_latency = 0.05
    flushing = asyncio.create_task(engine.flush())
    await wait_until(lambda: in_flight(engine), "v2 is in flight")
    for n in (2, 3, 4):  # v3, v4, v5 queue behind it: one more DB write, two absorbed
        newest = await engine.update(1, {"followers": n})
    await flushing
    engine.faults.db_latency = 0
    await engine.flush()
    assert db_row(db_path, 1) == newest
    m = engine.metrics
    assert (m.updates, m.db_writes, m.coalesced) == (4, 2, 2)
