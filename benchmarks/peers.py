"""The engine beside its peers, in one run on this machine: ratios against targets.

    python benchmarks/peers.py            # full run (about a minute and a half on 2 cores)
    python benchmarks/peers.py --quick    # short run (under 20 s), noisier numbers
    python benchmarks/peers.py --json     # one JSON object: machine, settings, rows

Rows (issue 5): memory read hit vs aiocache / cashews / cachetools; write-behind update
vs aiocache set; write-through update (1 and 64 callers) vs aiosqlite single-row commits
and 100-row batches; a mixed 90/10 Zipf workload under each policy vs the plain
synchronous cache-aside + write-through pattern (dict + sqlite3, redis + sqlite3); Redis
read hit vs a raw ``redis.asyncio`` GET; with ``--db postgresql://…`` (issue 27), a
write-through update vs a bare guarded ``UPDATE … RETURNING`` and a no-cache read vs a bare
``SELECT`` by key, on PostgreSQL (benchmarks/peers_postgres.py).

How it measures: every side does the same number of operations, after a warm-up; each
measurement is repeated (default 3) with the engine and its peers interleaved, and the
best ops/s of the repetitions is kept. A per-call comparison awaits one call at a time in
the same plain ``for`` loop on both sides; cachetools (synchronous) is wrapped in an
``async def`` that returns ``lru.get(key)``, so it too costs one await per call. Peers
that are not installed, or Redis that does not answer, make their rows print
"not available: <reason>" instead of failing. A benchmark, not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachetui.engine import Engine, EngineConfig, Profile, ValidationError, WritePolicy
from cachetui.engine.database.sqlite_statements import COLUMNS, SCHEMA, UPSERT
from cachetui.engine.lab.demo_data import random_changes
from cachetui.engine.lab.workload import ZipfKeys
from cachetui.engine.profile import utc_timestamp

REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 14
PEER_PACKAGES = ("aiocache", "cashews", "cachetools", "aiosqlite", "redis", "hiredis", "rich")
GROUPS = ("read", "behind", "through", "mixed", "redis", "postgres")

#: Operations per side and measurement: (full run, --quick).
OPS = {
    "read": (200_000, 30_000),
    "behind": (100_000, 15_000),
    "through1": (2_000, 400),
    "through64": (20_000, 3_000),
    "mixed": (20_000, 3_000),
    "redis": (10_000, 1_500),
    "postgres": (3_000, 400),
}
MIXED_KEYS = 10_000
HOT_KEYS = 1_000  # keys cycled by the per-call rows (all cached)


# -- results ------------------------------------------------------------------------------
@dataclass
class Row:
    """One comparison: the engine's ops/s, a peer's ops/s and the ratio against a target."""

    group: str
    path: str
    engine: str
    peer: str
    target: float | None = None
    #: "target" (issue 5's bar), "aim" (reported, not a bar) or "info" (no bar)
    kind: str = "target"
    unit: str = "ops/s"
    engine_ops: float | None = None
    peer_ops: float | None = None
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.engine_ops or not self.peer_ops:
            return None
        return self.engine_ops / self.peer_ops

    @property
    def passed(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or self.target is None:
            return None
        return ratio >= self.target

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "group": self.group,
            "path": self.path,
            "engine": self.engine,
            "peer": self.peer,
            "unit": self.unit,
            "engine_ops_s": _round(self.engine_ops),
            "peer_ops_s": _round(self.peer_ops),
            "ratio": None if ratio is None else round(ratio, 3),
            "target": self.target,
            "target_kind": self.kind,
            "passed": self.passed,
            "status": self.status,
            **self.extra,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def unavailable(rows: list[Row], reason: str) -> list[Row]:
    for row in rows:
        row.status = f"not available: {reason}"
    return rows


# -- timing -------------------------------------------------------------------------------
Side = Callable[[int], Awaitable[float]]  # runs n operations, returns ops/s


async def race(
    sides: dict[str, Side], n: int, reps: int, warmup: int | None = None
) -> dict[str, dict[str, float]]:
    """Warm each side up, then time ``reps`` repetitions of ``n`` operations per side,
    interleaved (engine, peer, engine, peer, …) so that drift in the machine's load
    hits both alike. Returns best and median ops/s per side."""
    warm = max(1, n // 10) if warmup is None else warmup
    for side in sides.values():
        if warm:
            await side(warm)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(reps):
        for name, side in sides.items():
            gc.collect()
            rates[name].append(await side(n))
    return {
        name: {"best": max(values), "median": sorted(values)[len(values) // 2]}
        for name, values in rates.items()
    }


async def one_at_a_time(call: Callable[[Any], Awaitable[Any]], keys: Sequence[Any]) -> float:
    """Await ``call(key)`` for each key in turn; ops/s."""
    start = time.perf_counter()
    for key in keys:
        await call(key)
    return len(keys) / (time.perf_counter() - start)


async def concurrently(
    call: Callable[[Any], Awaitable[Any]], keys: Sequence[Any], callers: int
) -> float:
    """``callers`` tasks, each awaiting ``call(key)`` over its share of the keys; ops/s."""

    async def caller(share: Sequence[Any]) -> None:
        for key in share:
            await call(key)

    shares = [keys[i::callers] for i in range(callers)]
    start = time.perf_counter()
    await asyncio.gather(*(caller(share) for share in shares))
    return len(keys) / (time.perf_counter() - start)


def cycle(keys: Sequence[Any], n: int) -> list[Any]:
    return [keys[i % len(keys)] for i in range(n)]


# -- shared setup -------------------------------------------------------------------------
def config(folder: Path, name: str, **overrides: Any) -> EngineConfig:
    settings: dict[str, Any] = {
        "db_path": str(folder / f"{name}.db"),
        "cache_url": "memory://",
        "policy": WritePolicy.WRITE_BEHIND,
        "capacity": 100_000,
        "flush_interval": 3600.0,  # no flush while timing: the caller's view only
        "batch_size": 1_000_000,
        "max_pending": 1_000_000,
    }
    settings.update(overrides)
    return EngineConfig(**settings)


async def seeded_template(folder: Path, name: str, profiles: int) -> Path:
    path = folder / f"{name}.db"
    if not path.exists():
        async with Engine(EngineConfig(db_path=str(path))) as engine:
            await engine.seed(profiles)
    return path


def copy_db(template: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, target)
    return target


def missing(*modules: str) -> str | None:
    import importlib.util

    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"{', '.join(absent)} not installed" if absent else None


def redis_problem() -> str | None:
    """Why Redis on 127.0.0.1:6379 cannot be used, or None."""
    if missing("redis"):
        return "redis-py not installed"
    import redis

    client = redis.Redis(
        host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=1, socket_timeout=2
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} does not answer ({exc})"
    finally:
        client.close()
    return None


# -- 1. read hit, memory store ---------------------------------------------------------------
async def bench_read(folder: Path, n: int, reps: int) -> list[Row]:
    engine_label = "engine.read() warm key, memory://, events+metrics on"
    rows = [
        Row("read", "read hit, memory", engine_label, "aiocache SimpleMemoryCache.get", 2.0),
        Row("read", "read hit, memory", engine_label, "cashews mem:// get", None, "info"),
        Row("read", "read hit, memory", engine_label, "cachetools LRUCache.get (async def)", None,
            "info"),
    ]  # fmt: skip
    async with Engine(config(folder, "read")) as engine:
        await engine.seed(HOT_KEYS)
        users = list(range(1, HOT_KEYS + 1))
        profiles = [await engine.read(uid) for uid in users]  # warm: every key cached
        keys = cycle(users, n)
        sides: dict[str, Side] = {"engine": lambda k: one_at_a_time(engine.read, keys[:k])}

        if not missing("aiocache"):
            from aiocache import SimpleMemoryCache

            aio = SimpleMemoryCache(timeout=None)
            for p in profiles:
                await aio.set(p.user_id, p)
            sides["aiocache"] = lambda k: one_at_a_time(aio.get, keys[:k])
        if not missing("cashews"):
            from cashews import Cache

            cashews = Cache()
            cashews.setup(f"mem://?size={HOT_KEYS * 10}")
            for p in profiles:
                await cashews.set(f"profile:{p.user_id}", p)
            str_keys = [f"profile:{k}" for k in keys]
            sides["cashews"] = lambda k: one_at_a_time(cashews.get, str_keys[:k])
        if not missing("cachetools"):
            from cachetools import LRUCache

            lru: LRUCache[int, Profile] = LRUCache(maxsize=HOT_KEYS * 10)
            for p in profiles:
                lru[p.user_id] = p

            async def lru_get(key: int) -> Profile | None:
                return lru.get(key)

            sides["cachetools"] = lambda k: one_at_a_time(lru_get, keys[:k])

        result = await race(sides, n, reps)
    for row, peer in zip(rows, ("aiocache", "cashews", "cachetools"), strict=True):
        row.engine_ops = result["engine"]["best"]
        if peer in result:
            row.peer_ops = result[peer]["best"]
        else:
            row.status = f"not available: {peer} not installed"
    return rows


# -- 2. update, write-behind -----------------------------------------------------------------
async def bench_behind(folder: Path, n: int, reps: int) -> list[Row]:
    row = Row(
        "behind",
        "update, write-behind",
        'engine.update(uid, {"bio": …}) caller view, no flush while timed',
        "aiocache SimpleMemoryCache.set",
        1.0,  # issue 29 part 2: a cached user's update, recording on
    )
    from aiocache import SimpleMemoryCache  # only called when aiocache is installed

    async with Engine(config(folder, "behind")) as engine:
        await engine.seed(HOT_KEYS)
        users = list(range(1, HOT_KEYS + 1))
        profiles = [await engine.read(uid) for uid in users]
        keys = cycle(users, n)
        changes = {"bio": "Benchmarking the write-behind path, one update at a time."}

        async def update(uid: int) -> Profile:
            return await engine.update(uid, changes)

        aio = SimpleMemoryCache(timeout=None)
        by_user = {p.user_id: p for p in profiles}

        async def aio_set(uid: int) -> None:
            await aio.set(uid, by_user[uid])

        sides: dict[str, Side] = {
            "engine": lambda k: one_at_a_time(update, keys[:k]),
            "aiocache": lambda k: one_at_a_time(aio_set, keys[:k]),
        }
        result = await race(sides, n, reps)
        row.extra["coalesced"] = engine.metrics.coalesced
        row.extra["pending"] = engine.metrics.pending
    row.engine_ops = result["engine"]["best"]
    row.peer_ops = result["aiocache"]["best"]
    return [row]


async def bench_behind_or_skip(folder: Path, n: int, reps: int) -> list[Row]:
    if reason := missing("aiocache"):
        return unavailable(
            [
                Row(
                    "behind",
                    "update, write-behind",
                    "engine.update() caller view",
                    "aiocache SimpleMemoryCache.set",
                    1.0,
                )
            ],
            reason,
        )
    return await bench_behind(folder, n, reps)


# -- 3. update, write-through ----------------------------------------------------------------
async def open_peer_db(path: Path) -> Any:
    """An aiosqlite connection set up as the engine's (cachetui/engine/database/sqlite.py)."""
    import aiosqlite

    conn = await aiosqlite.connect(str(path))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.executescript(SCHEMA)
    await conn.commit()
    return conn


