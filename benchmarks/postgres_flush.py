"""How fast write-behind lands a large queue in PostgreSQL: ``flush()`` of N distinct
pending users (default 100,000), at each batch size, median of ``--runs``.

    python benchmarks/postgres_flush.py --db postgresql://postgres@127.0.0.1:5432/cachetui_bench

Each run works in a schema of its own in that database (created and dropped), seeded
with N profiles by COPY; the updates are queued in memory (the in-process cache), then
one ``flush()`` is timed. Prints rows/s per batch size (and the seeding time).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from urllib.parse import quote

import psycopg
from psycopg import sql

from cachetui.engine import Engine, EngineConfig


def schema_url(url: str, schema: str) -> str:
    option = "options=" + quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}{option}"


async def one_run(url: str, users: int, batch: int) -> tuple[float, float]:
    schema = f"cachetui_bench_flush_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        config = EngineConfig(
            db_url=schema_url(url, schema),
            policy="write-behind",
            capacity=users,
            batch_size=batch,
            max_pending=users,
            flush_interval=3600,
            flush_timeout=600,
        )
        async with Engine(config) as engine:
            started = time.perf_counter()
            await engine.seed(users)
            seeded = time.perf_counter() - started
            for first in range(1, users + 1, 1000):  # cached: the updates take the fast path
                await asyncio.gather(
                    *(engine.read(u) for u in range(first, min(users + 1, first + 1000)))
                )
            for uid in range(1, users + 1):
                await engine.update(uid, {"followers": uid})
            started = time.perf_counter()
            await engine.flush()
            elapsed = time.perf_counter() - started
            assert engine.metrics.db_writes == users
        return users / elapsed, seeded
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (a database you own)")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    for batch in args.batch:
        rates, seeds = [], []
        for run in range(args.runs):
            rate, seeded = await one_run(args.db, args.users, batch)
            rates.append(rate)
            seeds.append(seeded)
            print(f"  batch {batch}: run {run + 1}: {rate:,.0f} rows/s", file=sys.stderr)
        print(
            f"batch_size {batch}: flush of {args.users:,} users: median "
            f"{statistics.median(rates):,.0f} rows/s (min {min(rates):,.0f}, max "
            f"{max(rates):,.0f}); seeding {args.users:,} by COPY: median "
            f"{statistics.median(seeds):.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
