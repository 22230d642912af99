"""Auto-pipelining of the Redis store (``redis_batcher``), against real Redis servers:
concurrent callers' commands share round trips and each gets its own reply; a caller
cancelled before the send withdraws its command; a caller cancelled after it has an
unknown outcome and the others are served; scripts the server forgot (NOSCRIPT) are
loaded again inside a pipeline."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, Profile, StoreUnavailable
from cachetui.engine.stores.redis_store import RedisStore
from tests.conftest import delete_namespace
from tests.engine.test_redis_limits import private_redis  # noqa: F401 - a fixture

pytestmark = pytest.mark.redis


def p(user_id: int, version: int = 1) -> Profile:
    return Profile(user_id, f"user {user_id}", f"bio {user_id}", "", user_id, version, "t")


async def started(url: str, namespace: str) -> RedisStore:
    store = RedisStore(url, namespace=namespace, capacity=1000)
    await store.start()
    return store


def stored(url: str, store: RedisStore, user_id: int) -> bytes | None:
    with redis.Redis.from_url(url) as client:
        value = client.get(store.prefix + str(user_id))
    return value if isinstance(value, bytes) else None


async def test_concurrent_callers_share_round_trips_and_get_their_own_replies(redis_url):
    store = await started(redis_url, "pipelining-share")
    try:
        batcher = store.batcher
        users = range(1, 41)
        sent, trips = batcher.commands, batcher.round_trips
        await asyncio.gather(*(store.set(p(u)) for u in users))
        assert batcher.commands - sent == len(users)
        assert batcher.round_trips - trips < len(users)

        sent, trips = batcher.commands, batcher.round_trips
        profiles = await asyncio.gather(*(store.get(u) for u in users))
        assert profiles == [p(u) for u in users]  # each caller's own value
        assert batcher.commands - sent == len(users)
        assert batcher.round_trips - trips < len(users)
        assert await store.get(999) is None  # a miss among hits stays a miss
    finally:
        await store.close()
        delete_namespace(redis_url, "pipelining-share")


async def test_a_caller_cancelled_before_the_send_withdraws_its_command(redis_url):
    store = await started(redis_url, "pipelining-withdraw")
    try:
        batcher = store.batcher
        trips = batcher.round_trips
        cancelled = asyncio.ensure_future(store.set(p(1)))
        kept = asyncio.ensure_future(store.set(p(2)))
        await asyncio.sleep(0)  # both commands are queued for this loop turn …
        assert batcher.queued == 2
        cancelled.cancel()  # … and one caller gives up before they are sent
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await kept
        assert batcher.round_trips - trips == 1  # the other command went out alone
        assert stored(redis_url, store, 1) is None  # never written
        assert stored(redis_url, store, 2) is not None
        assert await store.size() == 1
    finally:
        await store.close()
        delete_namespace(redis_url, "pipelining-withdraw")


async def test_a_caller_cancelled_after_the_send_leaves_the_others_served(private_redis):  # noqa: F811
    """The command already sent runs (its caller does not learn the outcome); the
    pipeline's other callers get their replies, and the connection stays in step."""
    url = private_redis("--enable-debug-command", "yes")
    store = await started(url, "pipelining-sent")
    try:
        await store.set(p(3))
        with redis.Redis.from_url(url) as other:
            blocker = asyncio.get_running_loop().run_in_executor(
                None, other.execute_command, "DEBUG", "SLEEP", "0.3"
            )
            await asyncio.sleep(0.1)  # the server is busy: what we send waits there
            given_up = asyncio.ensure_future(store.set(p(1)))
            served = asyncio.ensure_future(store.get(3))
            await asyncio.sleep(0.05)
            assert store.batcher.queued == 0  # sent, and the reply not read yet
            given_up.cancel()
            with pytest.raises(asyncio.CancelledError):
                await given_up
            assert await served == p(3)
            await blocker
        assert stored(url, store, 1) is not None  # it ran: an unknown outcome to its caller
        assert await store.get(1) == p(1)
    finally:
        await store.close()


async def test_scripts_flushed_from_the_server_are_reloaded_inside_a_pipeline(private_redis):  # noqa: F811
    url = private_redis()
    store = await started(url, "pipelining-noscript")
    try:
        await store.set(p(1))
        with redis.Redis.from_url(url) as admin:
            admin.script_flush()
            admin.config_resetstat()
        trips = store.batcher.round_trips
        await asyncio.gather(store.set(p(2)), store.set(p(3)), store.delete(1))
        # one pipeline refused (NOSCRIPT), one with the scripts loaded and the calls again
        assert store.batcher.round_trips - trips == 2
        assert [await store.get(u) for u in (1, 2, 3)] == [None, p(2), p(3)]
        with redis.Redis.from_url(url) as admin:
            loads = admin.info("commandstats").get("cmdstat_script|load", {}).get("calls")
        assert loads == 2  # SET's and DELETE's scripts, once each
    finally:
        await store.close()


