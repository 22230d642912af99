"""The Redis store against real Redis servers: what another client sees, TTL, eviction,
sharing one cache tier, a server that goes away and comes back, bad URLs."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from cachetui.engine import (
    Engine,
    EngineConfig,
    EventKind,
    StoreUnavailable,
    ValidationError,
)
from cachetui.engine.stores.redis_codec import namespace_for
from cachetui.engine.stores.redis_store import RedisStore
from cachetui.engine.stores.redis_url import mask_url
from tests.conftest import db_row, delete_namespace
from tests.waits import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url, decode_responses=True) as c:
        yield c


@pytest.fixture
async def engine(db_path: str, redis_url: str) -> Engine:
    engine = Engine(EngineConfig(db_path=db_path, cache_url=redis_url, capacity=3))
    await engine.start()
    await engine.seed(10)
    yield engine
    if engine.running:
        await engine.close()
    delete_namespace(redis_url, engine.store.namespace)


def keys_of(client: redis.Redis, engine: Engine) -> list[int]:
    prefix = engine.store.prefix
    return sorted(int(k[len(prefix) :]) for k in client.scan_iter(match=prefix + "*"))


async def test_cached_profiles_are_readable_keys_for_any_client(engine, client, db_path):
    await engine.read(4)
    acked = await engine.update(4, {"bio": "visible to redis-cli"})
    ns = namespace_for(db_path)
    assert ns.startswith("profiles-")  # the SQLite file's name, then a hash of its path
    raw = client.get(f"cachetui:{ns}:profile:4")
    assert json.loads(raw) == acked.as_dict()
    assert keys_of(client, engine) == [4]


async def test_capacity_evicts_the_least_recently_used(engine, client):
    for user in (1, 2, 3):
        await engine.read(user)
    await engine.read(1)  # 2 is now the least recently used
    await engine.read(4)
    assert keys_of(client, engine) == [1, 3, 4]
    assert engine.metrics.evictions == 1
    evicted = [e for e in engine.recent_events() if e.kind is EventKind.EVICT]
    assert [(e.user_id, e.version) for e in evicted] == [(2, 1)]


async def test_ttl_is_redis_expiry(db_path, redis_url, client):
    async with Engine(EngineConfig(db_path=db_path, cache_url=redis_url, ttl=0.5)) as engine:
        try:
            await engine.seed(5)
            await engine.read(1)
            ttl_ms = client.pttl(engine.store.prefix + "1")
            assert 0 < ttl_ms <= 500
            [entry] = await engine.cache_entries()
            assert entry.ttl_left is not None and 0 < entry.ttl_left <= 0.5
            await wait_until(lambda: keys_of(client, engine) == [], "Redis expired user 1")
            await engine.read(1)  # a miss again; the expiry is counted
            assert engine.metrics.misses == 2 and engine.metrics.expirations == 1
        finally:
            delete_namespace(redis_url, engine.store.namespace)


async def test_pane_shows_changes_made_with_another_client(engine, client):
    for user in (1, 2):
        await engine.read(user)
    client.delete(engine.store.prefix + "1")
    value = json.loads(client.get(engine.store.prefix + "2"))
    value["bio"] = "edited with redis-cli"
    client.set(engine.store.prefix + "2", json.dumps(value))
    entries = await engine.cache_entries()
    assert [(e.profile.user_id, e.profile.bio) for e in entries] == [(2, "edited with redis-cli")]
    assert (await engine.read(2)).bio == "edited with redis-cli"
    # a value that is not a profile is dropped and read from the database instead
    client.set(engine.store.prefix + "2", "not json")
    assert (await engine.read(2)).bio != "edited with redis-cli"
    assert keys_of(client, engine) == [2]  # refilled with the database's profile


async def test_a_pane_listing_of_the_youngest_sees_keys_deleted_with_another_client(engine, client):
    for user in (1, 2, 3):
        await engine.read(user)
        await asyncio.sleep(0.003)  # store times are milliseconds
    await engine.cache_entries(limit=2)  # the first listing SCANs every key
    client.delete(engine.store.prefix + "3")  # the youngest, behind the store's back
    assert [e.profile.user_id for e in await engine.cache_entries(limit=2)] == [2]
    assert await engine.cache_size() == 2  # the listing found it gone: counts agree
    assert [e.profile.user_id for e in await engine.cache_entries(limit=5)] == [2, 1]


async def test_two_engines_share_one_cache_tier(db_path, redis_url):
    config = EngineConfig(db_path=db_path, cache_url=redis_url, policy="write-through")
    async with Engine(config) as a, Engine(config) as b:
        try:
            await a.seed(10)
            assert (await b.read(3)).version == 1
            acked = await a.update(3, {"bio": "written by process A"})
            assert await b.read(3) == acked
            assert b.metrics.hits == 1  # served from the shared Redis, not the database
            assert db_row(db_path, 3) == acked
        finally:
            delete_namespace(redis_url, a.store.namespace)


async def test_cache_down_fault_bypasses_and_repairs_the_cache(engine, client, db_path):
    old = await engine.read(5)
    engine.faults.cache_down = True
    assert not engine.cache_available
    with pytest.raises(StoreUnavailable):
        await engine.cache_entries()
    new = await engine.update(5, {"bio": "written while the cache was away"})
    assert db_row(db_path, 5) == new  # write-through: committed before the ack
    assert json.loads(client.get(engine.store.prefix + "5"))["version"] == old.version
    assert await engine.read(5) == new  # from the database
    engine.faults.cache_down = False
    for _ in range(200):
        if engine.cache_available:
            break
        await asyncio.sleep(0.01)
    assert engine.cache_available
    assert client.get(engine.store.prefix + "5") is None  # the older entry was dropped
    assert await engine.read(5) == new
    kinds = [e.kind for e in engine.recent_events()]
    assert EventKind.CACHE_DOWN in kinds and EventKind.CACHE_UP in kinds


async def test_unreachable_redis_at_start_is_one_clear_error(db_path):
    port = free_port()
    engine = Engine(EngineConfig(db_path=db_path, cache_url=f"redis://:s3cret@127.0.0.1:{port}/0"))
    with pytest.raises(StoreUnavailable) as err:
        await engine.start()
    assert str(err.value) == (
        f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0: connection refused"
    )
    assert "s3cret" not in engine.store.description


def test_passwords_are_masked():
    assert mask_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert mask_url("redis://:pw@host/1") == "redis://:***@host/1"
    assert mask_url("redis://host:6379/0") == "redis://host:6379/0"
    with pytest.raises(ValidationError, match="not a Redis URL"):
        RedisStore("http://x", namespace="t")
    with pytest.raises(ValidationError, match="unsupported cache URL 'memcached://u:\\*\\*\\*@h'"):
        Engine(EngineConfig(cache_url="memcached://u:pw@h"))


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A private redis-server on a free port that the test may stop and start."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc: list[subprocess.Popen] = []

    def start() -> None:
        proc.append(
            subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        p = proc.pop()
        p.terminate()
        p.wait(5)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    while proc:
        stop()


async def test_redis_stopped_and_restarted_mid_run(db_path, own_redis):
    url, start, stop = own_redis
    config = EngineConfig(db_path=db_path, cache_url=url, policy="write-through")
    async with Engine(config) as engine:
        await engine.seed(10)
        await engine.read(1)
        stop()
        # reads fall back to the database; the cache shows as unavailable
        assert (await engine.read(1)).version == 1
        assert not engine.cache_available
        assert "connection refused" in engine.cache_error
        # write-through still acknowledges only what the database committed
        acked = await engine.update(1, {"bio": "while Redis was down"})
        assert db_row(db_path, 1) == acked
        # write-behind keeps acknowledging into the process's queue (read-your-writes)
        await engine.set_policy("write-behind")
        queued = await engine.update(2, {"bio": "queued while Redis was down"})
        assert await engine.read(2) == queued
        start()
        for _ in range(500):
            if engine.cache_available:
                break
            await asyncio.sleep(0.01)
        assert engine.cache_available  # picked up without a restart
        assert await engine.read(1) == acked
        assert await engine.read(1) == acked
        assert engine.metrics.cache_errors >= 1
        assert engine.metrics.hits >= 1
        await engine.flush()
        assert db_row(db_path, 2) == queued


@pytest.mark.parametrize("eviction", ["lru", "lfu", "fifo"])
async def test_eviction_picks_the_same_victim_as_the_in_process_store(
    tmp_path, redis_url, eviction
):
    held = {}
    for cache_url in ("memory://", redis_url):
        db = str(tmp_path / f"{eviction}-{cache_url[:5]}.db")
        config = EngineConfig(db_path=db, cache_url=cache_url, capacity=3, eviction=eviction)
        async with Engine(config) as engine:
            try:
                await engine.seed(10)
                for user in (5, 6, 7, 6, 5, 6):
                    await engine.read(user)
                await engine.update(1, {"bio": "new"})  # a fourth entry: one must go
                await engine.read(8)  # and another
                held[cache_url] = sorted(e.profile.user_id for e in await engine.cache_entries())
            finally:
                if hasattr(engine.store, "namespace"):
                    delete_namespace(redis_url, engine.store.namespace)
    assert held[redis_url] == held["memory://"]


async def test_keys_set_by_hand_never_break_the_pane(engine, client):
    await engine.read(1)
    client.set(engine.store.prefix + "note", "written by hand")
    client.hset(engine.store.prefix + "2", mapping={"name": "a hash"})
    assert [e.profile.user_id for e in await engine.cache_entries()] == [1]
    assert (await engine.read(2)).version == 1  # WRONGTYPE: dropped, read from the DB
    assert engine.cache_available
    client.delete(engine.store.prefix + "note")


async def test_a_fill_never_replaces_a_newer_value_from_another_process(db_path, redis_url):
    config = EngineConfig(db_path=db_path, cache_url=redis_url, policy="write-through")
    async with Engine(config) as a, Engine(config) as b:
        try:
            await a.seed(10)
            old = (await b.db_rows([3]))[3]
            new = await a.update(3, {"bio": "newer"})
            # b read the row just before a's commit; its fill arrives afterwards
            await b.store.set(old, fill=True)
            assert await b.read(3) == new
        finally:
            delete_namespace(redis_url, a.store.namespace)


async def test_a_restarted_server_never_serves_entries_older_than_the_database(db_path, own_redis):
    url, start, stop = own_redis
    async with Engine(EngineConfig(db_path=db_path, cache_url=url)) as engine:
        await engine.seed(10)
        await engine.read(3)
        with redis.Redis.from_url(url) as client:
            client.save()  # the snapshot still holds v1
        acked = await engine.update(3, {"bio": "after the snapshot"})
        stop()
        start()  # restarts from the snapshot: v1 is back in Redis
        assert await engine.read(3) == acked
        assert any("restarted" in e.detail for e in engine.recent_events())


def test_passwords_in_the_query_and_odd_urls_are_masked():
    assert mask_url("redis://h:6379/0?password=s3cret") == "redis://h:6379/0?password=***"
    assert mask_url("redis://:pa#ss@h") == "redis://:***@h"
    assert mask_url("redis://:pw@127.0.0.1:99999/1") == "redis://:***@127.0.0.1:99999/1"


async def test_store_times_an_earlier_version_kept_in_a_hash_are_adopted_at_start(
    db_path, redis_url, client
):
    config = EngineConfig(db_path=db_path, cache_url=redis_url, capacity=5)
    namespace = Engine(config).store.namespace
    base = f"cachetui:{namespace}:"
    try:
        async with Engine(config) as engine:
            await engine.seed(5)
            for user in (3, 1, 2):
                await engine.read(user)
                await asyncio.sleep(0.003)  # store times are milliseconds
        # what an earlier version leaves: the store times in a hash, no sorted set
        times = client.zrange(base + "stored_at", 0, -1, withscores=True)
        client.delete(base + "stored_at")
        client.hset(base + "stored", mapping={uid: int(at) for uid, at in times})
        async with Engine(config) as engine:
            assert not client.exists(base + "stored")
            assert [e.profile.user_id for e in await engine.cache_entries(limit=2)] == [2, 1]
    finally:
        delete_namespace(redis_url, namespace)


async def test_the_youngest_listing_needs_no_scan_and_reads_times_hits_and_values(engine, client):
    for user in (1, 2, 3):
        await engine.read(user)
        await asyncio.sleep(0.003)
    await engine.read(1)  # a hit, sent with the listing

    async def no_scan() -> list[str]:
        raise AssertionError("the store holds as many entries as listed: no SCAN")

    engine.store._profile_keys = no_scan
    entries = await engine.cache_entries(limit=3)
    assert [e.profile.user_id for e in entries] == [3, 2, 1]
    assert {e.profile.user_id: e.hits for e in entries}[1] == 1
    assert all(0 <= e.age < 5 and e.ttl_left is None for e in entries)
    # a listed key turned into another type by hand: not a profile, never an outage
    client.delete(engine.store.prefix + "2")
    client.hset(engine.store.prefix + "2", mapping={"name": "a hash"})
    assert [e.profile.user_id for e in await engine.cache_entries(limit=3)] == [3, 1]
    assert engine.cache_available
