"""The fleet queue, measured with real ``cachetui worker`` processes over one SQLite file
(WAL) and one Redis (docs/fleet.md, "Measured").

    python benchmarks/fleet.py --redis redis://127.0.0.1:6379/9 [--seconds 4] [--runs 3]

1. Throughput: 1, 2 and 3 workers, write-behind over the fleet queue, updates only
   (``--read-ratio 0``) over 1,000 users, each worker offered ``--rate`` ops/s (open
   loop); the fleet's ops/s is the sum of each worker's status lines, the middle ones
   (the first and last second left out), as the median over the runs.
2. Claiming: two workers; one is SIGKILLed (on this host: its process gone, seen at once)
   or SIGSTOPped (its heartbeat stops: claimed after the survivor's ``--claim-after 2``);
   the time from the signal until no entry that worker acknowledged is left in the
   queue (each one landed by the survivor and deleted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

from cachetui.engine import Engine, EngineConfig

USERS = 1_000


def seed(db: str) -> str:
    async def run() -> str:
        async with Engine(EngineConfig(db_path=db)) as engine:
            await engine.seed(USERS)
            return engine.db.database_id

    return asyncio.run(run())


def start(db: str, url: str, name: str, rate: int, *more: str) -> subprocess.Popen[str]:
    args = ["--db", db, "--policy", "write-behind", "--queue", url, "--name", name]
    args += ["--rate", str(rate), "--read-ratio", "0", "--zipf", "0", "--profiles", "0"]
    args += ["--flush-interval", "0.2", "--claim-after", "2", *more]
    return subprocess.Popen(
        [sys.executable, "-m", "cachetui", "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def forget(url: str, database_id: str) -> None:
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"cachetui:queue:{database_id}:*", count=1000))
        if keys:
            client.delete(*keys)


def throughput(url: str, workers: int, rate: int, seconds: float, folder: Path) -> float:
    db = str(folder / f"t{workers}-{time.monotonic_ns()}.db")
    database_id = seed(db)
    procs = [start(db, url, f"w{n}", rate, "--seconds", str(seconds)) for n in range(workers)]
    per_worker = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        ops = [float(line.split(": ", 1)[1].split(" ops/s")[0]) for line in out.splitlines()]
        middle = ops[1:-2] or ops  # the last line is the close's (0 ops/s)
        per_worker.append(statistics.mean(middle))
    forget(url, database_id)
    return sum(per_worker)


def time_to_claim(url: str, how: signal.Signals, folder: Path) -> float:
    """Seconds from the signal until no entry of the victim is left in the queue."""
    db = str(folder / f"k{how.name}-{time.monotonic_ns()}.db")
    database_id = seed(db)
    prefix = f"cachetui:queue:{database_id}:fleet"
    survivor = start(db, url, "survivor", 1000)
    victim = start(db, url, "victim", 1000, "--flush-interval", "60", "--batch-size", "100000")
    threading.Thread(target=survivor.communicate, daemon=True).start()
    assert victim.stdout is not None
    for _ in range(2):
        victim.stdout.readline()
    with redis.Redis.from_url(url) as client:
        owners = {v.decode(): k.decode() for k, v in client.hgetall(f"{prefix}:members").items()}
        owner = owners["victim"].encode()
        victim.send_signal(how)
        signalled = time.monotonic()
        while True:
            left = sum(
                1
                for k in range(int(client.get(f"{prefix}:partitions") or 8))
                for _, fields in client.xrange(f"{prefix}:p{k}")
                if fields.get(b"o") == owner
            )
            if not left:
                took = time.monotonic() - signalled
                break
            if time.monotonic() - signalled > 60:
                raise RuntimeError("the victim's writes were not claimed within 60 s")
            time.sleep(0.01)
    for proc in (victim, survivor):
        if how == signal.SIGSTOP:
            proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()
    forget(url, database_id)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=int, default=6000, help="offered ops/s per worker")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{os.cpu_count()} cores; offered {args.rate} updates/s per worker")
        for workers in (1, 2, 3):
            runs = [
                throughput(args.redis, workers, args.rate, args.seconds, folder)
                for _ in range(args.runs)
            ]
            print(
                f"{workers} worker{'s' if workers > 1 else ' '}: {statistics.median(runs):,.0f} "
                f"updates/s (runs: {', '.join(f'{r:,.0f}' for r in runs)})"
            )
        for how in (signal.SIGKILL, signal.SIGSTOP):
            runs = [time_to_claim(args.redis, how, folder) for _ in range(args.runs)]
            print(
                f"{how.name}: last claimed write landed {statistics.median(runs):.2f} s after "
                f"the signal (runs: {', '.join(f'{r:.2f}' for r in runs)})"
            )


if __name__ == "__main__":
    main()
