"""``cachetui bench``: the same seeded workload under each policy, side by side."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cachetui.cli.options import (
    CACHE_HELP,
    cache_url_argument,
    check_db_argument,
    queue_url_argument,
)
from cachetui.engine import (
    CacheTuiError,
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    StoreUnavailable,
    WritePolicy,
)
from cachetui.engine.lab.workload import Workload
from cachetui.engine.stores.redis_store import RedisStore, check_reachable
from cachetui.engine.stores.redis_url import is_redis_url, mask_url


def number_type(kind: type, low: float, high: float | None = None, *, above: bool = False) -> Any:
    """An argparse type: a ``kind`` number >= ``low`` (> ``low`` with ``above``), <= ``high``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):  # nan, inf
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = value <= low if above else value < low
        if too_low or (high is not None and value > high):
            if high is not None:
                bounds = f"between {low:g} and {high:g}"
            else:
                bounds = f"{'>' if above else '>='} {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


class _Given(argparse.Action):
    """Stores the value like ``store`` and notes that the option was given (``args.given``):
    a sweep refuses options it would override or ignore."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {*namespace.given, self.dest}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui bench",
        description="Run the same seeded workload (Zipf-skewed keys, a read/write mix, C "
        "concurrent callers) under each write policy and the no-cache baseline, each on "
        "a fresh copy of the same database, and compare.",
    )
    policies = ["all", *(p.value for p in WritePolicy)]
    parser.add_argument(
        "--policy",
        action=_Given,
        choices=policies,
        default="all",
        help="default all (with --sweep: write-behind)",
    )
    parser.add_argument(
        "--ops",
        action=_Given,
        type=number_type(int, 1),
        default=20_000,
        metavar="N",
        help="operations per policy (default 20000; not with --sweep, which runs paced)",
    )
    parser.add_argument(
        "--keys",
        type=number_type(int, 1),
        default=10_000,
        metavar="N",
        help="profiles in the database (default 10000)",
    )
    parser.add_argument(
        "--read-ratio",
        action=_Given,
        type=number_type(float, 0, 1),
        default=0.9,
        metavar="R",
        help="share of reads, 0–1 (default 0.9)",
    )
    parser.add_argument(
        "--zipf",
        action=_Given,
        type=number_type(float, 0),
        default=1.1,
        metavar="S",
        help="key skew, Zipf exponent; 0 = uniform (default 1.1)",
    )
    parser.add_argument(
        "--concurrency",
        action=_Given,
        type=number_type(int, 1),
        default=16,
        metavar="C",
        help="concurrent callers (default 16; not with --sweep)",
    )
    parser.add_argument(
        "--capacity",
        action=_Given,
        type=number_type(int, 1),
        default=1000,
        metavar="N",
        help="cache capacity (default 1000)",
    )
    parser.add_argument(
        "--cache", type=cache_url_argument, default="memory://", metavar="URL", help=CACHE_HELP
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="start from a copy of this SQLite file (default: seed a new one)",
    )
    parser.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per policy instead of a table"
    )
    behind = parser.add_argument_group("write-behind")
    behind.add_argument(
        "--flush-interval",
        action=_Given,
        type=number_type(float, 0, above=True),
        default=0.5,
        metavar="S",
        help="seconds between flushes (default 0.5)",
    )
    behind.add_argument(
        "--batch-size",
        action=_Given,
        type=number_type(int, 1),
        default=100,
        metavar="N",
        help="flush when N writes are pending; at most N rows per transaction (default 100; "
        "in a flush-interval sweep: --max-pending, so that the interval triggers flushes)",
    )
    behind.add_argument(
        "--max-pending",
        action=_Given,
        type=number_type(int, 1),
        default=10_000,
        metavar="N",
        help="queue bound; beyond it updates wait for room (default 10000)",
    )
    behind.add_argument(
        "--queue",
        type=queue_url_argument,
        default="memory://",
        metavar="URL",
        help="where write-behind's queue lives: memory:// (default), sqlite:// (a durable "
        "outbox beside each copy) or redis://HOST:PORT/DB (a durable Redis Stream); a "
        "durable queue acknowledges once an update is journaled: bench measures that price",
    )
    sweep = parser.add_argument_group(
        "sweep",
        "Vary one knob over the same seeded workload, run paced (open loop: each operation "
        "starts when due, whether or not earlier ones finished); one row per value.",
    )
    sweep.add_argument(
        "--sweep",
        metavar="NAME=V1,V2,...",
        help="NAME: flush-interval, batch-size, max-pending, capacity, zipf or read-ratio; "
        "--policy then defaults to write-behind",
    )
    sweep.add_argument(
        "--rate",
        action=_Given,
        type=number_type(int, 1),
        default=2000,
        metavar="OPS",
        help="operations per second (default 2000)",
    )
    sweep.add_argument(
        "--seconds",
        action=_Given,
        type=number_type(float, 0, above=True),
        metavar="S",
        help="seconds per run (default max(5, 10 x the largest flush interval))",
    )
    sweep.add_argument(
        "--plot",
        action=_Given,
        metavar="FILE",
        help="draw the sweep: FILE.png or FILE.svg (needs pip install 'cachetui[plot]')",
    )
    parser.set_defaults(given=frozenset())
    return parser


async def make_template(args: argparse.Namespace, folder: Path) -> Path:
    """``folder/template.db``: a copy of ``--db``, or ``--keys`` seeded profiles; every run
    starts from a copy of it. Raises DatabaseUnavailable naming the user's ``--db``."""
    template = folder / "template.db"
    if args.db:
        # Errors name the user's file, not this copy of it.
        try:
            shutil.copyfile(args.db, template)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise DatabaseUnavailable(f"--db {args.db}: cannot copy it: {reason}") from None
        try:
            async with Engine(EngineConfig(db_path=str(template))):
                pass  # opened once: a file of another program is refused here
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"--db {args.db}: {exc.__cause__ or exc}") from None
        return template
    async with Engine(EngineConfig(db_path=str(template))) as engine:
        await engine.seed(args.keys)
    return template


