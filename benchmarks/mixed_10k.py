"""10,000 mixed operations (80 % reads, Zipf s=1.1 over 1,000 profiles, 16 concurrent
callers) under each policy, then `engine.metrics` as the engine reports it.

    python benchmarks/mixed_10k.py [--ops N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from cachetui.engine import Engine, EngineConfig, WritePolicy
from cachetui.engine.workload import Workload


def us(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1e6:,.0f}µs"


async def run(policy: str, ops: int, folder: Path) -> None:
    config = EngineConfig(
        db_path=str(folder / f"{policy}.db"),
        policy=policy,
        capacity=200,
        flush_interval=0.5,
        batch_size=100,
    )
    async with Engine(config) as engine:
        await engine.seed(1000)
        workload = Workload(engine, keys=1000, read_ratio=0.8, skew=1.1, seed=1)
        start = time.perf_counter()
        remaining = ops

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await workload.one()

        await asyncio.gather(*(caller() for _ in range(16)))
        elapsed = time.perf_counter() - start
        m = engine.metrics
    print(
        f"{policy:<13} {ops / elapsed:>8,.0f} ops/s  reads {m.reads:,} hit ratio "
        f"{m.hit_ratio:.1%}  updates {m.updates:,}  db_reads {m.db_reads:,}  "
        f"db_writes {m.db_writes:,} in {m.db_transactions:,} tx  coalesced {m.coalesced:,}  "
        f"pending at end {m.pending}  peak pending {m.peak_pending}  evictions "
        f"{m.evictions:,}  retries {m.retries}  lost {m.lost_writes}  read p50/p99 "
        f"{us(m.read_p50)}/{us(m.read_p99)}  update p50/p99 {us(m.update_p50)}/"
        f"{us(m.update_p99)}"
    )


async def main(ops: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for policy in WritePolicy:
            await run(policy.value, ops, Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().ops))
