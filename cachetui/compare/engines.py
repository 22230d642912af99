"""The two engines of ``cachetui compare``, each over its own database copy and its own
cache store (for Redis, its own namespace, deleted when the engine closes)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.factory import make_store

if TYPE_CHECKING:
    from cachetui.compare.copies import DatabaseCopies
    from cachetui.compare.side_configs import Sides


def side_engine(config: EngineConfig) -> Engine:
    """An engine over ``config`` whose Redis namespace (if any) goes with it: the copy it
    names is temporary, so is its cache. StoreUnavailable if Redis does not answer."""
    store: CacheStore = make_store(config)
    if not store.local:
        from cachetui.engine.stores.redis_errors import check_reachable
        from cachetui.engine.stores.redis_store import RedisStore

        assert isinstance(store, RedisStore)
        check_reachable(config.cache_url)
        store.ephemeral = True
    return Engine(config, store=store)


def make_engines(sides: Sides, copies: DatabaseCopies) -> tuple[Engine, Engine]:
    """Engine A over copy ``a``, engine B over copy ``b``."""
    a = side_engine(dataclasses.replace(sides.a, db_path=copies.a))
    b = side_engine(dataclasses.replace(sides.b, db_path=copies.b))
    return a, b
