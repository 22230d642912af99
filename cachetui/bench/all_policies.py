"""``cachetui bench`` without ``--sweep``: every policy (or the one ``--policy`` names) in
turn, flat out, each on a fresh copy of the same database (a schema of its own on a
PostgreSQL server); one row each, as a table or JSON lines."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from cachetui.bench.copies import run_copies
from cachetui.bench.output import fmt_us, stderr_console
from cachetui.bench.policy_run import run_policy
from cachetui.bench.verdicts import history_file
from cachetui.engine import WritePolicy
from cachetui.engine.stores.redis_url import mask_url


async def run_policies(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every policy asked for, in turn; its result is printed as a JSON line as it
    completes with ``--json``."""
    from rich.progress import Progress

    policies = [p.value for p in WritePolicy] if args.policy == "all" else [args.policy]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Progress(transient=True, console=stderr_console()) as progress:
            task = progress.add_task("seeding", total=len(policies) + 1)
            copies = run_copies(args, folder)
            await copies.prepare()
            progress.advance(task)
            for policy in policies:
                progress.update(task, description=f"{policy}: {args.ops:,} ops")
                history = history_file(args.history, policy, len(policies) > 1)
                result = await run_policy(args, policy, copies, history=history, warmup=args.warmup)
                results.append(result)
                if args.json:
                    print(json.dumps(result), flush=True)
                progress.advance(task)
    return results


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from cachetui.engine.lab.link.durations import format_duration
    from cachetui.literal import literal

    db = f" · db {mask_url(args.db)}" if args.db and "://" in args.db else ""
    cache = "" if args.cache == "memory://" else f" · cache {mask_url(args.cache)}"
    queue = "" if args.queue == "memory://" else f" · write-behind queue {mask_url(args.queue)}"
    links = "".join(
        f" · {name} {format_duration(value)} away"
        for name, value in (("db", args.db_rtt), ("cache", args.cache_rtt))
        if value is not None
    )
    if links and args.jitter:
        links += f" (jitter p99 {format_duration(args.jitter)})"
    warm = f"after a {args.warmup:g} s warm-up" if args.warmup else "cold (no warm-up)"
    table = Table(  # the title names the servers' URLs: shown as they are, never as markup
        title=literal(
            f"{args.ops:,} ops per policy {warm} · {args.read_ratio:.0%} reads · zipf {args.zipf:g}"
            f" · {args.concurrency} callers{db}{cache}{queue}{links} · latencies in µs"
        )
    )
    table.add_column("policy", no_wrap=True, min_width=13)
    for column in (
        "ops/s",
        "read p50/p99",
        "hit/miss p50",
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
            f"{fmt_us(r['read_hit_p50_us'])} / {fmt_us(r['read_miss_p50_us'])}",
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
        console = Console(width=160)
    console.print(table)
    console.print(verdicts_table(results, args))


def verdicts_table(results: list[dict[str, Any]], args: argparse.Namespace) -> Any:
    """What each policy cost in correctness (beside the first table: both would not fit
    in 160 columns): its run's history, judged once the run was over."""
    from rich.table import Table

    writer = f", an external writer at {args.external_rate:g}/s" if args.external_rate else ""
    table = Table(title=f"correctness: each run's history judged after it{writer}")
    table.add_column("policy", no_wrap=True, min_width=13)
    columns = ["stale reads %", "max stale ms", "lost writes"]
    if args.external_rate:
        columns.append("external writes")
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for r in results:
        cells = [
            r["policy"],
            "–" if r["stale_pct"] is None else f"{r['stale_pct']:.2f}",
            f"{r['max_stale_ms']:,}",
            f"{r['lost']:,}",
        ]
        if args.external_rate:
            cells.append(f"{r['external_writes']:,}")
        table.add_row(*cells)
    return table