async def bench_through(folder: Path, n1: int, n64: int, reps: int) -> list[Row]:
    single = Row(
        "through",
        "update, write-through, 1 caller",
        "engine.update() awaited one at a time",
        "aiosqlite 1-row UPSERT + commit",
        0.9,
        unit="rows/s",
    )
    group = Row(
        "through",
        "update, write-through, 64 callers",
        "engine.update() from 64 concurrent callers, distinct users",
        "aiosqlite executemany 100 rows + commit",
        0.5,
        unit="rows/s",
    )
    users = list(range(1, 64 * 16 + 1))
    template = await seeded_template(folder, "through-template", len(users))
    engine_db = copy_db(template, folder / "through-engine.db")
    peer_db = copy_db(template, folder / "through-peer.db")
    cfg = config(folder, "through-engine", policy=WritePolicy.WRITE_THROUGH)
    changes = {"bio": "Benchmarking the write-through path: commit, then cache, then ack."}
    assert cfg.db_path == str(engine_db)
    async with Engine(cfg) as engine:
        for uid in users:
            await engine.read(uid)  # warm: the current profile comes from the cache
        conn = await open_peer_db(peer_db)
        try:
            # one version counter per user for the peer's rows: every write is a real change
            version = dict.fromkeys(users, 1000)
            stamp = utc_timestamp(time.time())

            def peer_row(uid: int) -> tuple[Any, ...]:
                version[uid] += 1
                write_id = f"peer:0:{version[uid]}"
                return (
                    uid,
                    f"User {uid}",
                    changes["bio"],
                    "Bench",
                    uid,
                    version[uid],
                    stamp,
                    write_id,
                )

            async def engine_update(uid: int) -> Profile:
                return await engine.update(uid, changes)

            async def peer_commit(uid: int) -> None:
                await conn.execute(UPSERT, peer_row(uid))
                await conn.commit()

            async def peer_batches(k: int) -> float:
                keys = cycle(users, k)
                batches = [keys[i : i + 100] for i in range(0, k, 100)]
                start = time.perf_counter()
                for batch in batches:
                    await conn.executemany(UPSERT, [peer_row(uid) for uid in batch])
                    await conn.commit()
                return k / (time.perf_counter() - start)

            # 64 callers, each with its own users: caller j updates j+1, j+65, j+129, …
            async def engine_64(k: int) -> float:
                return await concurrently(engine_update, cycle(users, k), 64)

            result1 = await race(
                {
                    "engine": lambda k: one_at_a_time(engine_update, cycle(users, k)),
                    "peer": lambda k: one_at_a_time(peer_commit, cycle(users, k)),
                },
                n1,
                reps,
            )
            engine.reset_metrics()
            result64 = await race({"engine": engine_64, "peer": peer_batches}, n64, reps)
            m = engine.metrics
            group.extra["engine_rows_per_transaction"] = round(
                m.db_writes / max(1, m.db_transactions), 1
            )
        finally:
            await conn.close()
    single.engine_ops, single.peer_ops = result1["engine"]["best"], result1["peer"]["best"]
    group.engine_ops, group.peer_ops = result64["engine"]["best"], result64["peer"]["best"]
    return [single, group]


