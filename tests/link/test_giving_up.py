"""A close that gives up on a database behind a blackhole: on PostgreSQL through the real
link, with ``db_timeout`` at its maximum (an hour: a reply or a connection waited for
that long is a hang). ``close()`` gives up at ``flush_timeout``, the batch in flight
included, and stays open; ``close(discard=True)`` then returns every write that did not
land, as for an outage: nothing is dropped silently. A hang here fails on the test's
timeout."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from cachetui.engine import CacheTuiError, Engine, EngineConfig, PendingWritesError

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(40, method="thread")]

USERS = range(1, 11)


def config(url: str, **options: object) -> EngineConfig:
    return EngineConfig(
        db_url=url, policy="write-behind", db_rtt=0.001, db_timeout=3600, flush_timeout=0.3,
        flush_interval=3600, retry_base=0.01, retry_cap=0.05, **options,  # type: ignore[arg-type]
    )  # fmt: skip


def versions(url: str) -> dict[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT user_id, version FROM profiles").fetchall())


async def pending_behind_a_blackhole(engine: Engine) -> list[tuple[int, int]]:
    """Updates of USERS pending, then the link blackholed: (user, version) of each."""
    await engine.seed(20)
    acked = [await engine.update(uid, {"bio": "behind a blackhole"}) for uid in USERS]
    assert engine.link is not None
    engine.link.partition = "blackhole"
    return [(p.user_id, p.version) for p in acked]


@pytest.mark.parametrize("flush", ["none", "in flight"])
async def test_close_gives_up_at_its_timeout_and_discard_names_every_write(postgres_url, flush):
    engine = Engine(config(postgres_url))
    await engine.start()
    flushing = None
    try:
        pending = await pending_behind_a_blackhole(engine)
        if flush == "in flight":  # a batch of another caller's is in the blackhole
            flushing = asyncio.create_task(engine.flush(timeout=3600))
            await asyncio.sleep(0.1)
        with pytest.raises(PendingWritesError) as given_up:
            await engine.close()
        assert engine.running  # stays open: q asks before losing them
        assert given_up.value.pending == len(USERS)
        discarded = await engine.close(timeout=0, discard=True)
    finally:
        if engine.running:
            await engine.close(timeout=0, discard=True)
        if flushing is not None:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError, CacheTuiError):
                await flushing
    assert not engine.running
    assert sorted(discarded) == sorted(pending)  # each at risk, named: none dropped silently
    assert versions(postgres_url) == {uid: 1 for uid in range(1, 21)}  # held, never ran
