"""A flush whose caller is cancelled still counts what its batch did: a commit that was
on its way lands and is known to have landed (no phantom conflict, no stale read)."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.engine import Engine
from tests.conftest import BOTH_DATABASES, db_sql, db_version
from tests.sql_dialect import writer_holding
from tests.waits import in_flight, wait_until

pytestmark = BOTH_DATABASES

memory_store = pytest.mark.parametrize("cache_url", ["memory://"])


async def cancel_while_blocked(engine: Engine, db_path: str, call) -> None:
    """Start ``call``, cancel it while its batch waits for another writer's lock, let
    the lock go: the cancelled caller raises CancelledError."""
    with writer_holding(db_path):
        task = asyncio.ensure_future(call())
        # on its way: it cannot land before the lock goes
        await wait_until(lambda: in_flight(engine), "the batch was taken")
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@memory_store
@pytest.mark.parametrize("queue", ["memory://", "sqlite://"])
@pytest.mark.parametrize(
    "call",
    [
        lambda engine: engine.flush(),
        lambda engine: engine.set_policy("write-through"),
        lambda engine: engine.close(),
    ],
    ids=["flush", "set_policy", "close"],
)
async def test_a_batch_committed_after_its_caller_gave_up_counts_as_landed(
    make_engine, db_path, call, queue
):
    engine = await make_engine("write-behind", queue_url=queue)
    await engine.update(1, {"bio": "v2"})
    await cancel_while_blocked(engine, db_path, lambda: call(engine))
    assert db_version(db_path, 1) == 2  # the commit went through
    assert engine.pending_writes() == []  # and the engine knows it
    assert engine.metrics.db_writes == 1
    if queue == "sqlite://":  # its entry left the outbox too: nothing to replay
        assert db_sql(str(engine.queue_location), "SELECT count(*) FROM outbox") == [(0,)]
    if not engine.running:
        return
    await engine.set_policy("write-behind")
    assert (await engine.update(1, {"bio": "v3"})).version == 3
    await engine.flush()
    assert db_version(db_path, 1) == 3
    assert engine.dead_letters() == [] and engine.metrics.conflicts == 0
    assert (await engine.read(1)).bio == "v3"