# -- 4. mixed 90/10, Zipf s=1.1, 10,000 profiles ------------------------------------------------
SELECT_ONE = f"SELECT {COLUMNS} FROM profiles WHERE user_id = ?"


def open_sqlite3(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def plain_ops(n: int, seed: int) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """The same draws as ``Workload.one`` (cachetui/engine/lab/workload.py), in the same order:
    a Zipf key, then read (None) or update (random changes)."""
    rng = random.Random(seed)
    keys = ZipfKeys(MIXED_KEYS, 1.1, rng)
    for _ in range(n):
        user = keys.next()
        yield user, (None if rng.random() < 0.9 else random_changes(rng))


def plain_dict_sqlite3(db: Path, n: int, seed: int) -> tuple[float, float]:
    """The seed's plain pattern, synchronous: cache-aside read through a dict, write-through
    update (sqlite3 UPSERT + commit, then the dict). Returns (ops/s, hit ratio)."""
    conn = open_sqlite3(db)
    cache: dict[int, Profile] = {}
    hits = reads = 0
    try:

        def read(uid: int) -> Profile:
            nonlocal hits
            profile = cache.get(uid)
            if profile is None:
                profile = Profile(*conn.execute(SELECT_ONE, (uid,)).fetchone())
                cache[uid] = profile
            else:
                hits += 1
            return profile

        start = time.perf_counter()
        for uid, changes in plain_ops(n, seed):
            if changes is None:
                reads += 1
                read(uid)
            else:
                new = read(uid).apply(changes, utc_timestamp(time.time()), f"peer:0:{uid}")
                conn.execute(UPSERT, new.as_row())
                conn.commit()
                cache[uid] = new
        return n / (time.perf_counter() - start), hits / max(1, reads)
    finally:
        conn.close()


def plain_redis_sqlite3(db: Path, n: int, seed: int, prefix: str) -> tuple[float, float]:
    """The same pattern with Redis (sync redis-py, db 14, JSON values) as the cache."""
    import redis

    conn = open_sqlite3(db)
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    hits = reads = 0
    try:

        def read(uid: int) -> Profile:
            nonlocal hits
            raw = client.get(f"{prefix}{uid}")
            if raw is None:
                profile = Profile(*conn.execute(SELECT_ONE, (uid,)).fetchone())
                client.set(f"{prefix}{uid}", json.dumps(profile.as_row()))
                return profile
            hits += 1
            return Profile(*json.loads(raw))

        start = time.perf_counter()
        for uid, changes in plain_ops(n, seed):
            if changes is None:
                reads += 1
                read(uid)
            else:
                new = read(uid).apply(changes, utc_timestamp(time.time()), f"peer:0:{uid}")
                conn.execute(UPSERT, new.as_row())
                conn.commit()
                client.set(f"{prefix}{uid}", json.dumps(new.as_row()))
        return n / (time.perf_counter() - start), hits / max(1, reads)
    finally:
        conn.close()
        client.close()


def delete_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(batch), 1000):
            client.delete(*batch[i : i + 1000])
    finally:
        client.close()


