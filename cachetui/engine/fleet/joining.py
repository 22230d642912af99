"""Entering and leaving the fleet queue (every ``redis://`` queue, docs/fleet.md): at
start, at close, and when the queue is switched live (``Engine.set_queue``, the app's
``D``).

Entering: a stream an older cachetui's single-owner ``redis://`` queue left with writes
in it is refused (this version does not read it; writing beside it would write under
them); then the fleet queue opens (the instance is a member and heartbeats) and its link
starts (partitions taken in turn, fed, landed). Leaving: the writes it holds land (its
partitions, and those left unowned when it is its turn); writes no other live member
would land keep it in the fleet (PendingWritesError), so nothing is left in Redis with
nobody to land it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cachetui.engine.core import EngineCore, perf_counter
from cachetui.engine.errors import DatabaseUnavailable, PendingWritesError
from cachetui.engine.fleet.fleet_queue import FleetQueue
from cachetui.engine.fleet.lander import FleetLink
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.stores.redis_url import mask_url


def old_stream_key(database_id: str) -> str:
    """The single-owner stream of cachetui before the fleet queue."""
    return f"cachetui:queue:{database_id}"


async def _left_in(url: str, database_id: str) -> tuple[int, int]:
    """Entries in the old single-owner stream, and in the fleet queue's partitions."""
    client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    key = old_stream_key(database_id)
    try:
        kind = await client.type(key)
        old = int(await client.xlen(key)) if kind in (b"stream", "stream") else 0
        partitions = int(await client.get(f"{key}:fleet:partitions") or 0)
        async with client.pipeline(transaction=False) as pipe:
            for k in range(partitions):
                pipe.xlen(f"{key}:fleet:p{k}")
            sizes = await pipe.execute()
    except (RedisError, OSError, ValueError) as exc:
        raise DatabaseUnavailable(f"cannot read the queue at {mask_url(url)}: {exc}") from exc
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    return old, sum(int(n) for n in sizes)


def _old_stream_line(count: int, url: str, database_id: str) -> str:
    writes = "write" if count == 1 else "writes"
    return (
        f"the redis stream {old_stream_key(database_id)} at {mask_url(url)} holds {count} "
        f"{writes} an older cachetui queued (its single-owner queue, which this version "
        "does not read): land them with that version, or delete the key to drop them"
    )


async def refuse_old_stream(url: str, database_id: str) -> None:
    """DatabaseUnavailable (one line, nothing changed) when the old stream of
    ``database_id`` on ``url`` still holds writes."""
    old, _ = await _left_in(url, database_id)
    if old:
        raise DatabaseUnavailable(_old_stream_line(old, url, database_id))


async def refuse_unlanded(cache_url: str, database_id: str) -> None:
    """Starting with another queue kind over a Redis cache: DatabaseUnavailable (one
    line) when that server holds writes of the database nobody is landing (the old
    stream's, or the fleet queue's: the registry let this start, so no fleet member is
    live). A queue beside them would write under them. A server that does not answer:
    nothing (the cache store's start says so)."""
    try:
        old, fleet = await _left_in(cache_url, database_id)
    except DatabaseUnavailable:
        return
    if old:
        raise DatabaseUnavailable(_old_stream_line(old, cache_url, database_id))
    if fleet:
        writes = "write" if fleet == 1 else "writes"
        raise DatabaseUnavailable(
            f"the fleet queue {old_stream_key(database_id)}:fleet at {mask_url(cache_url)} "
            f"holds {fleet} {writes} no running instance is landing: start with --queue "
            f"{mask_url(cache_url)} to land them (another queue would write under them)"
        )


async def enter(core: EngineCore, url: str) -> FleetQueue:
    """Open the fleet queue on ``url`` for ``core`` (not yet linked: :func:`link`).
    DatabaseUnavailable if Redis cannot be used, or holds an old stream's writes."""
    await refuse_old_stream(url, core.db.database_id)
    queue = FleetQueue(url, core.config.claim_after, core.config.instance_name or "")
    await queue.open(core.db.database_id)
    return queue


def link(core: EngineCore, flusher: Flusher, queue: FleetQueue) -> None:
    """``queue`` becomes the engine's journal, and its link starts ticking."""
    fleet = FleetLink(core, flusher, queue)
    fleet.start()
    core.outbox = queue
    core.fleet = fleet
    core.durable = True


async def leave(core: EngineCore, deadline: float) -> None:
    """Land what this instance holds of the fleet queue (the write queue is drained
    already) and unlink it; the queue stays open for the caller to close. If writes are
    left that no other live member would land (the database does not take them in
    time, or a dead member is not yet claimable), raise PendingWritesError and stay in."""
    fleet = cast(FleetLink, core.fleet)
    while True:  # tried again until the deadline: Redis or the database may come back
        await fleet.drain(deadline)
        left, error = len(core.queue), None
        try:
            status = await fleet.status()
            others = any(m.live and m.owner != status.me for m in status.members)
            if not others:
                left = max(left, await fleet.queue.count())
        except (DatabaseUnavailable, RedisError, OSError) as exc:
            error = DatabaseUnavailable(f"the {fleet.queue.path} cannot be read: {exc}")
        if error is None and (others or not left):
            break
        if perf_counter() >= deadline:
            fleet.start()  # still in: its ticks go on
            if error is not None:
                raise error
            where = fleet.queue.path
            raise PendingWritesError(left, f"they stay in the {where}: no one else lands them")
        _refeed(fleet)
        await asyncio.sleep(0.05)
    core.queue.clear()  # fed from Redis, still there: the others land them
    core.fleet = None


async def land_held(core: EngineCore, flusher: Flusher, op: int, deadline: float) -> None:
    """``Engine.flush()`` with the fleet queue: feed the partitions this instance holds
    and land them until they are empty (the writes of partitions other live members hold
    are theirs to land). PendingWritesError past ``deadline``."""
    fleet = cast(FleetLink, core.fleet)
    while True:
        try:
            fed = await fleet.tick()
            if len(core.queue):
                await flusher.flush_all(op, deadline, everything=True)
                continue
            sizes = await fleet.queue.sizes()
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the {fleet.queue.path}: {exc}") from exc
        leases = fleet.queue.leases
        left = sum(sizes.get(k, 0) for k in (leases.held if leases is not None else {}))
        if leases is not None:  # a partition nobody live holds yet is this one's to wait for
            live = set(leases.view.live)
            holders = leases.view.holders
            left += sum(n for k, n in sizes.items() if n and holders.get(k, ("", 0))[0] not in live)
        if not fed and not left:
            return
        if perf_counter() > deadline:
            raise PendingWritesError(left, f"they stay in the {fleet.queue.path}")
        if not fed:
            _refeed(fleet)
        await asyncio.sleep(0.01)


def _refeed(fleet: FleetLink) -> None:
    """Read the partitions held from their first entry again: an entry whose landing's
    ``XDEL`` failed (Redis did not answer) is past where feeding goes on, and would stay;
    fed again, it lands as recognised (in already) and is deleted."""
    leases = fleet.queue.leases
    if leases is not None:
        fleet.queue.lease_changes(list(leases.held))


async def forget(url: str, database_id: str) -> None:
    """Delete every key of the fleet queue of ``database_id`` on ``url`` (a throwaway
    copy's, when its run is over: ``cachetui bench``). Nothing if Redis does not answer."""
    prefix = f"{old_stream_key(database_id)}:fleet"
    client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    with contextlib.suppress(RedisError, OSError):
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    with contextlib.suppress(RedisError, OSError):
        await client.aclose()
