"""``cachetui bench``: the command, its options and what it runs (every policy in turn,
or a sweep of one setting)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from cachetui.bench.all_policies import print_table, run_policies
from cachetui.bench.argument_types import Given, number_type
from cachetui.bench.interrupt import Interrupted, run
from cachetui.bench.warmup import DEFAULT_WARMUP
from cachetui.cli.option_checks import (
    cache_url_argument,
    check_db_argument,
    check_postgres_url,
    check_server_options,
    queue_url_argument,
)
from cachetui.cli.options import CACHE_HELP, add_server_options
from cachetui.engine import (
    CacheTuiError,
    DatabaseUnavailable,
    EngineConfig,
    StoreUnavailable,
    WritePolicy,
)
from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.demo_data import MAX_SEED_PROFILES
from cachetui.engine.preflight import check_redis
from cachetui.engine.stores.redis_url import is_redis_url, mask_url
from cachetui.literal import printable

#: Concurrent callers at most: each is a task (a typed slip must not exhaust memory).
MAX_CONCURRENCY = 10_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui bench",
        description="Run the same seeded workload (Zipf-skewed keys, a read/write mix, C "
        "concurrent callers) under each write policy and the no-cache baseline, each on "
        "a fresh copy of the same database (over PostgreSQL: a schema of its own, "
        "cachetui_bench_<host>_<pid>_<n>, dropped at the end), and compare.",
    )
    policies = ["all", *(p.value for p in WritePolicy)]
    parser.add_argument(
        "--policy",
        action=Given,
        choices=policies,
        default="all",
        help="default all (with --sweep: write-behind)",
    )
    parser.add_argument(
        "--ops",
        action=Given,
        type=number_type(int, 1),
        default=20_000,
        metavar="N",
        help="operations per policy (default 20000; not with --sweep, which runs paced)",
    )
    parser.add_argument(
        "--warmup",
        action=Given,
        type=number_type(float, 0),
        default=DEFAULT_WARMUP,
        metavar="S",
        help=f"seconds of the same workload run before each policy's timed --ops, its "
        f"counters then started again: the cache is measured warm, in its steady state "
        f"(default {DEFAULT_WARMUP:g}; every policy alike, no-cache too; 0: a cold start; "
        "not with --sweep)",
    )
    parser.add_argument(
        "--keys",
        type=number_type(int, 1, MAX_SEED_PROFILES),
        default=10_000,
        metavar="N",
        help="profiles in the database (default 10000; over PostgreSQL seeded into each "
        "run's schema)",
    )
    parser.add_argument(
        "--read-ratio",
        action=Given,
        type=number_type(float, 0, 1),
        default=0.9,
        metavar="R",
        help="share of reads, 0–1 (default 0.9)",
    )
    parser.add_argument(
        "--zipf",
        action=Given,
        type=number_type(float, 0),
        default=1.1,
        metavar="S",
        help="key skew, Zipf exponent; 0 = uniform (default 1.1)",
    )
    parser.add_argument(
        "--concurrency",
        action=Given,
        type=number_type(int, 1, MAX_CONCURRENCY),
        default=16,
        metavar="C",
        help="concurrent callers (default 16; not with --sweep)",
    )
    parser.add_argument(
        "--capacity",
        action=Given,
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
        metavar="PATH|URL",
        help="start from a copy of this SQLite file (default: seed a new one), or run in "
        "a PostgreSQL database, postgresql://USER@HOST:PORT/DBNAME: each policy in a fresh "
        "schema of its own seeded with --keys profiles (your tables are not touched)",
    )
    add_server_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per policy instead of a table"
    )
    parser.add_argument(
        "--external-rate",
        type=number_type(float, 0, above=True),
        metavar="OPS",
        help="a foreign writer (the lab's external writer: the database written directly, "
        "the cache bypassed) writing OPS times a second during each run, so that stale "
        "reads can occur (the stale %% column)",
    )
    parser.add_argument(
        "--history",
        metavar="FILE",
        help="stream each run's history to a file of its own, for `cachetui check`: FILE "
        "when one policy runs, else FILE with the policy before its suffix "
        "(h.jsonl → h.write-through.jsonl, …; with --sweep: h.write-behind-0.jsonl, …)",
    )
    behind = parser.add_argument_group("write-behind")
    behind.add_argument(
        "--flush-interval",
        action=Given,
        type=number_type(float, 0, above=True),
        default=0.5,
        metavar="S",
        help="seconds between flushes (default 0.5)",
    )
    behind.add_argument(
        "--batch-size",
        action=Given,
        type=number_type(int, 1),
        default=100,
        metavar="N",
        help="flush when N writes are pending; at most N rows per transaction (default 100; "
        "in a flush-interval sweep: --max-pending, so that the interval triggers flushes)",
    )
    behind.add_argument(
        "--max-pending",
        action=Given,
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
        action=Given,
        type=number_type(int, 1),
        default=2000,
        metavar="OPS",
        help="operations per second (default 2000)",
    )
    sweep.add_argument(
        "--seconds",
        action=Given,
        type=number_type(float, 0, above=True),
        metavar="S",
        help="seconds per run (default max(5, 10 x the largest flush interval))",
    )
    sweep.add_argument(
        "--plot",
        action=Given,
        metavar="FILE",
        help="draw the sweep: FILE.png or FILE.svg (needs pip install 'cachetui[plot]')",
    )
    parser.set_defaults(given=frozenset())
    return parser


def _say(line: str) -> None:
    """A line on stderr, if there still is one (after SIGHUP the terminal is gone)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


