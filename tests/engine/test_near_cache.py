"""Two instances with in-process caches over one database (SQLite in WAL mode and
PostgreSQL), with and without ``invalidate_url``: a peer's update leaves a stale entry
(▲, counted by ``cachetui check`` over both histories) unless the instances announce
their changes on the database's Redis pub/sub channel; a killed subscription clears the
whole near cache and says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.errors import StoreUnavailable, ValidationError
from cachetui.engine.events import EventKind
from cachetui.engine.history.reader import load
from cachetui.engine.states import KeyState, key_state
from tests.conftest import BOTH_DATABASES, TEST_REDIS_URL

pytestmark = BOTH_DATABASES
TIMEOUT = 10.0  # a bound on waiting for a condition on a loaded machine, never a speed test


@pytest.fixture
def cache_url() -> str:
    """Per-instance caches: the in-process store only."""
    return "memory://"


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 - polling the engines' counters
            await asyncio.sleep(0.002)


async def state_of(engine: Engine, user_id: int) -> KeyState:
    cached = (await engine.cache_peek([user_id])).get(user_id)
    db = (await engine.db_rows([user_id])).get(user_id)
    return key_state(cached, None, db)


def stale_reads(*histories: Path) -> int:
    checker, _ = load([str(h) for h in histories])
    return checker.verdicts().counts().get("stale", 0)


async def two_instances(make_engine, tmp_path: Path, **options) -> tuple[Engine, Engine]:
    a = await make_engine(history_path=str(tmp_path / "a.jsonl"), **options)
    b = await make_engine(seed=0, history_path=str(tmp_path / "b.jsonl"), **options)
    return a, b


async def test_without_invalidate_a_peers_update_leaves_a_stale_entry_that_check_counts(
    make_engine, tmp_path
):
    a, b = await two_instances(make_engine, tmp_path)
    assert a.near_cache is None
    assert (await a.read(1)).version == 1
    assert (await b.update(1, {"name": "Bo"})).version == 2
    assert (await a.read(1)).version == 1  # served from a's own cache
    assert await state_of(a, 1) is KeyState.STALE  # ▲ on a's screen
    await a.close()
    await b.close()
    assert stale_reads(tmp_path / "a.jsonl", tmp_path / "b.jsonl") == 1


async def test_with_invalidate_a_peers_update_drops_the_entry_and_nothing_is_stale(
    make_engine, tmp_path, redis_url
):
    a, b = await two_instances(make_engine, tmp_path, invalidate_url=redis_url)
    assert a.near_cache is not None and b.near_cache is not None
    assert a.near_cache.channel == b.near_cache.channel == f"cachetui:invalidate:{a.db.database_id}"
    assert (await a.read(1)).version == 1
    assert (await b.update(1, {"name": "Bo"})).version == 2
    await until(lambda: a.near_cache.dropped == 1)
    assert (await a.read(1)).version == 2
    assert await state_of(a, 1) is KeyState.CLEAN
    dropped = [e for e in a.recent_events() if e.kind is EventKind.INVALIDATE]
    assert [(e.user_id, e.version) for e in dropped] == [(1, 2)]
    # b ignores its own announcement: its entry stays, its next read is a hit
    assert b.near_cache.dropped == 0 and (await b.cache_peek([1]))[1].version == 2
    await a.close()
    await b.close()
    assert stale_reads(tmp_path / "a.jsonl", tmp_path / "b.jsonl") == 0


async def test_a_write_behind_peer_announces_at_acknowledgement_and_at_landing(
    make_engine, tmp_path, redis_url
):
    a = await make_engine(invalidate_url=redis_url)
    b = await make_engine("write-behind", seed=0, invalidate_url=redis_url)
    listener = aioredis.Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(b.near_cache.channel)
    try:
        assert (await pubsub.get_message(timeout=TIMEOUT))["type"] == "subscribe"
        assert (await a.read(1)).version == 1
        await b.update(1, {"name": "Bo"})  # pending in b's queue
        ack = await pubsub.get_message(ignore_subscribe_messages=True, timeout=TIMEOUT)
        assert ack["data"].decode().split()[1:] == ["1:2"]
        await until(lambda: a.near_cache.dropped == 1)
        # Between acknowledgement and landing the database still has v1: a reads it, and
        # its near cache does not keep it (older than the version b announced).
        assert (await a.read(1)).version == 1
        assert await a.cache_peek([1]) == {}
        await b.flush()
        landing = await pubsub.get_message(ignore_subscribe_messages=True, timeout=TIMEOUT)
        assert landing["data"] == ack["data"]
        assert (await a.read(1)).version == 2
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_a_killed_subscription_clears_the_whole_near_cache_and_says_so(
    make_engine, redis_url
):
    a = await make_engine(invalidate_url=redis_url)
    b = await make_engine(seed=0, invalidate_url=redis_url)
    for user in range(1, 6):
        await a.read(user)
    assert await a.cache_size() == 5
    with redis.Redis.from_url(redis_url) as admin:
        ids = [
            c["id"]
            for c in admin.client_list(_type="pubsub")
            if c["name"] == a.near_cache.client_name
        ]
        assert len(ids) == 1
        admin.execute_command("CLIENT", "KILL", "ID", ids[0])
    await until(lambda: a.near_cache.clears >= 1)
    assert await a.cache_size() == 0
    lost = [e.detail for e in a.recent_events() if e.kind is EventKind.INVALIDATE]
    assert lost[0].startswith("near cache: the subscription was lost (")
    assert lost[0].endswith("every entry is dropped (cleared 5 entries)")
    # It subscribes again on its own, and a peer's change drops the entry again.
    await until(lambda: a.near_cache.subscribed)
    await a.read(1)
    await b.update(1, {"name": "Bo"})
    await until(lambda: a.near_cache.dropped == 1)
    assert (await a.read(1)).version == 2


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"invalidate_url": "http://127.0.0.1:6379"}, "invalidate_url: "),
        (
            {"invalidate_url": TEST_REDIS_URL, "cache_url": TEST_REDIS_URL},
            "invalidate_url makes per-instance caches a near cache: it needs cache_url='memory://'",
        ),
    ],
)
def test_bad_invalidate_urls_are_refused(tmp_path, options, problem):
    with pytest.raises(ValidationError, match="invalidate_url") as caught:
        EngineConfig(db_path=str(tmp_path / "p.db"), **options)
    assert str(caught.value).startswith(problem)


async def test_an_unreachable_invalidate_server_refuses_to_start(make_engine):
    with pytest.raises(
        StoreUnavailable, match=r"^cannot reach Redis at redis://127\.0\.0\.1:1/0: "
    ):
        await make_engine(invalidate_url="redis://127.0.0.1:1/0")
