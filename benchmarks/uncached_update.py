"""A write-behind update of a user that is neither cached nor pending, beside one of a
cached user (issue 29 part 2 asks for the uncached one separately).

    python benchmarks/uncached_update.py [--users 5000]

The uncached update takes the slow path: the user's lock, then the current profile read
from the database (an aiosqlite round trip through its thread), because an update is a
partial change that needs the current row and its version. The second pass updates the
same users, now cached: the fast path, no await. A benchmark, not a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from cachetui.engine import Engine, EngineConfig


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    n = parser.parse_args().users
    with tempfile.TemporaryDirectory() as folder:
        config = EngineConfig(
            db_path=os.path.join(folder, "p.db"),
            policy="write-behind",
            capacity=100_000,
            flush_interval=3600,
            max_pending=1_000_000,
            batch_size=1_000_000,
        )
        async with Engine(config) as engine:
            await engine.seed(n)
            changes = {"bio": "x"}
            rates = []
            for _ in ("uncached", "cached"):
                start = time.perf_counter()
                for user in range(1, n + 1):
                    await engine.update(user, changes)
                rates.append(n / (time.perf_counter() - start))
            await engine.crash()  # do not time landing the queue
    for what, rate in zip(("uncached", "cached"), rates, strict=True):
        print(f"write-behind update, {what} user: {rate:,.0f}/s ({1e6 / rate:.1f} µs each)")


if __name__ == "__main__":
    asyncio.run(main())