async def bench_mixed(folder: Path, n: int, reps: int) -> list[Row]:
    from cachetui.bench.copies import FileCopies
    from cachetui.bench.policy_run import run_policy

    seed = 42
    template = await seeded_template(folder, "mixed-template", MIXED_KEYS)
    args = argparse.Namespace(
        ops=n,
        read_ratio=0.9,
        zipf=1.1,
        seed=seed,
        cache="memory://",
        capacity=MIXED_KEYS,  # the plain dict / Redis hold every key too: same hit ratio
        concurrency=16,
        flush_interval=0.5,  # bench's write-behind defaults
        batch_size=100,
        max_pending=10_000,
        queue="memory://",
        db_pool=10,
        db_timeout=10.0,
        db_rtt=None,
        cache_rtt=None,
        jitter=0.0,
    )
    policies = [p.value for p in WritePolicy]
    runs = folder / "mixed-runs"
    runs.mkdir(exist_ok=True)
    copies = FileCopies(args, runs)
    copies.template = template
    redis_reason = redis_problem()
    prefix = f"cachetui-peer-bench:{os.getpid()}:{uuid.uuid4().hex[:8]}:"

    async def engine_side(policy: str, k: int) -> float:
        args.ops = k
        result = await run_policy(args, policy, copies)
        engine_hits[policy] = result["hit_ratio"]
        return result["ops_per_s"]

    def dict_side(k: int) -> float:
        rate, peer_hits["dict"] = plain_dict_sqlite3(copy_db(template, runs / "d.db"), k, seed)
        return rate

    def redis_side(k: int) -> float:
        rep = uuid.uuid4().hex[:6]  # a cold cache every repetition, as the engine's
        rate, peer_hits["redis"] = plain_redis_sqlite3(
            copy_db(template, runs / "r.db"), k, seed, f"{prefix}{rep}:"
        )
        return rate

    engine_hits: dict[str, float] = {}
    peer_hits: dict[str, float] = {}

    async def sync(fn: Callable[[int], float], k: int) -> float:
        return fn(k)

    sides: dict[str, Side] = {
        p: (lambda k, p=p: engine_side(p, k)) for p in policies
    }  # fmt: skip
    sides["dict"] = lambda k: sync(dict_side, k)
    if redis_reason is None:
        sides["redis"] = lambda k: sync(redis_side, k)
    try:
        result = await race(sides, n, reps, warmup=max(200, n // 20))
    finally:
        if redis_reason is None:
            delete_redis_prefix(prefix)

    rows: list[Row] = []
    for policy in policies:
        engine_label = f"{policy}, memory://, 16 callers (cachetui bench)"
        targets = {"write-behind": (10.0, "target")}
        target, kind = targets.get(policy, (None, "info"))
        to_redis = Row(
            "mixed", f"mixed 90/10 Zipf 1.1, {policy}", engine_label,
            "redis + sqlite3, sync cache-aside + write-through", target, kind,
        )  # fmt: skip
        to_dict = Row(
            "mixed", f"mixed 90/10 Zipf 1.1, {policy}", engine_label,
            "dict + sqlite3 (WAL), sync cache-aside + write-through",
            1.0 if policy == "write-behind" else None,
            "aim" if policy == "write-behind" else "info",
        )  # fmt: skip
        for row, peer in ((to_redis, "redis"), (to_dict, "dict")):
            row.engine_ops = result[policy]["best"]
            row.extra["engine_hit_ratio"] = engine_hits.get(policy)
            if peer in result:
                row.peer_ops = result[peer]["best"]
                row.extra["peer_hit_ratio"] = round(peer_hits[peer], 4)
            else:
                row.status = f"not available: {redis_reason}"
        rows += [to_redis, to_dict]
    return rows


async def store_value_keys(
    engine: Engine, raw: Any, before: set[bytes], users: list[int]
) -> list[bytes]:
    """The Redis keys under which the engine's store keeps these users, or []."""
    prefix = getattr(engine.store, "prefix", None)
    if isinstance(prefix, str):
        keys = [f"{prefix}{uid}".encode() for uid in users]
        if all(value is not None for value in await raw.mget(keys)):
            return keys
    found: dict[int, bytes] = {}
    async for key in raw.scan_iter(count=1000):
        tail = key.rsplit(b":", 1)[-1]
        if key not in before and tail.isdigit() and await raw.type(key) == b"string":
            found[int(tail)] = key
    if all(uid in found for uid in users):
        return [found[uid] for uid in users]
    return []


# -- 5. read hit, Redis store -----------------------------------------------------------------
async def bench_redis(folder: Path, n: int, reps: int) -> list[Row]:
    label = f"engine.read() warm key, {REDIS_URL}"
    rows = [
        Row("redis", "read hit, Redis, 1 caller", label, "redis.asyncio GET, raw bytes", 0.8),
        Row("redis", "read hit, Redis, 16 callers", label, "redis.asyncio GET, raw bytes", 0.8),
    ]
    if reason := redis_problem():
        return unavailable(rows, reason)
    try:
        engine = Engine(
            config(folder, "redis", cache_url=REDIS_URL, policy=WritePolicy.WRITE_THROUGH)
        )
    except ValidationError as exc:
        return unavailable(rows, str(exc))

    import redis.asyncio as aioredis

    raw = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    before = {key async for key in raw.scan_iter(count=1000)}
    prefix = f"cachetui-peer-bench:{os.getpid()}:{uuid.uuid4().hex[:8]}:"
    store_keys: list[bytes] = []
    try:
        try:
            await engine.start()
        except Exception as exc:  # noqa: BLE001 - a store that cannot start: say why
            return unavailable(rows, f"{type(exc).__name__}: {exc}")
        try:
            await engine.seed(HOT_KEYS)
            users = list(range(1, HOT_KEYS + 1))
            profiles = [await engine.read(uid) for uid in users]  # warm
            # The same values: the store's own key of each user when it tells its prefix
            # (RedisStore.prefix), else the new plain-string keys ending in a user id,
            # else the profile's JSON under our own prefix.
            peer_keys = await store_value_keys(engine, raw, before, users)
            store_keys = list(peer_keys)
            if peer_keys:
                rows[0].extra["peer_value"] = "the Redis store's own keys"
            else:
                peer_keys = [f"{prefix}{p.user_id}".encode() for p in profiles]
                for key, p in zip(peer_keys, profiles, strict=True):
                    await raw.set(key, json.dumps(p.as_dict()))
                rows[0].extra["peer_value"] = "the profile as JSON"
            rows[1].extra["peer_value"] = rows[0].extra["peer_value"]
            keys = cycle(users, n)
            raw_keys = cycle(peer_keys, n)
            result1 = await race(
                {
                    "engine": lambda k: one_at_a_time(engine.read, keys[:k]),
                    "peer": lambda k: one_at_a_time(raw.get, raw_keys[:k]),
                },
                n,
                reps,
            )
            result16 = await race(
                {
                    "engine": lambda k: concurrently(engine.read, keys[:k], 16),
                    "peer": lambda k: concurrently(raw.get, raw_keys[:k], 16),
                },
                n,
                reps,
            )
            hits = engine.metrics.hit_ratio
            for row in rows:
                row.extra["engine_hit_ratio"] = round(hits, 4)
            with contextlib.suppress(Exception):
                await engine.store.clear()
        finally:
            await engine.close()
    finally:
        leftovers = [key async for key in raw.scan_iter(match=f"{prefix}*", count=1000)]
        leftovers += store_keys
        if leftovers:
            await raw.delete(*leftovers)
        await raw.aclose()
    rows[0].engine_ops, rows[0].peer_ops = result1["engine"]["best"], result1["peer"]["best"]
    rows[1].engine_ops, rows[1].peer_ops = result16["engine"]["best"], result16["peer"]["best"]
    return rows


# -- 6. PostgreSQL: write-through update and no-cache read vs the bare statements -----------
async def bench_postgres(url: str | None, n: int, reps: int) -> list[Row]:
    rows = [
        Row("postgres", "update, write-through, 1 caller, PostgreSQL",
            "engine.update() awaited one at a time", "psycopg guarded UPDATE … RETURNING, "
            "autocommit, one pooled connection", 0.83),
        Row("postgres", "read, no cache, PostgreSQL", "engine.read() awaited one at a time",
            "psycopg SELECT by key, one pooled connection", 0.83),
    ]  # fmt: skip
    if not url:
        return unavailable(rows, "give --db postgresql://… (a database you own)")
    from peers_postgres import sides

    try:
        async with sides(url) as groups:
            through = await race(groups["through"], n, reps)
            read = await race(groups["read"], n, reps)
    except Exception as exc:  # noqa: BLE001 - the row says why
        return unavailable(rows, f"PostgreSQL at {url.split('@')[-1]}: {exc}".splitlines()[0])
    for row, result in zip(rows, (through, read), strict=True):
        row.engine_ops, row.peer_ops = result["engine"]["best"], result["peer"]["best"]
    return rows


# -- the run ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    versions = {}
    for name in PEER_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        versions["cachetui"] = importlib.metadata.version("cachetui")
    except importlib.metadata.PackageNotFoundError:
        versions["cachetui"] = None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


async def run(args: argparse.Namespace) -> list[Row]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    pick = 1 if args.quick else 0

    def ops(name: str) -> int:
        return max(16, int(OPS[name][pick] * args.scale))

    groups = [g for g in GROUPS if g in args.only]
    rows: list[Row] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
        disable=args.no_progress,
    )
    labels = {
        "read": "read hit, memory: engine vs aiocache, cashews, cachetools",
        "behind": "write-behind update vs aiocache set",
        "through": "write-through update vs aiosqlite commits",
        "mixed": "mixed 90/10, each policy vs the plain sync pattern",
        "redis": "read hit, Redis store vs redis.asyncio GET",
        "postgres": "PostgreSQL: write-through update and no-cache read vs psycopg",
    }
    with tempfile.TemporaryDirectory(prefix="cachetui-peers-") as tmp, progress:
        folder = Path(tmp)
        task = progress.add_task("starting", total=len(groups))
        for group in groups:
            progress.update(task, description=labels[group])
            if group == "read":
                rows += await bench_read(folder, ops("read"), args.reps)
            elif group == "behind":
                rows += await bench_behind_or_skip(folder, ops("behind"), args.reps)
            elif group == "through":
                rows += await bench_through(folder, ops("through1"), ops("through64"), args.reps)
            elif group == "mixed":
                rows += await bench_mixed(folder, ops("mixed"), args.reps)
            elif group == "redis":
                rows += await bench_redis(folder, ops("redis"), args.reps)
            elif group == "postgres":
                rows += await bench_postgres(args.db, ops("postgres"), args.reps)
            progress.advance(task)
    return rows


def print_table(rows: list[Row], info: dict[str, Any], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    v = info["versions"]
    versions = " · ".join(f"{k} {v[k]}" for k in PEER_PACKAGES if v.get(k))
    table = Table(
        title="cachetui engine beside its peers (ratio = engine / peer; best of "
        f"{args.reps}, same ops per side)",
        caption=f"{info['cores']} cores · {info['implementation']} {info['python']} · "
        f"{info['platform']} · load {info['load_average'][0]} · {versions}",
    )
    table.add_column("path", no_wrap=True)
    table.add_column("peer", overflow="fold", max_width=34)
    table.add_column("engine", justify="right", no_wrap=True)
    table.add_column("peer", justify="right", no_wrap=True)
    table.add_column("ratio", justify="right", no_wrap=True)
    table.add_column("target", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    last_group = None
    for row in rows:
        if last_group is not None and row.group != last_group:
            table.add_section()
        last_group = row.group
        if row.status != "ok":
            table.add_row(row.path, row.peer, f"[yellow]{row.status}[/]", "", "", "", "")
            continue
        ratio, passed = row.ratio, row.passed
        if row.target is None:
            target, verdict = "–", ""
        else:
            target = f"{'aim ' if row.kind == 'aim' else '≥ '}{row.target:g}×"
            if row.kind == "aim":
                verdict = "[green]at/above[/]" if passed else "[yellow]below[/]"
            else:
                verdict = "[green]pass[/]" if passed else "[red]miss[/]"
        unit = " rows/s" if row.unit == "rows/s" else ""
        table.add_row(
            row.path,
            row.peer,
            f"{row.engine_ops:,.0f}{unit}",
            f"{row.peer_ops:,.0f}{unit}",
            f"{ratio:.2f}×",
            target,
            verdict,
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/peers.py",
        description="Measure the cachetui engine beside aiocache, cashews, cachetools, "
        "aiosqlite, sqlite3 and Redis in one run, and print each ratio against issue 5's "
        "target. Needs aiocache, cashews and cachetools installed for their rows "
        "(pip install -r benchmarks/requirements.txt) and Redis on 127.0.0.1:6379 "
        "(db 14) for the Redis rows; missing ones print 'not available'.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer operations (under 20 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no table")
    parser.add_argument(
        "--reps", type=int, default=3, metavar="N", help="repetitions per measurement, best kept"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every operation count by X (tests use a tiny X)",
    )
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        metavar="GROUPS",
        help=f"comma-separated subset of {','.join(GROUPS)} (default: all)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="a PostgreSQL URL for the postgres rows (a schema of their own is made and "
        "dropped there); without it they print 'not available'",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(args.only) - set(GROUPS))
    if unknown:
        parser.error(f"--only: unknown group(s) {', '.join(unknown)}; choose from {GROUPS}")
    if args.reps < 1 or args.scale <= 0:
        parser.error("--reps must be >= 1 and --scale > 0")
    info = machine()
    start = time.perf_counter()
    rows = asyncio.run(run(args))
    seconds = time.perf_counter() - start
    if args.json:
        out = {
            "machine": info,
            "settings": {"quick": args.quick, "reps": args.reps, "scale": args.scale},
            "seconds": round(seconds, 1),
            "rows": [row.as_json() for row in rows],
        }
        print(json.dumps(out, indent=1))
    else:
        print_table(rows, info, args)
        print(f"took {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
