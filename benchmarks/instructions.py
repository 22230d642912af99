"""Instructions per operation of the engine's hot paths and of their peers, counted by
valgrind's cachegrind: a measure the machine's load does not move (wall-clock times on a
shared machine do), so a ratio of two counts is a stable proxy for the ratio of speeds.

    python benchmarks/instructions.py                 # every path, 10,000 and 30,000 ops
    python benchmarks/instructions.py read aio-get --small 10000 --large 30000
    python benchmarks/instructions.py --run read 10000   # one run (what cachegrind runs)

Each path runs twice under cachegrind, with ``--small`` and ``--large`` operations after
the same setup; (instructions of the large run − those of the small one) / (large −
small) is the cost of one operation, without the interpreter's start, the imports and
the setup. The loops are benchmarks/peers.py's (one await per call, 1,000 warm keys,
history recording on). A benchmark, not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cachetui.engine import Engine, EngineConfig

KEYS = 1_000
#: A smaller ring than the default (100,000), filled before the count starts: the
#: recorder's steady state (each record frees the one it replaces) without 100,000 runs.
RING = 8_192
WARM = 10_000
UNCACHED_USERS = 40_000  # seeded for behind-uncached (its largest run and the warm-up)
PATHS = {
    "read": "engine.read(), warm key, memory://",
    "aio-get": "aiocache SimpleMemoryCache.get",
    "behind": "engine.update(), write-behind, cached user",
    "behind-uncached": "engine.update(), write-behind, user neither cached nor pending",
    "aio-set": "aiocache SimpleMemoryCache.set",
    "through": "engine.update(), write-through, 1 caller",
    "aio-commit": "aiosqlite 1-row UPSERT + commit",
    "through64": "engine.update(), write-through, 64 callers (per row)",
    "aio-batch": "aiosqlite executemany 100 rows + commit (per row)",
    "read-norec": "read, with the recorder's read() a do-nothing function (history.py's)",
    "behind-norec": "behind, with the recorder's update() a do-nothing function",
    "record": "HistoryRecorder.update() alone (the loop's own cost subtracted)",
    "record-none": "the same loop without the recorder call",
}
PAIRS = (("read", "aio-get"), ("behind", "aio-set"), ("through", "aio-commit"),
         ("through64", "aio-batch"))  # fmt: skip
BIO = "Benchmarking the write-behind path, one update at a time."


def config(folder: str, policy: str, **more: Any) -> EngineConfig:
    # ``updated_at`` is formatted once per millisecond of the wall clock: under cachegrind
    # (~50× slower) every update would format it. This clock (a C callable, as time.time
    # is) moves 4 µs per call, about an update's native time, so the count sees the
    # formatting as often as a native run does.
    return EngineConfig(
        clock=itertools.count(1.75e9, 4e-6).__next__,
        db_path=os.path.join(folder, "i.db"),
        policy=policy,
        capacity=100_000,
        flush_interval=3600.0,
        batch_size=1_000_000,
        max_pending=1_000_000,
        history_ring=RING,
        **more,
    )


async def loop(call: Callable[[int], Awaitable[Any]], keys: list[int]) -> None:
    for key in keys:
        await call(key)


async def run(path: str, n: int) -> None:
    """Set up ``path``, then run ``n`` operations of it."""
    keys = [1 + i % KEYS for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="cachetui-instr-") as folder:
        if path in ("aio-get", "aio-set"):
            from aiocache import SimpleMemoryCache

            async with Engine(config(folder, "write-behind")) as engine:
                await engine.seed(KEYS)
                profiles = {u: await engine.read(u) for u in range(1, KEYS + 1)}
            aio = SimpleMemoryCache(timeout=None)
            for u, p in profiles.items():
                await aio.set(u, p)
            warm = [1 + i % KEYS for i in range(WARM)]
            if path == "aio-get":
                await loop(aio.get, warm)
                await loop(aio.get, keys)
            else:

                async def aio_set(u: int) -> None:
                    await aio.set(u, profiles[u])

                await loop(aio_set, warm)
                await loop(aio_set, keys)
            return
        if path in ("aio-commit", "aio-batch"):
            await peer_commits(folder, path, keys)
            return
        if path in ("record", "record-none"):
            record(path, n)
            return
        policy = "write-through" if path.startswith("through") else "write-behind"
        uncached = path == "behind-uncached"
        norec = path.endswith("-norec")
        path = path.removesuffix("-norec")
        async with Engine(config(folder, policy)) as engine:
            if norec:
                no_recording(engine)
            await engine.seed(UNCACHED_USERS if uncached else KEYS)
            changes = {"bio": BIO}

            async def update(u: int) -> Any:
                return await engine.update(u, changes)

            warm = [1 + i % KEYS for i in range(WARM)]
            if uncached:  # the users updated (1..n) stay neither cached nor pending
                keys = list(range(1, n + 1))
                await loop(engine.read, [UNCACHED_USERS - i % KEYS for i in range(WARM)])
            elif path == "read":
                await loop(engine.read, warm)
            else:  # write-through records a landing beside each update: half as many
                await loop(engine.read, warm[:KEYS])
                await loop(update, warm if policy == "write-behind" else warm[: WARM // 2])
            if path == "read":
                await loop(engine.read, keys)
            elif path == "through64":
                await asyncio.gather(*(loop(update, keys[j::64]) for j in range(64)))
            else:
                await loop(update, keys)
            await engine.crash()  # do not land the queue


def no_recording(engine: Engine) -> None:
    """The recorder's hot-path methods replaced by do-nothing ones (benchmarks/history.py's
    baseline: what recording costs beyond a call)."""

    def nothing(*args: object) -> None:
        return None

    engine.history.read = nothing  # type: ignore[method-assign]
    engine.history.update = nothing  # type: ignore[method-assign]


async def peer_commits(folder: str, path: str, keys: list[int]) -> None:
    import aiosqlite

    from cachetui.engine.database.sqlite_statements import UPSERT

    db = os.path.join(folder, "i.db")
    async with Engine(config(folder, "write-through")) as engine:
        await engine.seed(KEYS)
    conn = await aiosqlite.connect(db)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    version = dict.fromkeys(range(1, KEYS + 1), 1000)

    def row(u: int) -> tuple[Any, ...]:
        version[u] += 1
        v = version[u]
        return (u, f"User {u}", BIO, "Bench", u, v, "2026-01-01T00:00:00.000Z", f"peer:0:{v}")

    try:
        if path == "aio-commit":
            for u in keys:
                await conn.execute(UPSERT, row(u))
                await conn.commit()
        else:
            for i in range(0, len(keys), 100):
                await conn.executemany(UPSERT, [row(u) for u in keys[i : i + 100]])
                await conn.commit()
    finally:
        await conn.close()


def record(path: str, n: int) -> None:
    """The recorder's hot-path call alone, on a full ring (its steady state)."""
    from cachetui.engine.history.recorder import HistoryRecorder
    from cachetui.engine.profile import Profile

    recorder = HistoryRecorder(100_000)
    profile = Profile(7, "A", "b", "c", 1, 2, "t", "w:0:1")
    update = recorder.update
    clock = time.perf_counter
    for op in range(100_000):  # fill the ring
        update(0.0, 0.0, profile, "write-behind", op)
    if path == "record":
        for op in range(n):
            start = clock()
            update(start, start, profile, "write-behind", op)
    else:
        for op in range(n):
            start = clock()
            record = (start, start, profile, "write-behind", op)
        del record


