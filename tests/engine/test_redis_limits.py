"""A limit of the Redis client or server is back-pressure or an error for that one call,
never an outage of the whole cache: the client's pool is full (callers wait for a
connection), the server's ``maxclients`` is reached, a script keeps it ``BUSY``, its
``maxmemory`` is reached (``OOM``). Only a server that does not answer is an outage.
Each server-side limit runs on a private redis-server on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, EventKind, StoreUnavailable
from cachetui.engine.stores.redis_store import RedisStore
from tests.conftest import db_row, delete_namespace
from tests.engine.test_redis_store import free_port

StartServer = Callable[..., str]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[StartServer]:
    """``start(*options)``: the URL of a new redis-server on a free port, stopped at the
    end of the test."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    procs: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> str:
        port = free_port()
        procs.append(
            subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path), *options],
                stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=port, socket_connect_timeout=0.2) as probe:
                    probe.ping()
                return f"redis://127.0.0.1:{port}/0"
            except redis.RedisError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(5)


def outage_events(engine: Engine) -> list[str]:
    return [e.detail for e in engine.recent_events() if e.kind is EventKind.CACHE_DOWN]


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def test_200_concurrent_reads_of_cached_users_wait_for_a_connection(db_path, redis_url):
    """The trigger: more concurrent reads than the client's pool has connections."""
    config = EngineConfig(db_path=db_path, cache_url=redis_url, capacity=500)
    async with Engine(config) as engine:
        try:
            await engine.seed(200)
            for user in range(1, 201):
                await engine.read(user)  # now cached
            hits = engine.metrics.hits
            profiles = await asyncio.gather(*(engine.read(u) for u in range(1, 201)))
            assert [p.user_id for p in profiles] == list(range(1, 201))
            assert engine.cache_available, engine.cache_error
            assert outage_events(engine) == []
            assert engine.metrics.hits - hits == 200  # every read was served by Redis
            assert engine.metrics.cache_errors == 0
        finally:
            delete_namespace(redis_url, engine.store.namespace)


async def test_a_pool_wait_that_times_out_fails_that_call_only(redis_url):
    """A caller that cannot get a connection in time gets a clear error for its call;
    it does not say Redis is unavailable."""
    store = RedisStore(redis_url, namespace="limits-pool", max_connections=1, pool_timeout=0.05)
    await store.start()
    try:
        held = await store.pool.get_connection()  # the pool's only connection
        try:
            with pytest.raises(StoreUnavailable) as err:
                await store.get(1)
            assert "unavailable" not in str(err.value)
            assert "no free connection" in str(err.value)
        finally:
            await store.pool.release(held)
        assert await store.get(1) is None  # the connection is back: served again
    finally:
        await store.close()
        delete_namespace(redis_url, "limits-pool")


async def test_maxclients_reached_is_not_an_outage(db_path, private_redis):
    url = private_redis("--maxclients", "8")
    config = EngineConfig(db_path=db_path, cache_url=url, capacity=50)
    async with Engine(config) as engine:
        await engine.seed(20)
        for user in range(1, 21):
            await engine.read(user)
        # the engine's connections drop (a reconnection is due), and another program
        # takes every connection the server allows
        await engine.store.pool.disconnect()
        others: list[redis.Redis] = []
        while True:
            try:  # a single-connection client connects at once
                other = redis.Redis.from_url(url, single_connection_client=True)
            except redis.ConnectionError:
                break
            others.append(other)
        try:
            # the reads need a new connection, which the server refuses: they are
            # served by the database
            profiles = await asyncio.gather(*(engine.read(u) for u in range(1, 21)))
            assert [(p.user_id, p.version) for p in profiles] == [(u, 1) for u in range(1, 21)]
            assert engine.cache_available, engine.cache_error
            assert outage_events(engine) == []
            assert engine.metrics.cache_errors > 0  # counted, but the cache is not down
        finally:
            for other in others:
                other.close()
        hits = engine.metrics.hits
        assert (await engine.read(3)).version == 1
        assert engine.metrics.hits == hits + 1  # the cache serves again at once


