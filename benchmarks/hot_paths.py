"""One engine hot path in a tight loop, for a profiler to look at.

    python benchmarks/hot_paths.py read            # memory read hit, warm keys
    python benchmarks/hot_paths.py behind          # write-behind update (caller view)
    python benchmarks/hot_paths.py through         # write-through update, 1 caller
    python benchmarks/hot_paths.py through --callers 64   # … 64 concurrent callers
    py-spy record -r 2000 -f raw -o /tmp/read.txt -- python benchmarks/hot_paths.py read
    python -m pyinstrument benchmarks/hot_paths.py behind

The same loops as benchmarks/peers.py (one await per call, 1,000 warm keys, events and
metrics on), run for ``--seconds``; prints ops/s at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from cachetui.engine import Engine, EngineConfig

KEYS = 1_000


async def updates(engine: Engine, users: list[int], changes: dict[str, str]) -> None:
    for uid in users:
        await engine.update(uid, changes)


async def main(path: str, seconds: float, callers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cachetui-hot-") as tmp:
        config = EngineConfig(
            db_path=str(Path(tmp) / "hot.db"),
            policy="write-through" if path == "through" else "write-behind",
            capacity=100_000,
            flush_interval=3600.0,
            batch_size=1_000_000,
            max_pending=1_000_000,
        )
        async with Engine(config) as engine:
            await engine.seed(KEYS)
            users = list(range(1, KEYS + 1))
            for uid in users:
                await engine.read(uid)
            changes = {"bio": "Benchmarking the write-behind path, one update at a time."}
            done = 0
            deadline = time.perf_counter() + seconds
            start = time.perf_counter()
            while time.perf_counter() < deadline:
                if path == "read":
                    for uid in users:
                        await engine.read(uid)
                elif callers == 1:
                    for uid in users:
                        await engine.update(uid, changes)
                else:  # each caller its own users: j+1, j+1+callers, …
                    await asyncio.gather(
                        *(updates(engine, users[j::callers], changes) for j in range(callers))
                    )
                done += len(users)
            elapsed = time.perf_counter() - start
    print(f"{path}: {done:,} ops in {elapsed:.1f} s = {done / elapsed:,.0f} ops/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["read", "behind", "through"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--callers", type=int, default=1, help="concurrent updaters")
    args = parser.parse_args()
    asyncio.run(main(args.path, args.seconds, args.callers))
