"""Does the engine stay flat as the table grows? Seed 1k / 10k / 100k profiles, then run
the same short mixed workload at each size and report seeding time, ops/s, read/update
p50 and the process's memory.

    python benchmarks/scale.py                 # 1,000 / 10,000 / 100,000 profiles
    python benchmarks/scale.py --quick         # fewer operations
    python benchmarks/scale.py --json          # one JSON object per size

Each size runs in a fresh Python process (so its memory is its own), with the engine's
default cache capacity (1,000) and queue bound (10,000 pending writes). Two workloads,
90 % reads, 16 concurrent callers, write-behind by default:

- ``zipf-all``: Zipf s=1.1 over every profile (the hot set and the tail grow with the
  table, so the hit ratio falls: read the DB-reads column beside ops/s);
- ``zipf-1k``: Zipf s=1.1 over users 1..1,000 at every size: the same keys, so only the
  table size differs.

RSS is read from psutil when installed, else /proc/self/status (peak from getrusage).
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1_000, 10_000, 100_000)
WORKLOADS = (("zipf-all", None), ("zipf-1k", 1_000))


def rss_mib() -> float:
    """The process's resident memory now, in MiB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def one_size(size: int, ops: int, policy: str, concurrency: int) -> dict[str, Any]:
    """Runs in a worker process: seed ``size`` profiles, then each workload."""
    from cachetui.engine import Engine, EngineConfig
    from cachetui.engine.lab.workload import Workload

    result: dict[str, Any] = {"profiles": size, "policy": policy, "rss_start_mib": rss_mib()}
    with tempfile.TemporaryDirectory(prefix="cachetui-scale-") as tmp:
        db = Path(tmp) / "profiles.db"
        config = EngineConfig(db_path=str(db), policy=policy)  # default capacity and bounds
        result["capacity"] = config.capacity
        result["max_pending"] = config.max_pending
        async with Engine(config) as engine:
            start = time.perf_counter()
            await engine.seed(size)
            result["seed_s"] = round(time.perf_counter() - start, 3)
            result["rss_seeded_mib"] = rss_mib()
            for name, hot in WORKLOADS:
                keys = min(size, hot) if hot else size
                workload = Workload(engine, keys=keys, read_ratio=0.9, skew=1.1, seed=7)
                engine.reset_metrics()
                remaining = ops

                async def caller(workload: Workload = workload) -> None:
                    nonlocal remaining
                    while remaining > 0:
                        remaining -= 1
                        await workload.one()

                start = time.perf_counter()
                await asyncio.gather(*(caller() for _ in range(concurrency)))
                seconds = time.perf_counter() - start
                m = engine.metrics
                result[name] = {
                    "keys": keys,
                    "ops_per_s": round(ops / seconds, 1),
                    "read_p50_us": _us(m.read_p50),
                    "update_p50_us": _us(m.update_p50),
                    "hit_ratio": round(m.hit_ratio, 4),
                    "db_reads": m.db_reads,
                    "peak_pending": m.peak_pending,
                    "errors": workload.stats.errors,
                }
                del workload
            result["cache_entries"] = len(await engine.cache_entries())
            result["rss_end_mib"] = rss_mib()
        result["db_mib"] = round(_size(db) / 2**20, 1)
    result["rss_peak_mib"] = peak_rss_mib()
    for key in ("rss_start_mib", "rss_seeded_mib", "rss_end_mib", "rss_peak_mib"):
        result[key] = round(result[key], 1)
    return result


def _size(db: Path) -> int:
    return sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)


def run_worker(size: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        str(size),
        "--ops",
        str(args.ops),
        "--policy",
        args.policy,
        "--concurrency",
        str(args.concurrency),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    first = results[0]
    table = Table(
        title=f"{args.policy}, {args.ops:,} ops per workload, 90 % reads, Zipf 1.1, "
        f"{args.concurrency} callers · cache capacity {first['capacity']:,}, "
        f"queue bound {first['max_pending']:,}",
        caption=f"{os.cpu_count()} cores · latencies in µs · RSS in MiB (fresh process per "
        "size; start = after imports)",
    )
    table.add_column("profiles", justify="right")
    table.add_column("seed s", justify="right")
    table.add_column("DB MiB", justify="right")
    for name, _ in WORKLOADS:
        table.add_column(f"{name}\nops/s", justify="right")
        table.add_column(f"{name}\nread/upd p50", justify="right")
        table.add_column(f"{name}\nhits · DB reads", justify="right")
    table.add_column("RSS start → seeded → end (peak)", justify="right")
    for r in results:
        cells = [f"{r['profiles']:,}", f"{r['seed_s']:.2f}", f"{r['db_mib']:.1f}"]
        for name, _ in WORKLOADS:
            w = r[name]
            cells += [
                f"{w['ops_per_s']:,.0f}",
                f"{w['read_p50_us']:,.0f} / {w['update_p50_us']:,.0f}",
                f"{w['hit_ratio']:.0%} · {w['db_reads']:,}",
            ]
        cells.append(
            f"{r['rss_start_mib']:.0f} → {r['rss_seeded_mib']:.0f} → {r['rss_end_mib']:.0f} "
            f"({r['rss_peak_mib']:.0f})"
        )
        table.add_row(*cells)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/scale.py",
        description="Seed 1k/10k/100k profiles and run the same short mixed workload at "
        "each size: seeding time, ops/s, p50 latencies, memory.",
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated")
    parser.add_argument("--ops", type=int, default=None, help="ops per workload (20000)")
    parser.add_argument("--quick", action="store_true", help="5000 ops per workload")
    parser.add_argument("--policy", default="write-behind")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="one JSON object per size")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ops is None:
        args.ops = 5_000 if args.quick else 20_000
    if args.worker:
        print(
            json.dumps(asyncio.run(one_size(args.worker, args.ops, args.policy, args.concurrency)))
        )
        return 0

    from rich.console import Console
    from rich.progress import Progress

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    with Progress(console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task("scale", total=len(sizes))
        for size in sizes:
            progress.update(task, description=f"{size:,} profiles: seed + workloads")
            result = run_worker(size, args)
            results.append(result)
            if args.json:
                print(json.dumps(result), flush=True)
            progress.advance(task)
    if not args.json:
        print_table(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
