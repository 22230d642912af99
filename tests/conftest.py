"""Shared fixtures: engines over real SQLite files in a temporary directory."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cachetui.engine import Engine, EngineConfig, Profile

EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "profiles.db")


@pytest.fixture
async def make_engine(db_path: str) -> AsyncIterator[EngineFactory]:
    """Build started engines over ``db_path`` seeded with 20 profiles; closed at the end
    (without flushing: tests that care about close() call it themselves)."""
    engines: list[Engine] = []

    async def factory(policy: str = "write-through", seed: int = 20, **options: Any) -> Engine:
        options.setdefault("flush_interval", 3600.0)  # tests flush explicitly
        options.setdefault("flush_timeout", 0.5)
        options.setdefault("retry_base", 0.01)
        options.setdefault("retry_cap", 0.05)
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
