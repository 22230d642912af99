"""The warm-up before a flat-out run's timed part: the same kind of workload, driven the
same way, for ``--warmup`` seconds, then the counters start again from zero.

A benchmark measures the steady state (JMH's warm-up iterations, YCSB's load phase before
its run phase): a cache that starts empty makes its first reads of each key misses, and
a short run then measures the filling of the cache more than the policy. Every policy
gets the same warm-up, no-cache included (its pool's connections and the server's
buffers warm up too); ``--warmup 0`` measures a cold start.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from cachetui.engine import Engine
from cachetui.engine.history.callers import set_caller
from cachetui.engine.lab.workload import Workload

#: Seconds of warm-up by default.
DEFAULT_WARMUP = 2.0
#: Operations between two points where a warming caller hands the event loop over.
YIELD_EVERY = 32


async def warm_up(engine: Engine, args: argparse.Namespace, keys: int, seconds: float) -> int:
    """``seconds`` of ``args.concurrency`` flat-out callers over a workload like the timed
    one (same keys, skew and read ratio; a seed of its own, so that the timed part runs
    the very operations a cold run would), then the engine's counters reset. Returns the
    operations that failed (counted with the run's errors)."""
    if seconds <= 0:
        return 0
    workload = Workload(
        engine, keys=keys, read_ratio=args.read_ratio, skew=args.zipf, seed=args.seed + 1
    )
    deadline = time.perf_counter() + seconds

    async def caller(slot: int) -> None:
        set_caller(f"bench-warmup-{slot}")
        done = 0
        while time.perf_counter() < deadline:
            await workload.one()
            done += 1
            if not done % YIELD_EVERY:
                await asyncio.sleep(0)  # a hit never suspends: let the others run

    await asyncio.gather(*(caller(slot) for slot in range(args.concurrency)))
    engine.reset_metrics()
    return workload.stats.errors