def check_history(path: str | None) -> None:
    """ValidationError (one line naming --history) for a history file that cannot be
    written (the runs' files go beside it)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    problem = None
    if not path or os.path.isdir(path):
        problem = "it is a folder"
    elif not os.path.isdir(folder):
        problem = f"no folder {folder}"
    if problem:
        raise ValidationError(f"--history {path}: {problem}", field="history_path")


def check_server(args: argparse.Namespace) -> None:
    """ValidationError (one line) for server options the runs could not use (a URL that
    is not PostgreSQL's, --db-rtt without a server, --cache-rtt without Redis …)."""
    server = bool(args.db) and "://" in args.db
    where = {"db_url": args.db} if server else {"db_path": ":memory:"}
    if server and args.db.lower().startswith(("postgresql://", "postgres://")):
        check_postgres_url(args.db)
    check_server_options(
        db_url=args.db if server else None,
        cache_url=args.cache,
        db_rtt=args.db_rtt,
        cache_rtt=args.cache_rtt,
        jitter=args.jitter,
    )
    check_history(args.history)
    EngineConfig(
        **where,
        cache_url=args.cache,
        db_pool=args.db_pool,
        db_timeout=args.db_timeout,
        db_rtt=args.db_rtt,
        cache_rtt=args.cache_rtt,
        jitter=args.jitter,
    )
    if server and not args.db.lower().startswith(("postgresql://", "postgres://")):
        raise ValidationError(
            f"--db {mask_url(args.db)}: bench takes a SQLite file's path or a PostgreSQL "
            "URL (postgresql://USER@HOST:PORT/DBNAME)",
            field="db_url",
        )


def main(argv: Sequence[str]) -> int:
    from cachetui.bench import sweep as bench_sweep
    from cachetui.bench.plot import PlotError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sweep = bench_sweep.check_options(args)
    except (bench_sweep.SweepError, PlotError) as exc:
        parser.error(str(exc))
    try:
        if args.db == ":memory:":
            parser.error("--db :memory:: bench copies a database file; leave --db out to seed one")
        check_server(args)
        if args.db and "://" not in args.db:
            check_db_argument(args.db, writable=False)  # only read: the runs use copies
        for option, url in (("--cache", args.cache), ("--queue", args.queue)):
            if is_redis_url(url):
                check_redis(option, url)
        if sweep is not None:
            rows, profiles = asyncio.run(run(bench_sweep.run(sweep)))
            if not args.json:
                bench_sweep.print_table(rows, sweep, profiles)
            if sweep.plot is not None:
                bench_sweep.draw(rows, sweep, profiles)
            return 0
        results = asyncio.run(run(run_policies(args)))
    except (StoreUnavailable, DatabaseUnavailable) as exc:
        print(f"cachetui bench: error: {printable(str(exc))}", file=sys.stderr)
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
