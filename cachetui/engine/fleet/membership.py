"""The engine's registration in its database (see :mod:`.registry`): built from the
engine's config at start, stopped (and its row deleted) at close."""

from __future__ import annotations

import os
import socket

from cachetui.engine.core import EngineCore
from cachetui.engine.fleet.registry import (
    Heartbeat,
    PostgresRegistry,
    Registration,
    Registry,
    SQLiteRegistry,
)
from cachetui.engine.queue.outbox import this_owner
from cachetui.engine.queue.url import parse_queue_url

__all__ = ["Heartbeat", "join", "leave", "registration", "registry_of"]


def default_instance_name() -> str:
    """``host/pid``."""
    return f"{socket.gethostname()}/{os.getpid()}"


def registration(core: EngineCore, owner: str) -> Registration:
    """What the engine says of itself now (``owner``: its process, see :func:`this_owner`)."""
    config = core.config
    return Registration(
        token=core.instance,
        name=config.instance_name or default_instance_name(),
        policy=str(core.policy),
        queue=queue_kind(core),
        conflict=str(config.conflict),
        claim_after=float(config.claim_after),
        host=socket.gethostname(),
        owner=owner,
    )


def queue_kind(core: EngineCore) -> str:
    """ "memory", "sqlite", "redis", or "fleet" (a Redis URL with the fleet queue)."""
    kind = parse_queue_url(core.config.queue_url, core.db.path).kind
    return "fleet" if kind == "redis" and core.config.fleet else kind


def registry_of(core: EngineCore) -> Registry | None:
    """Where this engine registers (None: a ``:memory:`` database, shared by nobody)."""
    pooled = getattr(core.db, "pooled", None)
    if pooled is not None:
        return PostgresRegistry(pooled)
    if core.db.path == ":memory:":
        return None
    return SQLiteRegistry(core.db.path)


async def join(core: EngineCore) -> Heartbeat | None:
    """Register (FleetMismatch: refused, nothing left behind) and start beating."""
    registry = registry_of(core)
    if registry is None:
        return None
    owner = this_owner()
    heartbeat = Heartbeat(registry, lambda: registration(core, owner))
    try:
        await heartbeat.start()
    except BaseException:
        await heartbeat.stop()
        raise
    return heartbeat


async def leave(heartbeat: Heartbeat | None, *, remove: bool = True) -> None:
    """Stop beating; ``remove``: delete the registration (see :meth:`Heartbeat.stop`)."""
    if heartbeat is not None:
        await heartbeat.stop(remove=remove)
