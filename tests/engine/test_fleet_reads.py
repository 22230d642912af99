"""The fleet queue's heads, read and retired: two engines (two instances) on one database
(a SQLite file in WAL mode, or a PostgreSQL schema) and one real Redis.

- A read miss on one instance serves a write another instance acknowledged and nobody
  landed yet (read-your-writes across the fleet), and ``cachetui check`` over both
  histories finds no stale read.
- A head expires once its write landed; a parked conflict leaves a floor; a base read too
  long ago is refused by the sequencer: no version is ever used twice for a user.
- Landings announce the changed users to near caches (``invalidate_url``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from cachetui.cli.check import main as check_main
from cachetui.engine import Engine, EngineConfig
from cachetui.engine.fleet import fleet_queue
from cachetui.engine.fleet.scripts import EXPIRE_HEADS, SEQUENCE
from tests.conftest import delete_test_keys

TIMEOUT = 60.0  # seconds a step may take on a loaded machine (never a speed assertion)
USERS = 16


def config(db: str, redis_url: str, name: str, **more: Any) -> EngineConfig:
    where = {"db_url": db} if db.startswith("postgresql://") else {"db_path": db}
    options: dict[str, Any] = {"policy": "write-behind", "queue_url": redis_url, "fleet": True}
    options.update(instance_name=name, claim_after=5, **where)
    return EngineConfig(**(options | more))


async def until(check: Any, what: str) -> Any:
    """Poll ``check()`` (a coroutine function) until it returns something truthy."""
    deadline = time.monotonic() + TIMEOUT
    while not (found := await check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
    return found


async def user_held_by(a: Engine, b: Engine) -> int:
    """Once the two share the partitions (each holds half, as both see it), a user whose
    partition ``a`` holds: ``b`` never has its entries in its own queue."""

    async def shared() -> int | None:
        views = [await a.fleet_status(), await b.fleet_status()]
        for view in views:
            assert view is not None
            held = [m.partitions for m in view.members if m.live]
            if len(held) != 2 or sorted(map(len, held)) != [view.partitions // 2] * 2:
                return None
        me = views[0]
        assert me is not None
        mine = next(m.partitions for m in me.members if m.owner == me.me)
        return next(u for u in range(1, USERS + 1) if u % me.partitions in mine)

    return int(await until(shared, "the partitions were not shared"))


def forget(redis_url: str, folder: Path, *engines: Engine) -> None:
    with redis.Redis.from_url(redis_url) as client:
        for engine in engines:
            prefix = f"cachetui:queue:{engine.db.database_id}"
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
    delete_test_keys(redis_url, folder)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_miss_on_another_instance_reads_a_pending_fleet_write(
    backend: str, tmp_path: Path, redis_url: str, request: pytest.FixtureRequest, capsys: Any
) -> None:
    """Instance A acknowledges v2 (write-behind, not landed: A lands only at its close);
    instance B's read misses (SQLite: a shared Redis cache whose entry was dropped;
    PostgreSQL: B's own memory:// cache) and serves v2 from the fleet's head, not the
    database's v1. Both histories, judged together: no stale read, nothing lost."""
    if backend == "postgres":
        db, cache = str(request.getfixturevalue("postgres_url")), "memory://"
    else:
        db, cache = str(tmp_path / "fleet.db"), redis_url
    histories = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    quiet = {"flush_interval": 60.0, "batch_size": 10_000, "cache_url": cache}
    a = Engine(config(db, redis_url, "a", history_path=str(histories[0]), **quiet))
    b = Engine(config(db, redis_url, "b", history_path=str(histories[1]), **quiet))

    async def run() -> None:
        async with a, b:
            await a.seed(USERS)
            user = await user_held_by(a, b)
            written = await a.update(user, {"bio": "from a"})
            await b.invalidate(user)  # a shared cache's entry evicted: B misses
            read = await b.read(user)
            assert (read.version, read.bio) == (written.version, "from a")
            assert await a.fleet_pending()  # still pending: served from the head

    try:
        asyncio.run(run())
    finally:
        forget(redis_url, tmp_path, a)
    assert check_main([*map(str, histories), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["stale"] == counts["ryw"] == counts["lost"] == 0


def test_heads_expire_once_landed_and_versions_never_repeat(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A landed head expires (none left); the next update numbers on from the database's
    row. A write parked as a conflict (another program wrote the row) leaves a floor: the
    next update is numbered above the parked version, never with it again."""
    monkeypatch.setattr(fleet_queue, "HEAD_TTL", 0.5)
    db = str(tmp_path / "fleet.db")
    engines: list[Engine] = []

    async def heads(engine: Engine) -> list[bytes]:
        async with aioredis.Redis.from_url(redis_url) as client:
            pattern = f"cachetui:queue:{engine.db.database_id}:fleet:head:*"
            return [key async for key in client.scan_iter(match=pattern, count=1000)]

    async def run() -> None:
        first = Engine(config(db, redis_url, "a", flush_interval=60.0))
        engines.append(first)
        async with first:
            await first.seed(USERS)
            await first.update(1, {"bio": "one"})
            await first.update(1, {"bio": "two"})  # v3, on base v1
            await first.external_update(1, {"bio": "another program"})  # the row: v2
            await first.update(2, {"bio": "lands"})  # v2
        # closed: user 2 landed, user 1's v3 was parked (a conflict)
        again = Engine(config(db, redis_url, "a", flush_interval=0.05))
        engines.append(again)
        async with again:
            after = await again.update(1, {"bio": "after the conflict"})
            assert after.version == 4  # above the parked v3, built on the row's v2
            assert (await again.read(1)).bio == "after the conflict"
            landed = await again.update(2, {"bio": "on"})
            assert landed.version == 3
            await until(lambda: _none(again.fleet_pending), "not landed")
            await until(lambda: _none(lambda: heads(again)), "heads left after landing")
            next_one = await again.update(2, {"bio": "numbered from the database"})
            assert next_one.version == 4

    try:
        asyncio.run(run())
    finally:
        forget(redis_url, tmp_path, *engines)


async def _none(call: Any) -> bool:
    return not await call()


def test_a_base_read_before_a_head_expired_is_refused(redis_url: str) -> None:
    """The sequencer's answer "no head" gives the server's time; a base sent back after
    half the head's time to live may predate a head that landed and expired meanwhile,
    so it is refused (read again), never numbered on: v2 is not given twice."""
    prefix = f"cachetui:queue:test-{time.time_ns()}:fleet"
    head, stream = f"{prefix}:head:7", f"{prefix}:p7"
    row = ["user_id", 7, "name", "n", "bio", "b", "location", "l", "followers", 0]
    row += ["updated_at", "t", "write_id", ""]
    window = 50  # ms

    def sequence(client: redis.Redis, write_id: str, *base: Any) -> list[Any]:
        keys = [head, stream, f"{prefix}:void:{write_id}"]
        args = ["1", "o", write_id, "t", window, 1, json.dumps({"bio": "x"}), "bio", "x"]
        return list(client.eval(SEQUENCE, 3, *keys, *args, *base))  # type: ignore[arg-type]

    with redis.Redis.from_url(redis_url) as client:
        try:
            slow = sequence(client, "w:0:1")
            assert slow[0] == 0  # no head: read the database, call again with this time
            fast = sequence(client, "w:0:2")
            assert sequence(client, "w:0:2", fast[1], *row, "version", 1)[0] == 1  # v2
            client.eval(EXPIRE_HEADS, 1, head, 1, 2)  # v2 landed; its head expires
            time.sleep(window * 2 / 1000)
            assert not client.exists(head)
            again = sequence(client, "w:0:1", slow[1], *row, "version", 1)  # stale base
            assert again[0] == 0 and int(again[1]) > int(slow[1])
        finally:
            client.delete(head, stream)


def test_a_landing_is_announced_to_near_caches(tmp_path: Path, redis_url: str) -> None:
    """Two instances with memory:// near caches (``invalidate_url``): A's update is
    announced at its acknowledgement and again at its landing (by whichever instance
    lands it), and B's cached v1 is dropped: B reads v2."""
    db = str(tmp_path / "fleet.db")
    near = {"invalidate_url": redis_url, "flush_interval": 0.05}
    a = Engine(config(db, redis_url, "a", **near))
    b = Engine(config(db, redis_url, "b", **near))

    async def run() -> None:
        async with a, b:
            await a.seed(USERS)
            assert (await b.read(3)).version == 1  # cached by B
            near_cache = a.near_cache
            assert near_cache is not None
            async with aioredis.Redis.from_url(redis_url) as client:
                pubsub = client.pubsub()
                await pubsub.subscribe(near_cache.channel)
                written = await a.update(3, {"bio": "announced"})
                said: list[str] = []
                while len(said) < 2:  # at the acknowledgement, and at the landing
                    message = await pubsub.get_message(timeout=TIMEOUT)
                    assert message is not None, f"announcements: {said}"
                    if message["type"] == "message":
                        words = message["data"].decode().split()[1:]
                        said += [w for w in words if w == f"3:{written.version}"]
                await pubsub.aclose()
            assert (await b.read(3)).bio == "announced"

    try:
        asyncio.run(run())
    finally:
        forget(redis_url, tmp_path, a)


def test_an_acknowledged_fleet_write_is_pending_at_once(tmp_path: Path, redis_url: str) -> None:
    """Sequenced in Redis, not yet fed into this instance's write queue: the Write queue
    pane, the metrics and the pane snapshot count it pending from its acknowledgement on
    (each of a user's writes until the feed coalesces them), and flush() lands it."""
    db = str(tmp_path / "fleet.db")

    async def run() -> None:
        engine = Engine(config(db, redis_url, "a", flush_interval=3600.0))
        async with engine:
            await engine.seed(USERS)
            first = await engine.update(3, {"bio": "one"})
            second = await engine.update(3, {"bio": "two"})
            listed = {(w.user_id, w.version) for w in engine.pending_writes()}
            assert listed == {(3, second.version)} and second.version == first.version + 1
            m = engine.metrics
            assert m.pending >= 1 and m.updates == m.db_writes + m.coalesced + m.pending
            snapshot = await engine.pane_snapshot()
            assert snapshot.pending_count == 1 and snapshot.metrics.pending == m.pending
            await engine.flush()
            assert engine.pending_writes() == [] and engine.metrics.pending == 0
            assert (await engine.db_rows([3]))[3].version == second.version

    try:
        asyncio.run(run())
    finally:
        delete_test_keys(redis_url, tmp_path)
