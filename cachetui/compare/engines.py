"""The two engines of ``cachetui compare``, each over its own database copy and its own
cache store (for Redis, its own namespace, deleted when the engine closes)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.preflight import check_servers
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.factory import make_store

if TYPE_CHECKING:
    from cachetui.compare.copies import DatabaseCopies, SchemaCopies
    from cachetui.compare.side_configs import Sides


def side_engine(config: EngineConfig) -> Engine:
    """An engine over ``config`` whose Redis namespace (if any) goes with it: the copy it
    names is temporary, so is its cache. StoreUnavailable if Redis does not answer."""
    store: CacheStore = make_store(config)
    check_servers(config)
    if not store.local:
        from cachetui.engine.stores.redis_store import RedisStore

        assert isinstance(store, RedisStore)
        store.ephemeral = True
    return Engine(config, store=store)


def on_copy(config: EngineConfig, copy: str) -> EngineConfig:
    """``config`` over ``copy``: a file's path, or a schema's URL on the same server."""
    if config.db_url is not None:
        return dataclasses.replace(config, db_url=copy, db_path="")
    return dataclasses.replace(config, db_path=copy)


def make_engines(sides: Sides, copies: DatabaseCopies | SchemaCopies) -> tuple[Engine, Engine]:
    """Engine A over copy ``a``, engine B over copy ``b``."""
    return side_engine(on_copy(sides.a, copies.a)), side_engine(on_copy(sides.b, copies.b))
