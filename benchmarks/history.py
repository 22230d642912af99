"""The history's costs: recording (CPU per operation with and without it, on the hot
paths: read hits and write-behind updates in a local store), the checker's speed
(``load`` + ``verdicts`` of 100,000 and 1,000,000 operations with their landings and
final records) and how fast a history file grows at 20,000 operations a second.

    python benchmarks/history.py [--ops N] [--check 100000,1000000] [--recording-only] [--fill]
                                 [--checker-only] [--keep DIR]

A benchmark, not a test: it prints numbers; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import orjson

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.history import load

RING = 100_000  # the recorder's ring_size (HistoryRecorder's default)


def no_recording(engine: Engine) -> None:
    """The recorder's hot-path methods replaced by do-nothing ones (recording is always
    on: this is the baseline it is measured against)."""

    def nothing(*args: object) -> None:
        return None

    recorder = engine.history
    recorder.read = nothing  # type: ignore[method-assign]
    recorder.update = nothing  # type: ignore[method-assign]


async def cpu_per_op(
    ops: int, policy: str, recording: bool, history: str | None, fill: bool = False
) -> float:
    """CPU seconds of ``ops`` read hits (write-through) or updates (write-behind), with
    the ring full (its steady state: ``RING`` operations run first), or while it fills
    (``fill``: the first ``ops`` operations of an engine)."""
    with tempfile.TemporaryDirectory() as folder:
        config = EngineConfig(
            db_path=os.path.join(folder, "p.db"),
            policy=policy,
            capacity=2000,
            flush_interval=3600,
            max_pending=100_000,
            history_path=history,
        )
        async with Engine(config) as engine:
            await engine.seed(1000)
            for user in range(1, 1001):
                await engine.read(user)
            users = [random.randint(1, 1000) for _ in range(ops)]
            if not fill:
                for n in range(RING):
                    await engine.read(users[n % ops])
                    if not n % 5000:
                        await asyncio.sleep(0)
            if not recording:
                no_recording(engine)
            changes = {"bio": "x"}
            start = time.process_time()
            if policy == "write-behind":
                for n, user in enumerate(users):
                    await engine.update(user, changes)
                    if not n % 5000:
                        await asyncio.sleep(0)  # the drain task runs as it would
            else:
                for n, user in enumerate(users):
                    await engine.read(user)
                    if not n % 5000:
                        await asyncio.sleep(0)
            spent = time.process_time() - start
            await engine.crash()  # do not time landing the queue
    return spent


def synthetic(path: Path, ops: int, users: int = 1000) -> None:
    """A history of ``ops`` operations (80 % reads) of one write-through instance, each
    write landed, then a final record per user."""
    state = dict.fromkeys(range(1, users + 1), (1, None))
    rng = random.Random(1)
    t = 10**12
    tx = 0
    lines = [orjson.dumps({"type": "header", "instance": "i", "host": "h", "boot_id": "b"})]
    for n in range(1, ops + 1):
        user = rng.randint(1, users)
        version, wid = state[user]
        op = "read"
        if rng.random() < 0.2:
            op, version, wid = "update", version + 1, f"i:0:{n}"
            tx += 1
            state[user] = (version, wid)
            lines.append(
                orjson.dumps(
                    {"type": "landing", "write_id": wid, "user": user, "version": version,
                     "tx": tx, "ns": t + 40}
                )
            )  # fmt: skip
        lines.append(
            orjson.dumps(
                {"type": "op", "op": op, "caller": f"bench-{n % 8}", "user": user,
                 "write_id": wid, "version": version, "outcome": "ok",
                 "policy": "write-through", "queue": "memory://", "invoke_ns": t,
                 "complete_ns": t + 50, "op_id": n}
            )
        )  # fmt: skip
        t += 100
    for user, (version, wid) in state.items():
        lines.append(
            orjson.dumps(
                {"type": "final", "user": user, "db_version": version, "db_write_id": wid,
                 "pending": [], "parked": None, "cache": None, "policy": "write-through",
                 "ns": t}
            )
        )  # fmt: skip
    path.write_bytes(b"\n".join(lines) + b"\n")


async def growth(folder: str, ops: int) -> tuple[float, float]:
    """Bytes per operation of a real history (80 % reads, write-behind), and MB per
    second at 20,000 operations a second."""
    path = os.path.join(folder, "growth.jsonl")
    config = EngineConfig(
        db_path=os.path.join(folder, "g.db"), policy="write-behind", history_path=path
    )
    async with Engine(config) as engine:
        await engine.seed(1000)
        rng = random.Random(2)
        for _ in range(ops):
            user = rng.randint(1, 1000)
            if rng.random() < 0.8:
                await engine.read(user)
            else:
                await engine.update(user, {"bio": "x"})
    per_op = Path(path).stat().st_size / ops  # noqa: ASYNC240 - once, after the run
    return per_op, per_op * 20_000 / 1e6


def checker_rows(sizes: str, keep: str | None) -> None:
    """The checker's time (``load`` + ``verdicts``) on synthetic histories of these
    sizes (comma-separated), written to ``keep`` when given (else a temporary folder)."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(keep or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for n in (int(x) for x in sizes.split(",")):
            path = folder / f"h{n}.jsonl"
            if not path.exists():
                synthetic(path, n)
            cpu = time.process_time()
            start = time.perf_counter()
            checker, _ = load([str(path)])
            loaded = time.perf_counter() - start
            report = checker.verdicts()
            total = time.perf_counter() - start
            cpu = time.process_time() - cpu
            size = path.stat().st_size / 1e6
            print(
                f"checker: {n:,} operations ({size:.0f} MB): {total:.2f} s "
                f"(reading {loaded:.2f} s, judging {total - loaded:.2f} s; CPU {cpu:.2f} s), "
                f"{sum(report.counts().values())} violations"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--check", default="100000,1000000")
    parser.add_argument(
        "--recording-only", action="store_true", help="only the CPU per operation rows"
    )
    parser.add_argument(
        "--fill", action="store_true", help="time the first operations (the ring filling)"
    )
    parser.add_argument(
        "--checker-only", action="store_true", help="only the checker's rows (no recording)"
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="write the synthetic histories here (h100000.jsonl, …)"
    )
    args = parser.parse_args()
    if args.checker_only:
        checker_rows(args.check, args.keep)
        return
    state = "while the ring fills" if args.fill else "ring full"
    print(f"recording: CPU seconds per {args.ops:,} operations (best of 3, {state})")
    for policy, what in (("write-through", "read hits"), ("write-behind", "updates")):
        base = min([await cpu_per_op(args.ops, policy, False, None, args.fill) for _ in range(3)])
        ring = min([await cpu_per_op(args.ops, policy, True, None, args.fill) for _ in range(3)])
        with tempfile.TemporaryDirectory() as folder:
            file = os.path.join(folder, "h.jsonl")
            streamed = min(
                [await cpu_per_op(args.ops, policy, True, file, args.fill) for _ in range(3)]
            )
        added = (ring - base) / args.ops * 1e9
        print(
            f"  {what:10} ({policy}): without {base:.3f} s, ring {ring:.3f} s "
            f"(+{added:.0f} ns/op), ring + file {streamed:.3f} s "
            f"(+{(streamed - base) / args.ops * 1e9:.0f} ns/op, the encoding in its thread)"
        )
    if args.recording_only:
        return
    checker_rows(args.check, args.keep)
    with tempfile.TemporaryDirectory() as folder:
        per_op, mb_s = await growth(folder, 50_000)
        print(
            f"file growth: {per_op:.0f} bytes per operation (80 % reads, write-behind) → "
            f"{mb_s:.1f} MB/s at 20,000 ops/s ({mb_s * 3600 / 1000:.1f} GB an hour)"
        )


if __name__ == "__main__":
    asyncio.run(main())
