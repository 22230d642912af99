"""``cachetui bench --sweep NAME=V1,V2,…``: one knob varied over the same seeded workload,
each value run paced (open loop) on a fresh copy of the database; one row per policy and
value, as a table or JSON lines, optionally drawn (:mod:`cachetui.bench.plot`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachetui.bench import plot
from cachetui.bench.argument_types import number_type
from cachetui.bench.copies import run_copies
from cachetui.bench.output import fmt_us, stderr_console
from cachetui.bench.policy_run import Drive, run_policy
from cachetui.bench.verdicts import history_file
from cachetui.engine import WritePolicy
from cachetui.engine.lab.workload import Workload
from cachetui.engine.stores.redis_url import mask_url

WRITE_BEHIND = WritePolicy.WRITE_BEHIND.value


class SweepError(Exception):
    """A sweep that cannot run as asked (the message names the option and the problem)."""


@dataclass(frozen=True, slots=True)
class Knob:
    """A bench option a sweep can vary."""

    name: str  # the flag without "--"
    kind: type
    low: float
    high: float | None = None
    above: bool = False  # values must be > low (else >= low)
    write_behind: bool = False  # only write-behind uses it
    label: str = ""  # what it is, with its unit (table column, plot axis)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


KNOBS = {
    knob.name: knob
    for knob in (
        Knob("flush-interval", float, 0, above=True, write_behind=True, label="flush interval (s)"),
        Knob("batch-size", int, 1, write_behind=True, label="batch size (writes)"),
        Knob("max-pending", int, 1, write_behind=True, label="queue bound (writes)"),
        Knob("capacity", int, 1, label="cache capacity (entries)"),
        Knob("zipf", float, 0, label="key skew (Zipf exponent, 0 = uniform)"),
        Knob("read-ratio", float, 0, 1, label="reads (% of operations)"),
    )
}

#: Options a sweep does not use: it runs paced, ``--rate`` operations a second.
CLOSED_LOOP_OPTIONS = ("ops", "concurrency", "warmup")
#: Options that only a sweep uses.
SWEEP_OPTIONS = ("rate", "seconds", "plot")


@dataclass(frozen=True, slots=True)
class Sweep:
    """A validated sweep: ``base`` holds every other option, defaults resolved."""

    knob: Knob
    values: tuple[float, ...]
    policies: tuple[str, ...]
    rate: int  # operations per second
    seconds: float  # per run
    plot: Path | None
    base: argparse.Namespace


def parse_spec(text: str) -> tuple[Knob, tuple[float, ...]]:
    """``NAME=V1,V2,…`` → the knob and its values (in the order given). Raises SweepError."""
    names = ", ".join(KNOBS)
    name, sep, listed = text.partition("=")
    name = name.strip().removeprefix("--")
    if not sep or not name:
        raise SweepError(f"--sweep: expected NAME=V1,V2,... (NAME: {names}), got {text!r}")
    knob = KNOBS.get(name)
    if knob is None:
        raise SweepError(f"--sweep: unknown knob {name!r}: choose one of {names}")
    parse = number_type(knob.kind, knob.low, knob.high, above=knob.above)
    values: list[float] = []
    for item in listed.split(","):
        if not item.strip():
            raise SweepError(f"--sweep {name}: expected values V1,V2,..., got {listed!r}")
        try:
            value = parse(item.strip())
        except argparse.ArgumentTypeError as exc:
            raise SweepError(f"--sweep {name}: {exc}") from None
        if value in values:
            raise SweepError(f"--sweep {name}: {item.strip()} is given twice")
        values.append(value)
    return knob, tuple(values)


def plan(args: argparse.Namespace) -> Sweep:
    """Check everything a sweep needs before anything runs; resolve its defaults.
    Raises SweepError with one line naming the problem."""
    given: set[str] = set(args.given)
    knob, values = parse_spec(args.sweep)
    if knob.dest in given:
        raise SweepError(f"--{knob.name} and --sweep {knob.name}: give one (the sweep sets it)")
    for dest in CLOSED_LOOP_OPTIONS:
        if dest in given:
            raise SweepError(
                f"--{dest} does not apply to --sweep: a sweep runs paced, --rate OPS for "
                "--seconds S"
            )
    policy = args.policy if "policy" in given else WRITE_BEHIND
    if knob.write_behind and policy not in ("all", WRITE_BEHIND):
        raise SweepError(
            f"--sweep {knob.name} varies a write-behind knob, which --policy {policy} does not "
            "use (use write-behind or all)"
        )
    policies = tuple(p.value for p in WritePolicy) if policy == "all" else (policy,)
    target = None if args.plot is None else plot.check_path(args.plot)
    if target is not None:
        plot.require_matplotlib()
    base = argparse.Namespace(**vars(args))
    base.policy = policy
    if knob.name == "flush-interval" and "batch_size" not in given:
        base.batch_size = args.max_pending  # the interval, not the batch size, flushes
    largest = max(values) if knob.name == "flush-interval" else args.flush_interval
    seconds = args.seconds if args.seconds is not None else max(5.0, 10 * largest)
    return Sweep(knob, values, policies, args.rate, seconds, target, base)


def check_options(args: argparse.Namespace) -> Sweep | None:
    """The sweep asked for, validated (None without ``--sweep``); SweepError otherwise."""
    if args.sweep is not None:
        return plan(args)
    for dest in SWEEP_OPTIONS:
        if dest in args.given:
            raise SweepError(f"--{dest} needs --sweep NAME=V1,V2,...")
    return None


#: Operations in flight at most: past it (the engine is far behind ``--rate``), new ones
#: start as old ones return, rather than piling up in memory.
MAX_IN_FLIGHT = 10_000
#: A run whose throughput falls below this share of ``--rate`` did not keep up.
KEPT_UP = 0.95


def paced(rate: int, seconds: float) -> Drive:
    """Open loop: operation i starts at ``i / rate`` seconds whether or not earlier ones
    have returned; each tick (at most every millisecond) starts every operation due.
    The same seeded workload thus issues the same operations at the same moments in
    every run; the run ends when the last of ``rate × seconds`` operations returns.
    (Only an engine :data:`MAX_IN_FLIGHT` operations behind holds the next ones back.)"""
    total = max(1, round(rate * seconds))

    async def drive(workload: Workload) -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        start = loop.time()
        fired = 0
        try:
            while fired < total:
                due = min(total, int((loop.time() - start) * rate) + 1)
                while fired < due:
                    if len(in_flight) >= MAX_IN_FLIGHT:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    task = loop.create_task(workload.one())
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    fired += 1
                if fired < total:
                    await asyncio.sleep(max(0.001, start + fired / rate - loop.time()))
            await asyncio.gather(*in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        return fired, loop.time() - start

    return drive


async def run(sweep: Sweep) -> tuple[list[dict[str, Any]], int]:
    """Every policy, every value, in turn; the rows and the number of profiles. JSON lines
    are printed as rows complete with ``--json``."""
    from rich.progress import Progress

    args = sweep.base
    knob = sweep.knob
    rows: list[dict[str, Any]] = []
    runs = len(sweep.policies) * len(sweep.values)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Progress(transient=True, console=stderr_console()) as progress:
            task = progress.add_task("seeding", total=runs + 1)
            copies = run_copies(args, folder)
            profiles = await copies.prepare()
            progress.advance(task)
            for policy in sweep.policies:
                for index, value in enumerate(sweep.values):
                    progress.update(
                        task,
                        description=f"{policy}, {knob.name} {value:g}: {sweep.seconds:g} s "
                        f"at {sweep.rate:,} ops/s",
                    )
                    run_args = argparse.Namespace(**vars(args))
                    setattr(run_args, knob.dest, value)
                    name = f"{policy}-{index}"
                    result = await run_policy(
                        run_args,
                        policy,
                        copies,
                        drive=paced(sweep.rate, sweep.seconds),
                        name=name,
                        history=history_file(args.history, name, runs > 1),
                    )
                    row = {"sweep": knob.name, "value": value, **result, "rate": sweep.rate}
                    row["db_writes_per_s"] = round(row["db_writes"] / row["seconds"], 1)
                    row["db_transactions_per_s"] = round(row["db_transactions"] / row["seconds"], 2)
                    rows.append(row)
                    if row["ops_per_s"] < KEPT_UP * sweep.rate:
                        progress.console.print(
                            f"cachetui bench: {policy}, {knob.name} {value:g}: "
                            f"{row['ops_per_s']:,.0f} ops/s of the {sweep.rate:,} asked; the "
                            "engine fell behind and its latencies include the wait "
                            "(lower --rate)",
                            highlight=False,
                            soft_wrap=True,
                        )
                    if args.json:
                        print(json.dumps(row), flush=True)
                    progress.advance(task)
    return rows, profiles


def describe(sweep: Sweep, profiles: int) -> str:
    """The workload and the settings the sweep holds still, in one line."""
    args = sweep.base
    held = {
        "flush-interval": f"flush every {args.flush_interval:g} s",
        "batch-size": f"batch {args.batch_size:,}",
        "max-pending": f"queue bound {args.max_pending:,}",
        "capacity": f"capacity {args.capacity:,}",
        "zipf": f"Zipf {args.zipf:g}",
        "read-ratio": f"{args.read_ratio:.0%} reads",
    }
    if WRITE_BEHIND not in sweep.policies:
        for name in ("flush-interval", "batch-size", "max-pending"):
            del held[name]
    del held[sweep.knob.name]
    cache = "" if args.cache == "memory://" else f" · cache {mask_url(args.cache)}"
    workload = [held.pop("read-ratio", None), held.pop("zipf", None)]
    parts = [
        f"{sweep.rate:,} ops/s for {sweep.seconds:g} s",
        *(part for part in workload if part),
        f"{profiles:,} profiles",
        *held.values(),
    ]
    return " · ".join(parts) + cache


def title(sweep: Sweep) -> str:
    policies = "every policy" if len(sweep.policies) > 1 else sweep.policies[0]
    return f"{policies}, {sweep.knob.name} sweep"


def print_table(rows: list[dict[str, Any]], sweep: Sweep, profiles: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from cachetui.literal import literal

    table = Table(  # the title names the cache's URL: shown as it is, never as markup
        title=literal(f"{title(sweep)} · {describe(sweep, profiles)} · latencies in µs"),
        title_justify="left",
    )
    several = len(sweep.policies) > 1  # else the title names the policy
    table.add_column(sweep.knob.name, justify="right", no_wrap=True)
    if several:
        table.add_column("policy", no_wrap=True)
    for column in (
        "ops/s",
        "read p50/p99",
        "update p50/p99",
        "hit ratio",
        "DB reads",
        "DB writes/tx",
        "writes/s",
        "tx/s",
        "coalesced",
        "peak queue",
        "max wait ms",
    ):
        table.add_column(column, justify="right", no_wrap=True)
    previous = None
    for r in rows:
        if previous is not None and r["policy"] != previous:
            table.add_section()
        previous = r["policy"]
        behind = r["policy"] == WRITE_BEHIND
        table.add_row(
            f"{r['value']:g}",
            *([r["policy"]] if several else []),
            f"{r['ops_per_s']:,.0f}",
            f"{fmt_us(r['read_p50_us'])} / {fmt_us(r['read_p99_us'])}",
            f"{fmt_us(r['update_p50_us'])} / {fmt_us(r['update_p99_us'])}",
            f"{r['hit_ratio']:.1%}",
            f"{r['db_reads']:,}",
            f"{r['db_writes']:,} / {r['db_transactions']:,}",
            f"{r['db_writes_per_s']:,.0f}",
            f"{r['db_transactions_per_s']:,.1f}",
            f"{r['coalesced']:,}",
            f"{r['peak_pending']:,}" if behind else "–",
            f"{r['max_queue_wait_ms']:,}" if behind else "–",
        )
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(table)


def draw(rows: list[dict[str, Any]], sweep: Sweep, profiles: int) -> None:
    assert sweep.plot is not None
    plot.draw_sweep(
        rows,
        knob=sweep.knob.name,
        knob_label=sweep.knob.label,
        title=(
            "write-behind: database load against the unflushed window"
            if sweep.knob.name == "flush-interval"
            else title(sweep)
        ),
        workload=describe(sweep, profiles),
        path=sweep.plot,
    )