@pytest.mark.parametrize("policy", ["write-through", "write-behind"])
async def test_oom_on_a_write_is_not_an_outage_and_leaves_no_stale_entry(
    db_path, private_redis, policy
):
    url = private_redis("--maxmemory-policy", "noeviction")
    config = EngineConfig(db_path=db_path, cache_url=url, capacity=50, policy=policy)
    async with Engine(config) as engine:
        await engine.seed(20)
        old = await engine.read(5)  # cached at v1
        with redis.Redis.from_url(url) as other:
            used = int(other.info("memory")["used_memory"])
            other.config_set("maxmemory", str(used))
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                for i in range(1000):  # fill what is left
                    other.set(f"filler:{i}", "x" * 10_000)
            new = await engine.update(5, {"bio": "written while Redis is full"})
            assert new.version == old.version + 1
            assert engine.cache_available, engine.cache_error
            assert outage_events(engine) == []
            # the older entry is never served, and is gone from Redis (DEL is allowed
            # when memory is full)
            assert await engine.read(5) == new
            assert other.get(engine.store.prefix + "5") is None
            # a read that would fill the cache is served by the database
            assert (await engine.read(7)).version == 1
            assert engine.cache_available and outage_events(engine) == []
            if policy == "write-behind":
                await engine.flush()
            assert db_row(db_path, 5) == new
            other.config_set("maxmemory", "0")  # room again
        await engine.read(5)  # refilled
        assert await engine.read(5) == new
        assert engine.metrics.hits >= 1


def busy_script(url: str) -> threading.Thread:
    """Another client runs a script that loops until SCRIPT KILL; returns once the
    server answers BUSY."""

    def run() -> None:
        looping = redis.Redis.from_url(url, socket_timeout=10)
        with looping, contextlib.suppress(redis.ResponseError):  # ended by SCRIPT KILL
            looping.eval("while true do end", 0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    with redis.Redis.from_url(url) as probe:
        while time.monotonic() < deadline:
            try:
                probe.ping()
            except redis.ResponseError as exc:
                assert str(exc).startswith("BUSY")
                return thread
            time.sleep(0.01)
    raise AssertionError("the script never made the server busy")


async def test_a_busy_script_is_not_an_outage_and_leaves_no_stale_entry(db_path, private_redis):
    url = private_redis("--busy-reply-threshold", "20")
    config = EngineConfig(db_path=db_path, cache_url=url, capacity=50, policy="write-through")
    async with Engine(config) as engine:
        await engine.seed(20)
        for user in (1, 2):
            await engine.read(user)  # cached at v1
        thread = busy_script(url)
        try:
            assert (await engine.read(1)).version == 1  # served by the database
            new = await engine.update(2, {"bio": "written while a script runs"})
            assert await engine.read(2) == new  # never the older entry
            assert engine.cache_available, engine.cache_error
            assert outage_events(engine) == []
        finally:
            with redis.Redis.from_url(url) as killer:
                killer.script_kill()
            thread.join(5)
        with redis.Redis.from_url(url) as other:
            key = engine.store.prefix + "2"
            # the entry the failed set left behind is deleted once the server answers
            await wait_for(lambda: other.get(key) is None)
        assert await engine.read(2) == new
        assert (await engine.read(1)).version == 1
        hits = engine.metrics.hits
        assert await engine.read(2) == new
        assert engine.metrics.hits == hits + 1
        assert outage_events(engine) == []


async def test_a_read_only_replica_refuses_writes_without_an_outage(db_path, private_redis):
    """A server that answers READONLY (a replica) refuses the call; the cache is not
    down, and no older entry is served afterwards."""
    url = private_redis()
    config = EngineConfig(db_path=db_path, cache_url=url, capacity=50, policy="write-through")
    async with Engine(config) as engine:
        await engine.seed(5)
        old = await engine.read(2)  # cached at v1
        with redis.Redis.from_url(url) as other:
            other.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # nobody there
            try:
                new = await engine.update(2, {"bio": "written while Redis is a replica"})
                assert new.version == old.version + 1
                assert engine.cache_available, engine.cache_error
                assert outage_events(engine) == []
                assert await engine.read(2) == new  # the database's, not the stale entry
            finally:
                other.execute_command("REPLICAOF", "NO", "ONE")