#: Operations between two points where a flat-out caller hands the event loop over.
YIELD_EVERY = 32
#: Drives a workload against its engine; returns (operations done, seconds taken).
Drive = Callable[[Workload], Awaitable[tuple[int, float]]]


def flat_out(args: argparse.Namespace) -> Drive:
    """``--ops`` operations by ``--concurrency`` callers, each starting its next operation
    as soon as its last one returns (closed loop: as fast as the engine goes)."""

    async def drive(workload: Workload) -> tuple[int, float]:
        remaining = args.ops

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await workload.one()
                if not remaining % YIELD_EVERY:
                    # A hit (or a cold read on the loop's thread) never suspends: let the
                    # other callers, the flusher and a signal's handler have the loop.
                    await asyncio.sleep(0)

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
        return args.ops, time.perf_counter() - start

    return drive


async def run_policy(
    args: argparse.Namespace,
    policy: str,
    template: Path,
    folder: Path,
    drive: Drive | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """One policy on a fresh copy ``folder/NAME.db`` of ``template`` (NAME: the policy by
    default), driven by ``drive`` (default :func:`flat_out`); the copy's engine is
    configured from ``args`` (capacity, flush interval, batch size, queue bound)."""
    db = folder / f"{name or policy}.db"
    shutil.copyfile(template, db)
    config = EngineConfig(
        db_path=str(db),
        policy=policy,
        cache_url=args.cache,
        capacity=args.capacity,
        flush_interval=args.flush_interval,
        batch_size=args.batch_size,
        max_pending=args.max_pending,
        queue_url=args.queue if policy == "write-behind" else "memory://",
    )
    engine = Engine(config)
    if isinstance(engine.store, RedisStore):
        engine.store.ephemeral = True  # the copy's cache entries go when the copy does
    await engine.start()
    try:
        keys = await engine.db_count()
        workload = Workload(
            engine, keys=max(1, keys), read_ratio=args.read_ratio, skew=args.zipf, seed=args.seed
        )
        ops, seconds = await (drive or flat_out(args))(workload)
        m = engine.metrics
        result = {
            "policy": policy,
            "ops": ops,
            "seconds": round(seconds, 4),
            "ops_per_s": round(ops / seconds, 1),
            "read_p50_us": _us(m.read_p50),
            "read_p99_us": _us(m.read_p99),
            "update_p50_us": _us(m.update_p50),
            "update_p99_us": _us(m.update_p99),
            "hit_ratio": round(m.hit_ratio, 4),
            "db_reads": m.db_reads,
            "db_writes": m.db_writes,
            "db_transactions": m.db_transactions,
            "coalesced": m.coalesced,
            "peak_pending": m.peak_pending,
            "errors": workload.stats.errors,
        }
        if policy == "write-behind" and args.queue != "memory://":
            result["queue"] = args.queue
    except BaseException:
        # Stopped (a signal cancels the run) or failed: the copy is thrown away, so its
        # pending writes are dropped unflushed; the engine is still closed (aiosqlite's
        # threads would keep the process alive).
        try:
            with contextlib.suppress(CacheTuiError):
                await engine.crash()
        finally:
            await engine.close(timeout=0, discard=True)
        raise
    await engine.close()
    # close() flushed the queue: the longest a write waited is known only now
    result["db_writes"] = engine.metrics.db_writes
    result["db_transactions"] = engine.metrics.db_transactions
    result["max_queue_wait_ms"] = round(engine.metrics.max_queue_wait * 1000, 1)
    return result


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)


