"""The smoke test of the two servers together (issue 27): every policy over PostgreSQL
rows behind a Redis cache (write-behind with its queue in a Redis Stream), each step
checked as an operator would, with the real ``psql`` and ``redis-cli``: the row and its
version in PostgreSQL, the cached value (or its absence) and the stream in Redis."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from cachetui.engine import Engine, EngineConfig
from tests.conftest import delete_namespace

pytestmark = pytest.mark.postgres


def psql(url: str, query: str) -> str:
    return subprocess.run(
        ["psql", url, "-XAtc", query], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def redis_cli(url: str, *command: str) -> str:
    return subprocess.run(
        ["redis-cli", "-u", url, "--no-raw", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def db_state(url: str, user_id: int) -> tuple[int, str]:
    """(version, bio) of the row, as psql shows it."""
    version, bio = psql(url, f"SELECT version, bio FROM profiles WHERE user_id = {user_id}").split(
        "|", 1
    )
    return int(version), bio


def cached(url: str, engine: Engine, user_id: int) -> tuple[int, str] | None:
    """(version, bio) of the cached value, as redis-cli GETs it; None when not cached."""
    key = f"cachetui:{engine.store.namespace}:profile:{user_id}"  # type: ignore[attr-defined]
    raw = redis_cli(url, "GET", key)
    if raw == "(nil)":
        return None
    value = json.loads(json.loads(raw))  # --no-raw quotes the JSON string
    return int(value["version"]), str(value["bio"])


@pytest.fixture
async def over_both(postgres_url, redis_url) -> AsyncIterator[Callable[..., Any]]:
    if shutil.which("psql") is None or shutil.which("redis-cli") is None:
        pytest.skip("psql and redis-cli are needed to look at the servers")
    engines: list[Engine] = []

    async def factory(policy: str) -> Engine:
        queue = redis_url if policy == "write-behind" else "memory://"
        config = EngineConfig(
            db_url=postgres_url,
            cache_url=redis_url,
            queue_url=queue,
            policy=policy,
            flush_interval=3600.0,
            flush_timeout=0.5,
        )
        engine = Engine(config)
        await engine.start()
        engines.append(engine)
        await engine.seed(5)
        return engine

    yield factory
    for engine in engines:
        await engine.close(timeout=2, discard=True)
        delete_namespace(redis_url, engine.store.namespace)  # type: ignore[attr-defined]
        stream = f"cachetui:queue:{engine.db.database_id}"  # type: ignore[attr-defined]
        redis_cli(redis_url, "DEL", stream)


@pytest.mark.parametrize("policy", ["write-through", "write-around", "write-behind", "no-cache"])
async def test_each_policy_over_postgresql_and_redis(over_both, postgres_url, redis_url, policy):
    engine = await over_both(policy)
    bio = f"over both servers, {policy}"
    before = await engine.read(3)  # a miss: the row, cached (but under no-cache)
    was = cached(redis_url, engine, 3)
    assert was == (None if policy == "no-cache" else (1, before.bio))
    acked = await engine.update(3, {"bio": bio})
    assert acked.version == 2
    stream = f"cachetui:queue:{engine.db.database_id}"
    if policy == "write-behind":  # in the cache and the stream, not yet in the rows
        assert cached(redis_url, engine, 3) == (2, bio)
        assert db_state(postgres_url, 3)[0] == 1
        assert int(redis_cli(redis_url, "XLEN", stream).split()[-1]) >= 1
        await engine.crash()  # the process's queue gone: the stream replays the write
        await engine.flush()
    assert db_state(postgres_url, 3) == (2, bio)  # landed, as psql reads it
    expected_cache = {
        "write-through": (2, bio),  # DB, then cache
        "write-around": None,  # DB, and the entry dropped
        "write-behind": (2, bio),  # Redis outlives the process; the row came from the stream
        "no-cache": None,  # the cache is never used
    }[policy]
    assert cached(redis_url, engine, 3) == expected_cache
    assert await engine.read(3) == acked
    filled = None if policy == "no-cache" else (2, bio)  # a miss fills it (not no-cache's)
    assert cached(redis_url, engine, 3) == filled
    assert engine.pending_writes() == []
