"""One policy's run: a policy driven on a fresh copy of the database (flat out by default,
or as a sweep paces it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cachetui.bench.copies import RunCopies
from cachetui.bench.external import ExternalWriter
from cachetui.bench.verdicts import WHOLE_RUN, describe_broken, judge_history
from cachetui.bench.warmup import warm_up
from cachetui.engine import CacheTuiError, Engine, EngineConfig
from cachetui.engine.history.callers import set_caller
from cachetui.engine.lab.workload import Workload
from cachetui.engine.metrics.counters import LatencyHistogram
from cachetui.engine.stores.redis_store import RedisStore

#: Operations between two points where a flat-out caller hands the event loop over.
YIELD_EVERY = 32
#: An external writer below this share of --external-rate is said to have fallen behind.
KEPT_UP = 0.5
#: Drives a workload against its engine; returns (operations done, seconds taken).
Drive = Callable[[Workload], Awaitable[tuple[int, float]]]


def flat_out(args: argparse.Namespace) -> Drive:
    """``--ops`` operations by ``--concurrency`` callers, each starting its next operation
    as soon as its last one returns (closed loop: as fast as the engine goes)."""

    async def drive(workload: Workload) -> tuple[int, float]:
        remaining = args.ops
        slots = itertools.count()

        async def caller() -> None:
            nonlocal remaining
            set_caller(f"bench-{next(slots)}")
            while remaining > 0:
                remaining -= 1
                await workload.one()
                if not remaining % YIELD_EVERY:
                    # A hit (or a cold read on the loop's thread) never suspends: let the
                    # other callers, the flusher and a signal's handler have the loop.
                    await asyncio.sleep(0)

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
        return args.ops, time.perf_counter() - start

    return drive


def engine_config(
    args: argparse.Namespace, policy: str, where: dict[str, Any], history: str | None = None
) -> EngineConfig:
    """The configuration of a run of ``policy`` over the copy ``where`` (its db_path or
    db_url), from ``args`` (capacity, flush interval, batch size, queue bound, the
    database server's pool, timeout and link); its history streamed to ``history``, and
    kept whole in memory to be judged at the end."""
    server = {
        "db_pool": args.db_pool,
        "db_timeout": args.db_timeout,
        "db_rtt": args.db_rtt,
        "cache_rtt": args.cache_rtt,
        "jitter": args.jitter,
    }
    return EngineConfig(
        **where,
        **server,
        policy=policy,
        cache_url=args.cache,
        capacity=args.capacity,
        flush_interval=args.flush_interval,
        batch_size=args.batch_size,
        max_pending=args.max_pending,
        queue_url=args.queue if policy == "write-behind" else "memory://",
        history_ring=WHOLE_RUN,
        history_path=history,
    )


#: A row's keys in the order docs/performance.md ("Bench JSON") lists them; a key this
#: does not name (a sweep's) comes after them.
JSON_FIELDS = (
    "policy",
    "ops",
    "seconds",
    "warmup_s",
    "ops_per_s",
    "read_p50_us",
    "read_p99_us",
    "read_hit_p50_us",
    "read_miss_p50_us",
    "update_p50_us",
    "update_p99_us",
    "hit_ratio",
    "db_reads",
    "db_writes",
    "db_transactions",
    "coalesced",
    "peak_pending",
    "max_queue_wait_ms",
    "errors",
    "queue",
    "stale_pct",
    "max_stale_ms",
    "lost",
    "external_writes",
    "history",
)


def in_documented_order(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its keys in :data:`JSON_FIELDS`' order (the others after them)."""
    known = {key: row[key] for key in JSON_FIELDS if key in row}
    return known | {key: value for key, value in row.items() if key not in known}


async def run_policy(
    args: argparse.Namespace,
    policy: str,
    copies: RunCopies,
    drive: Drive | None = None,
    name: str | None = None,
    history: str | None = None,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """One policy on a fresh copy (named NAME: the policy by default), driven by ``drive``
    (default :func:`flat_out`) after ``warmup`` seconds of warm-up (:func:`warm_up`), its
    history streamed to the file ``history``; the copy is thrown away at the end."""
    name = name or policy
    where = await copies.fresh(name)
    try:
        config = engine_config(args, policy, where, history)
        return in_documented_order(await _run(args, policy, config, drive, name, warmup))
    finally:
        await copies.release(where)


async def _timed(
    drive: Drive, workload: Workload, writer: ExternalWriter | None
) -> tuple[int, float]:
    """The timed part: ``drive``, with the external writer writing while it runs."""
    if writer is None:
        return await drive(workload)
    task = asyncio.get_running_loop().create_task(writer.run())
    try:
        return await drive(workload)
    finally:
        writer.stop()
        await task


async def _run(
    args: argparse.Namespace,
    policy: str,
    config: EngineConfig,
    drive: Drive | None,
    name: str,
    warmup: float,
) -> dict[str, Any]:
    engine = Engine(config)
    if isinstance(engine.store, RedisStore):
        engine.store.ephemeral = True  # the copy's cache entries go when the copy does
    engine.history.run = f"bench {os.getpid()} {time.time():.0f} {name}"
    await engine.start()
    try:
        keys = await engine.db_count()
        workload = Workload(
            engine, keys=max(1, keys), read_ratio=args.read_ratio, skew=args.zipf, seed=args.seed
        )
        warm_errors = await warm_up(engine, args, max(1, keys), warmup)
        rate = getattr(args, "external_rate", None)
        writer = None
        if rate:
            writer = ExternalWriter(engine, rate, max(1, keys), args.zipf, args.seed)
        ops, seconds = await _timed(drive or flat_out(args), workload, writer)
        m = engine.metrics
        result = {
            "policy": policy,
            "ops": ops,
            "seconds": round(seconds, 4),
            "warmup_s": warmup,
            "ops_per_s": round(ops / seconds, 1),
            "read_p50_us": _us(m.read_p50),
            "read_p99_us": _us(m.read_p99),
            "read_hit_p50_us": _us(hits(engine).percentile(50)),
            "read_miss_p50_us": _us(engine.counters.miss_latency.percentile(50)),
            "update_p50_us": _us(m.update_p50),
            "update_p99_us": _us(m.update_p99),
            "hit_ratio": round(m.hit_ratio, 4),
            "db_reads": m.db_reads,
            "db_writes": m.db_writes,
            "db_transactions": m.db_transactions,
            "coalesced": m.coalesced,
            "peak_pending": m.peak_pending,
            "errors": workload.stats.errors
            + warm_errors
            + (0 if writer is None else writer.errors),
        }
        if writer is not None:
            result["external_writes"] = writer.writes
            if writer.writes < KEPT_UP * writer.rate * seconds:
                print(
                    f"cachetui bench: {policy}: the external writer made {writer.writes:,} "
                    f"writes, {writer.writes / seconds:,.0f}/s of the {writer.rate:,g}/s asked "
                    "(the flat-out callers left it too little time)",
                    file=sys.stderr,
                )
        if policy == "write-behind" and args.queue != "memory://":
            result["queue"] = args.queue
    except BaseException:
        # Stopped (a signal cancels the run) or failed: the copy is thrown away, so its
        # pending writes are dropped unflushed; the engine is still closed (aiosqlite's
        # threads would keep the process alive).
        try:
            with contextlib.suppress(CacheTuiError):
                await engine.crash()
        finally:
            await engine.close(timeout=0, discard=True)
        raise
    await engine.close()
    # close() flushed the queue: the longest a write waited is known only now
    result["db_writes"] = engine.metrics.db_writes
    result["db_transactions"] = engine.metrics.db_transactions
    result["max_queue_wait_ms"] = round(engine.metrics.max_queue_wait * 1000, 1)
    # The judge, after the timed part (in a thread: a signal is still heard meanwhile).
    engine.history.drain()
    verdicts = await asyncio.to_thread(judge_history, engine.history)
    broken = verdicts.pop("broken")
    result.update(verdicts)
    if config.history_path is not None:
        result["history"] = config.history_path
    if broken:
        print(describe_broken(policy, broken, config.history_path), file=sys.stderr)
    return result


def hits(engine: Engine) -> LatencyHistogram:
    """The latencies of the reads the cache served: every read's but the misses'."""
    counters = engine.counters
    return counters.read_latency.since(counters.miss_latency)


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)