def instructions(path: str, n: int, keep: str | None = None) -> int:
    """The instructions cachegrind counts in one ``--run path n`` (``keep``: a folder
    to leave cachegrind's file in, ``<path>.<n>.cg``, for ``cg_annotate --diff``)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(keep or folder) / (f"{path}.{n}.cg" if keep else "cg.out")
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
             sys.executable, __file__, "--run", path, str(n)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts each run
        )  # fmt: skip
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if found is None:
            raise SystemExit(f"no count from cachegrind for {path}:\n{done.stderr[-2000:]}")
        return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", choices=[*PATHS, []], help="default: all")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=30_000)
    parser.add_argument("--keep", metavar="DIR", help="keep cachegrind's files there")
    parser.add_argument("--run", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        asyncio.run(run(args.run[0], int(args.run[1])))
        return
    per_op: dict[str, float] = {}
    for path in args.paths or list(PATHS):
        small = instructions(path, args.small, args.keep)
        large = instructions(path, args.large, args.keep)
        per_op[path] = (large - small) / (args.large - args.small)
        print(f"{path:16} {per_op[path]:10,.0f} instructions/op   {PATHS[path]}", flush=True)
    for engine, peer in PAIRS:
        if engine in per_op and peer in per_op:
            print(f"{engine} vs {peer}: peer/engine instructions = "
                  f"{per_op[peer] / per_op[engine]:.2f}× (as a speed ratio)")  # fmt: skip
    for path in ("read", "behind"):
        if path in per_op and f"{path}-norec" in per_op:
            print(f"recording in {path}: {per_op[path] - per_op[f'{path}-norec']:,.0f} "
                  "instructions/op beyond a call")  # fmt: skip
    if "record" in per_op and "record-none" in per_op:
        print(f"recording: {per_op['record'] - per_op['record-none']:,.0f} instructions/op")


if __name__ == "__main__":
    main()