async def test_a_write_behind_update_of_a_pending_user_builds_on_its_pending_write(
    db_path, redis_url
):
    """The pending write is the process's newest acknowledged value: an update of that
    user builds on it with one command (the set script, no GET), even when its cache
    entry was evicted or another client changed it meanwhile."""
    config = EngineConfig(
        db_path=db_path, cache_url=redis_url, policy="write-behind", flush_interval=60.0
    )
    async with Engine(config) as engine:
        try:
            await engine.seed(10)
            first = await engine.update(3, {"bio": "pending"})
            with redis.Redis.from_url(redis_url, decode_responses=True) as client:
                key = engine.store.prefix + "3"
                other = json.loads(client.get(key))
                other["bio"] = "another client's"
                client.set(key, json.dumps(other))
            batcher = engine.store.batcher
            sent = batcher.commands
            second = await engine.update(3, {"name": "renamed"})
            assert batcher.commands - sent == 1  # the set script alone: no GET
            assert (second.bio, second.name, second.version) == (
                "pending",
                "renamed",
                first.version + 1,
            )
            with redis.Redis.from_url(redis_url) as client:
                client.delete(engine.store.prefix + "3")  # evicted behind its back
            third = await engine.update(3, {"bio": "third"})
            assert (third.name, third.version) == ("renamed", second.version + 1)
            assert await engine.read(3) == third
        finally:
            delete_namespace(redis_url, engine.store.namespace)


async def test_a_script_error_in_one_call_fails_that_caller_alone(redis_url):
    """Five sets go out in one pipeline; one fails inside its script (its key holds a
    hash someone set by hand: WRONGTYPE when the fill reads it). That caller gets the
    error; the other four are stored."""
    store = await started(redis_url, "pipelining-error")
    try:
        with redis.Redis.from_url(redis_url) as client:
            client.hset(store.prefix + "1", "set", "by hand")
        trips = store.batcher.round_trips
        results = await asyncio.gather(
            store.set(p(1), fill=True), *(store.set(p(u)) for u in range(2, 6)),
            return_exceptions=True,
        )  # fmt: skip
        assert store.batcher.round_trips - trips == 1
        assert isinstance(results[0], StoreUnavailable) and "WRONGTYPE" in str(results[0])
        assert results[1:] == [None] * 4
        assert [await store.get(u) for u in range(2, 6)] == [p(u) for u in range(2, 6)]
    finally:
        await store.close()
        delete_namespace(redis_url, "pipelining-error")


async def test_a_server_that_stops_answering_mid_pipeline_is_an_outage_and_then_in_step(
    private_redis,  # noqa: F811
):
    """A pipeline whose replies stop coming fails within the socket timeout (redis-py's
    retry sends it once more, on a new connection), as a direct call would; the
    replies that come late are never handed to the next pipeline's callers."""
    url = private_redis("--enable-debug-command", "yes")
    store = RedisStore(url, namespace="pipelining-late", capacity=1000, timeout=0.2)
    await store.start()
    try:
        await asyncio.gather(*(store.set(p(u)) for u in range(1, 6)))
        with redis.Redis.from_url(url) as other:
            blocker = asyncio.get_running_loop().run_in_executor(
                None, other.execute_command, "DEBUG", "SLEEP", "0.6"
            )
            await asyncio.sleep(0.1)  # the server is busy: the replies wait there
            late = await asyncio.gather(
                *(store.get(u) for u in range(1, 6)), return_exceptions=True
            )
            assert all(isinstance(r, StoreUnavailable) for r in late), late
            assert all("timed out" in str(r) for r in late), late
            await blocker
        # each caller gets its own value, not a reply left over from the late pipeline
        for _ in range(3):
            assert await asyncio.gather(*(store.get(u) for u in (5, 4, 3, 2, 1))) == [
                p(u) for u in (5, 4, 3, 2, 1)
            ]
    finally:
        await store.close()


async def test_an_update_cancelled_after_its_set_was_sent_leaves_no_trace(
    db_path,
    private_redis,  # noqa: F811
):
    """Reliability's unknown outcome, for the cache: a write-behind update whose set
    script is already on its way when the caller gives up may have run (it does here);
    the update was not acknowledged, so the user's entry is dropped after it (a delete
    that goes out after the pipeline in flight) and reads serve the acknowledged value."""
    url = private_redis("--enable-debug-command", "yes")
    config = EngineConfig(
        db_path=db_path, cache_url=url, policy="write-behind", flush_interval=60.0
    )
    async with Engine(config) as engine:
        await engine.seed(5)
        acknowledged = await engine.update(1, {"bio": "acknowledged"})  # pending: no GET next
        with redis.Redis.from_url(url) as other:
            blocker = asyncio.get_running_loop().run_in_executor(
                None, other.execute_command, "DEBUG", "SLEEP", "0.3"
            )
            await asyncio.sleep(0.1)
            given_up = asyncio.ensure_future(engine.update(1, {"bio": "given up"}))
            await asyncio.sleep(0.05)
            assert engine.store.batcher.queued == 0  # the set script is sent
            given_up.cancel()
            with pytest.raises(asyncio.CancelledError):
                await given_up
            await blocker
        assert await engine.read(1) == acknowledged
        with redis.Redis.from_url(url) as client:
            cached = client.get(engine.store.prefix + "1")
        assert cached is None or json.loads(cached)["bio"] == "acknowledged"