class Interrupted(Exception):
    """A signal stopped the benchmark."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signals that stop a benchmark: it drops its copies unflushed and exits 128 + signal.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


T = TypeVar("T")


async def run(body: Coroutine[Any, Any, T]) -> T:
    """Await ``body`` (every policy in turn, or a sweep); on SIGTERM, SIGHUP or SIGINT:
    stop, close without flushing, remove the temporary folder and raise
    :class:`Interrupted`."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # no signals here (Windows, not the main thread)
        installed.append(signum)
    try:
        return await body
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from rich.progress import Progress

    policies = [p.value for p in WritePolicy] if args.policy == "all" else [args.policy]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Progress(transient=True, console=stderr_console()) as progress:
            task = progress.add_task("seeding", total=len(policies) + 1)
            template = await make_template(args, folder)
            progress.advance(task)
            for policy in policies:
                progress.update(task, description=f"{policy}: {args.ops:,} ops")
                result = await run_policy(args, policy, template, folder)
                results.append(result)
                if args.json:
                    print(json.dumps(result), flush=True)
                progress.advance(task)
    return results


def stderr_console() -> Any:
    """A Rich console on stderr (progress bars; stdout keeps the rows)."""
    from rich.console import Console

    return Console(file=sys.stderr)


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    cache = "" if args.cache == "memory://" else f" · cache {mask_url(args.cache)}"
    queue = "" if args.queue == "memory://" else f" · write-behind queue {mask_url(args.queue)}"
    table = Table(
        title=f"{args.ops:,} ops per policy · {args.read_ratio:.0%} reads · zipf {args.zipf:g}"
        f" · {args.concurrency} callers{cache}{queue} · latencies in µs"
    )
    table.add_column("policy", no_wrap=True, min_width=13)
    for column in (
        "ops/s",
        "read p50/p99",
        "update p50/p99",
        "hit ratio",
        "DB reads",
        "DB writes/tx",
        "coalesced",
        "peak queue",
        "max wait ms",
    ):
        table.add_column(column, justify="right", no_wrap=True)
    for r in results:
        table.add_row(
            r["policy"],
            f"{r['ops_per_s']:,.0f}",
            f"{fmt_us(r['read_p50_us'])} / {fmt_us(r['read_p99_us'])}",
            f"{fmt_us(r['update_p50_us'])} / {fmt_us(r['update_p99_us'])}",
            f"{r['hit_ratio']:.1%}",
            f"{r['db_reads']:,}",
            f"{r['db_writes']:,} / {r['db_transactions']:,}",
            f"{r['coalesced']:,}",
            f"{r['peak_pending']:,}",
            f"{r['max_queue_wait_ms']:,}",
        )
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=140)
    console.print(table)


def _say(line: str) -> None:
    """A line on stderr, if there still is one (after SIGHUP the terminal is gone)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


def fmt_us(value: float | None) -> str:
    """A latency in µs for a table: ``1,234``, or ``–`` without a sample."""
    return "–" if value is None else f"{value:,.0f}"


def main(argv: Sequence[str]) -> int:
    from cachetui import bench_sweep
    from cachetui.plot import PlotError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sweep = bench_sweep.check_options(args)
    except (bench_sweep.SweepError, PlotError) as exc:
        parser.error(str(exc))
    try:
        if args.db == ":memory:":
            parser.error("--db :memory:: bench copies a database file; leave --db out to seed one")
        if args.db:
            check_db_argument(args.db, writable=False)  # only read: the runs use copies
        if is_redis_url(args.cache):
            check_reachable(args.cache)
        if sweep is not None:
            rows, profiles = asyncio.run(run(bench_sweep.run(sweep)))
            if not args.json:
                bench_sweep.print_table(rows, sweep, profiles)
            if sweep.plot is not None:
                bench_sweep.draw(rows, sweep, profiles)
            return 0
        results = asyncio.run(run(_run(args)))
    except StoreUnavailable as exc:
        print(f"cachetui bench: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        _say("cachetui bench: interrupted")
        return 128 + exc.signum
    except KeyboardInterrupt:  # SIGINT before the benchmark could handle it
        _say("cachetui bench: interrupted")
        return 128 + signal.SIGINT
    except BrokenPipeError:  # `cachetui bench --json | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CacheTuiError as exc:
        parser.error(str(exc))
    if not args.json:
        print_table(results, args)
    return 0
