"""How long an instance's in-process cache entry stays stale after another instance's
update, with and without ``--invalidate`` (issue 30 part 3; docs/fleet.md, "Near caches").

    python benchmarks/near_cache.py [--trials 30] [--window 2] [--redis redis://127.0.0.1:6379/15]

Two instances, two processes, over one SQLite file (WAL): this one (A) and a peer (B, a
child process of this script). Each trial: A reads a user (now cached), B updates it and
notes when its update returned (the acknowledgement, ``CLOCK_MONOTONIC``, which both
processes share), then A reads the user again and again until it sees B's version. The
staleness is the time from B's acknowledgement to A's first read of the new version; a
trial that never sees it within ``--window`` seconds counts as ">= window".

Modes: ``none`` (per-instance caches, no TTL: stale until evicted), ``ttl`` (the same
with ``--ttl 1``), ``invalidate`` (``--invalidate``, B write-through), ``invalidate-behind``
(``--invalidate``, B write-behind with ``--flush-interval 0.5``: A reads the database's
older row until B's write lands). One JSON line per mode: median, p90 and max in ms, and
how many trials never saw the new version. A benchmark, not a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from cachetui.engine import Engine, EngineConfig

MODES = {
    "none": ({}, {}),
    "ttl": ({"ttl": 1.0}, {"ttl": 1.0}),
    "invalidate": ({"invalidate": True}, {"invalidate": True}),
    "invalidate-behind": (
        {"invalidate": True},
        {"invalidate": True, "policy": "write-behind", "flush_interval": 0.5},
    ),
}


def config(db: str, redis_url: str, options: dict[str, object]) -> EngineConfig:
    options = dict(options)
    invalidate = redis_url if options.pop("invalidate", False) else None
    return EngineConfig(db_path=db, invalidate_url=invalidate, **options)  # type: ignore[arg-type]


async def peer(db: str, redis_url: str, mode: str) -> None:
    """B: update each user id read from stdin; print the acknowledgement's time (ns)."""
    loop = asyncio.get_running_loop()
    async with Engine(config(db, redis_url, MODES[mode][1])) as engine:
        print("ready", flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            user = int(line)
            profile = await engine.update(user, {"bio": f"b{time.monotonic_ns()}"})
            print(time.monotonic_ns(), profile.version, flush=True)


async def measure(db: str, redis_url: str, mode: str, trials: int, window: float) -> dict:
    engine = Engine(config(db, redis_url, MODES[mode][0]))
    await engine.start()
    await engine.seed(max(trials, 10))
    child = subprocess.Popen(  # noqa: ASYNC220 - the peer, started once
        [sys.executable, __file__, "--peer", db, "--redis", redis_url, "--mode", mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    stale_ms: list[float] = []
    never = 0
    try:
        for user in range(1, trials + 1):
            await engine.read(user)  # cached in A
            child.stdin.write(f"{user}\n")
            child.stdin.flush()
            acked_ns, version = map(int, child.stdout.readline().split())
            deadline = acked_ns + window * 1e9
            while (await engine.read(user)).version != version:
                if time.monotonic_ns() > deadline:
                    never += 1
                    break
                await asyncio.sleep(0.0002)
            else:
                stale_ms.append(max(0.0, (time.monotonic_ns() - acked_ns) / 1e6))
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        await engine.close()
    seen = sorted(stale_ms) + [window * 1000.0] * never
    return {
        "mode": mode,
        "trials": trials,
        "median_ms": round(statistics.median(seen), 2),
        "p90_ms": round(seen[int(0.9 * (len(seen) - 1))], 2),
        "max_ms": round(seen[-1], 2),
        "never_within_window": never,
        "window_s": window,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--mode", choices=list(MODES))
    parser.add_argument("--peer", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        await peer(args.peer, args.redis, args.mode)
        return
    for mode in [args.mode] if args.mode else list(MODES):
        with tempfile.TemporaryDirectory() as folder:
            db = os.path.join(folder, "p.db")
            result = await measure(db, args.redis, mode, args.trials, args.window)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
