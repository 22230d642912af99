"""The engine with a link in front of its servers (``db_rtt``, ``cache_rtt``): each
round trip pays the RTT, partitions are ridden out by write-behind, the child process
goes with the engine, and a link where there is no network is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from cachetui.engine import (
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    PendingWritesError,
    ValidationError,
)
from tests.conftest import delete_namespace

RTT = 0.02


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_every_database_round_trip_pays_the_rtt_and_the_child_goes_at_close(
    postgres_url,
):
    # set up 1 ms away (the schema's and the seed's round trips), then RTT away
    config = EngineConfig(db_url=postgres_url, policy="no-cache", db_rtt=0.001)
    engine = Engine(config)
    await engine.start()
    link = engine.link
    assert link is not None and alive(link.pid)
    try:
        await engine.seed(20)
        link.rtt = RTT
        started = time.perf_counter()
        for uid in range(1, 11):
            await engine.read(uid)  # no cache: a database read each
        assert time.perf_counter() - started >= 10 * RTT
        assert "127.0.0.1:5432" in engine.db.description  # type: ignore[attr-defined]
    finally:
        await engine.close()
    assert not alive(link.pid)


async def test_a_reset_partition_is_ridden_out_by_write_behind(postgres_url):
    config = EngineConfig(
        db_url=postgres_url, policy="write-behind", db_rtt=0.001, flush_interval=3600,
        retry_base=0.01, db_timeout=1,
    )  # fmt: skip
    async with Engine(config) as engine:
        await engine.seed(5)
        acked = await engine.update(1, {"bio": "across a partition"})
        assert engine.link is not None
        engine.link.partition = "reset"
        with pytest.raises(PendingWritesError):
            await engine.flush(timeout=0.2)
        engine.link.partition = None
        await engine.flush(timeout=5)
        assert (await engine.read(1)) == acked


@pytest.mark.timeout(30, method="thread")
async def test_calls_fail_at_once_under_a_reset_not_after_db_timeout(postgres_url):
    # db_timeout an hour: a call that waits for the pool's refills is a hang (the test's
    # timeout); a refused connection fails it, and those after it, with the outage.
    config = EngineConfig(db_url=postgres_url, policy="no-cache", db_rtt=0.001, db_timeout=3600)
    async with Engine(config) as engine:
        await engine.seed(5)
        assert engine.link is not None
        engine.link.partition = "reset"
        pool = engine.db._pool  # type: ignore[attr-defined]
        for call in range(4):  # the pool's connections were reset; then no new one opens
            with pytest.raises(DatabaseUnavailable) as failed:
                await engine.read(1)
            assert "an outage" in str(failed.value)
            if call > 0:  # (the first may get a pooled connection reset mid-statement)
                assert "passes no connection (a partition)" in str(failed.value)
            if call == 1:  # (the second may wait for the pool, woken by its refill's refusal)
                asked = pool.get_stats()["requests_num"]
        # the calls once a refusal was seen did not even wait for the pool
        assert pool.get_stats()["requests_num"] == asked
        engine.link.partition = None
        for _ in range(100):  # the pool reconnects at its next attempt (1 s, 2 s, …)
            try:
                assert (await engine.read(1)).user_id == 1
                break
            except DatabaseUnavailable:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the pool never reconnected")


async def test_every_cache_round_trip_pays_the_rtt(tmp_path, redis_url):
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"), cache_url=redis_url, cache_rtt=0.001, policy="write-through"
    )
    engine = Engine(config)
    await engine.start()
    try:
        await engine.seed(5)
        await engine.read(1)  # cached
        assert engine.link is not None  # the cache's: no database link
        engine.link.rtt = RTT  # set up 1 ms away, then RTT away
        started = time.perf_counter()
        for _ in range(10):
            await engine.read(1)  # a Redis hit each
        assert time.perf_counter() - started >= 10 * RTT
        assert engine.metrics.hits >= 10
        assert engine.store.description.startswith(redis_url.split("/")[0])
    finally:
        await engine.close()
        delete_namespace(redis_url, engine.store.namespace)  # type: ignore[attr-defined]


def test_a_link_needs_a_network_to_delay(tmp_path):
    with pytest.raises(ValidationError, match="SQLite file has no network"):
        EngineConfig(db_path=str(tmp_path / "p.db"), db_rtt=0.002)
    with pytest.raises(ValidationError, match="in-process store has no network"):
        EngineConfig(db_path=str(tmp_path / "p.db"), cache_rtt=0.002)
    done = subprocess.run(
        [sys.executable, "-m", "cachetui", "--db", str(tmp_path / "p.db"), "--db-rtt", "2ms"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("cachetui: error: --db-rtt needs")
