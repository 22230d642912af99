"""What durability costs: write-behind acknowledgement latency per queue, beside
write-through's commit, with one caller and with 16.

    python benchmarks/durable_queue.py                       # memory, outbox, write-through
    python benchmarks/durable_queue.py --redis redis://127.0.0.1:6379/9   # + a Redis Stream
    python benchmarks/durable_queue.py --seconds 5 --json

Each row runs ``--seconds`` of updates over 1,000 warm keys (in-process cache), each
caller awaiting its own update before the next (closed loop), and reports the caller's
latency p50/p99 in µs and the acknowledgements per second. Both the outbox and
write-through are SQLite group commits in WAL mode: the difference between them is what
each commit carries (an outbox row vs the guarded profile update) and what runs after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from cachetui.engine import Engine, EngineConfig

KEYS = 1_000


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(policy: str, queue: str, callers: int, seconds: float, folder: Path) -> dict:
    config = EngineConfig(
        db_path=str(folder / f"{policy}-{queue.split(':')[0]}-{callers}.db"),
        policy=policy,
        queue_url=queue,
        capacity=100_000,
        flush_interval=0.5,
        batch_size=1_000,
        max_pending=100_000,
    )
    engine = Engine(config)
    await engine.start()
    try:
        await engine.seed(KEYS)
        for uid in range(1, KEYS + 1):
            await engine.read(uid)  # warm: an update needs no database read
        latencies: list[float] = []
        stop = time.perf_counter() + seconds

        async def caller(offset: int) -> None:
            n = offset
            while time.perf_counter() < stop:
                n += callers
                start = time.perf_counter()
                await engine.update(1 + n % KEYS, {"followers": n})
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(callers)))
        elapsed = time.perf_counter() - began
        await engine.flush()
    finally:
        await engine.close()
    return {
        "policy": policy,
        "queue": queue if policy == "write-behind" else "-",
        "callers": callers,
        "acks_per_s": round(len(latencies) / elapsed),
        "p50_us": round(quantile(latencies, 0.50) * 1e6, 1),
        "p99_us": round(quantile(latencies, 0.99) * 1e6, 1),
        "mean_us": round(statistics.fmean(latencies) * 1e6, 1),
    }


async def main(seconds: float, redis_url: str | None, as_json: bool) -> None:
    cases = [("write-behind", "memory://"), ("write-behind", "sqlite://")]
    if redis_url:
        cases.append(("write-behind", redis_url))
    cases.append(("write-through", "memory://"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="cachetui-durable-") as tmp:
        for callers in (1, 16):
            for policy, queue in cases:
                row = await run(policy, queue, callers, seconds, Path(tmp))
                rows.append(row)
                if as_json:
                    print(json.dumps(row), flush=True)
    if as_json:
        return
    print(f"{'policy':<14} {'queue':<28} {'callers':>7} {'acks/s':>9} {'p50 µs':>9} {'p99 µs':>9}")
    for r in rows:
        print(
            f"{r['policy']:<14} {r['queue']:<28} {r['callers']:>7} {r['acks_per_s']:>9,} "
            f"{r['p50_us']:>9,} {r['p99_us']:>9,}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per row (default 3)")
    parser.add_argument("--redis", metavar="URL", help="also a Redis Stream queue on this server")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.redis, args.json))
