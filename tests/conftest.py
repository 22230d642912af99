"""Shared fixtures: engines over real SQLite files in a temporary directory, with the
in-process store and with a real Redis server (``make_engine`` runs each test on both)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, Profile

EngineFactory = Callable[..., Awaitable[Engine]]

#: Tests use their own logical database; each engine has its own key namespace (named
#: after its SQLite file) and the fixtures delete it afterwards.
TEST_REDIS_URL = os.environ.get("CACHETUI_TEST_REDIS", "redis://127.0.0.1:6379/15")


def redis_or_skip(url: str = TEST_REDIS_URL) -> str:
    """``url`` if a Redis server answers there; else skip — but fail under CI=true."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1) as client:
            client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis server at {url} ({exc}); start one or set CACHETUI_TEST_REDIS"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Redis: {reason}")
        pytest.skip(reason)
    return url


def delete_namespace(url: str, namespace: str) -> None:
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"cachetui:{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield redis_or_skip()


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    """Each engine test runs over the in-process store and over a real Redis."""
    return "memory://" if request.param == "memory" else redis_or_skip()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "profiles.db")


@pytest.fixture
async def make_engine(db_path: str, cache_url: str) -> AsyncIterator[EngineFactory]:
    """Build started engines over ``db_path`` seeded with 20 profiles, over the store
    ``cache_url`` names; closed at the end (without flushing: tests that care about
    close() call it themselves)."""
    engines: list[Engine] = []

    async def factory(policy: str = "write-through", seed: int = 20, **options: Any) -> Engine:
        options.setdefault("flush_interval", 3600.0)  # tests flush explicitly
        options.setdefault("flush_timeout", 0.5)
        options.setdefault("retry_base", 0.01)
        options.setdefault("retry_cap", 0.05)
        options.setdefault("cache_url", cache_url)
        config = EngineConfig(db_path=db_path, policy=policy, **options)
        engine = Engine(config)
        await engine.start()
        if seed:
            await engine.seed(seed)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        if engine.running:
            engine.faults.clear()
            await engine.close(timeout=2, discard=True)
        namespace = getattr(engine.store, "namespace", None)
        if namespace is not None:
            delete_namespace(engine.config.cache_url, namespace)


def db_row(path: str, user_id: int) -> Profile | None:
    """Read a row through a separate sqlite3 connection, as any SQLite client would."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT user_id, name, bio, location, followers, version, updated_at "
            "FROM profiles WHERE user_id = ?",
            (user_id,),
        ).fetchone()
    return None if row is None else Profile(*row)


def db_version(path: str, user_id: int) -> int | None:
    row = db_row(path, user_id)
    return None if row is None else row.version


@pytest.fixture(autouse=True)
def _collector_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line tunes the garbage collector for its whole process (see
    ``cachetui/app/collector.py``): a test calling it in-process must not leave the rest
    of the run frozen and tuned. (``tests/app/test_collector.py`` tests the tuning.)"""
    import cachetui.app.collector as collector

    monkeypatch.setattr(collector, "tune_collector", lambda: None)
