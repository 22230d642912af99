"""The dashboard under full load, headless, with 100,000 profiles: idle CPU, the workload
achieved, refreshes per second, CPU per refresh (process CPU with the refresh on − with
the refresh timer paused, same workload, ÷ refreshes per second), key-press-to-screen and
`g <id> enter`-to-row p50/p99, the write-behind → write-through switch (how long until
the windowed update p50 on screen is ≥ 10× the old one) and `q` under load → exited; each
beside the issue's reference, and beside the headless reference: the same workload (same
keys, capacity, store, 80 % reads, Zipf 1.1, same target) on the engine alone, without
the app, at the app's target and at 20,000 and 50,000 ops/s.

    python benchmarks/app_under_load.py [--profiles N] [--seconds S] [--rate OPS]
    python benchmarks/app_under_load.py --headless-only      # the reference alone
    python benchmarks/app_under_load.py --cache redis://127.0.0.1:6379/14
    python benchmarks/app_under_load.py --db postgresql://postgres@127.0.0.1:5432/DB

A benchmark, not a test: it prints numbers; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from textual import events
from textual.widgets import Input

from cachetui.app.app import CacheTuiApp
from cachetui.app.collector import tune_collector
from cachetui.app.widgets.key_table import KeyTable
from cachetui.engine import Engine, EngineConfig
from cachetui.engine.lab.workload import Workload

#: Seconds of full load before the CPU is measured (the cache fills, the log grows).
WARM_UP_SECONDS = 4.0
#: Targets the headless reference is always measured at (besides the app's own).
HEADLESS_TARGETS = (20_000, 50_000)


#: ``--db``: a PostgreSQL URL; each engine then gets a fresh schema of its own there
#: (dropped at the end) instead of a SQLite file.
DB_URL: str | None = None
SCHEMAS: list[str] = []


def database(db: Path) -> dict[str, str]:
    if DB_URL is None:
        return {"db_path": str(db)}
    import uuid

    import psycopg
    from peers_postgres import schema_url
    from psycopg import sql

    schema = f"cachetui_bench_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    SCHEMAS.append(schema)
    return {"db_url": schema_url(DB_URL, schema)}


def drop_schemas() -> None:
    if DB_URL is None or not SCHEMAS:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(DB_URL, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def engine_config(db: Path, cache: str, capacity: int) -> EngineConfig:
    """The app's engine here and the headless reference's: the same settings."""
    return EngineConfig(
        **database(db),  # type: ignore[arg-type]
        cache_url=cache,
        policy="write-behind",
        capacity=capacity,
        flush_interval=0.5,
        batch_size=200,
    )


async def headless(
    profiles: int, seconds: float, rate: int, cache: str, capacity: int
) -> dict[str, object]:
    """The reference: the app's workload (80 % reads, Zipf 1.1, ``rate`` ops/s target)
    on the engine alone, after a 1 s warm-up; achieved ops/s and what limited it."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(engine_config(Path(tmp) / "profiles.db", cache, capacity))
        if hasattr(engine.store, "ephemeral"):
            engine.store.ephemeral = True  # a Redis namespace of a temporary file: drop it
        async with engine:
            await engine.seed(profiles)
            workload = Workload(engine, keys=profiles, rate=rate, read_ratio=0.8, skew=1.1, seed=1)
            workload.start()
            await asyncio.sleep(1.0)
            stats = workload.stats

            def done() -> int:
                return stats.reads + stats.updates + stats.errors

            before, cpu0, wall0 = done(), time.process_time(), time.perf_counter()
            limits: set[str] = set()
            deadline = wall0 + seconds
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.25)
                if workload.limited_by is not None:
                    limits.add(workload.limited_by)
            wall = time.perf_counter() - wall0
            achieved = (done() - before) / wall
            cpu = (time.process_time() - cpu0) / wall
            stop0 = time.perf_counter()
            await workload.stop()
            stop_ms = (time.perf_counter() - stop0) * 1000
            return {
                "target": rate,
                "achieved": achieved,
                "cpu": cpu,
                "limited_by": ", ".join(sorted(limits)) or "–",
                "errors": stats.errors,
                "stop_ms": stop_ms,
            }


class TimedApp(CacheTuiApp):
    """The real app, timing each pane refresh; ``paused`` skips the refresh timer's
    repaints (the timer still fires), for the CPU a refresh costs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tick_times: list[float] = []
        self.paused = False
        # The refresh timer calls the refresher's tick, which calls its refresh_view:
        # both wrapped on the instance (the app's refresh_view only delegates).
        refresher = self.refresher
        tick, refresh_view = refresher.tick, refresher.refresh_view

        async def timed_tick() -> None:
            if not self.paused:
                await tick()

        async def timed_refresh_view() -> None:
            start = time.perf_counter()
            await refresh_view()
            self.tick_times.append(time.perf_counter() - start)

        refresher.tick = timed_tick  # type: ignore[method-assign]
        refresher.refresh_view = timed_refresh_view  # type: ignore[method-assign]


def press(app: CacheTuiApp, key: str) -> None:
    """Deliver a key as the terminal driver does (Pilot.press waits for an idle loop,
    which never comes under full load, so it would measure itself)."""
    app.post_message(events.Key(key, key if len(key) == 1 else None))


async def wait_until(predicate, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the screen did not show the change")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def measure_keys(
    app: CacheTuiApp, user: int, key_latencies: list[float], goto: dict[str, list[float]]
) -> None:
    """One round: `m` until the header names the new mix; `g <id> enter` until the
    user's row is in the Database pane."""
    assert app.workload is not None
    before = app.workload.read_ratio
    start = time.perf_counter()
    press(app, "m")

    def mix_shown() -> bool:
        ratio = app.workload.read_ratio
        return ratio != before and f"{ratio:.0%} reads" in status_text(app)

    await wait_until(mix_shown)
    key_latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    press(app, "g")
    # typing starts once the dialog's input has the focus, as a person's would
    await wait_until(lambda: isinstance(app.focused, Input))
    opened = time.perf_counter()
    for digit in str(user):  # back to back: far faster than anyone types
        press(app, digit)
    typed = str(user)
    await wait_until(lambda: app.screen.query_one("Input").value == typed)
    entered = time.perf_counter()
    press(app, "enter")
    pane = app.query_one("#database", KeyTable)
    await wait_until(lambda: pane.row_index(user) is not None)
    done = time.perf_counter()
    goto["open"].append(opened - start)
    goto["row"].append(done - entered)
    goto["total"].append(done - start)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000 if samples else math.nan


def _p99_ms(samples: list[float]) -> float:
    """The 99th percentile (nearest rank): the largest of fewer than 100 samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000


def status_text(app: CacheTuiApp) -> str:
    return str(app.query_one("#status").content)


_UNITS = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}


def shown_update_p50(app: CacheTuiApp) -> float | None:
    """The windowed update p50 the metrics strip shows (seconds; None: "–")."""
    console = Console(width=300, file=io.StringIO(), record=True, color_system=None)
    console.print(app.query_one("#numbers").content)
    found = re.search(r"update 5s ([0-9.]+)(µs|ms|s) /", console.export_text())
    return None if found is None else float(found.group(1)) * _UNITS[found.group(2)]


def phase(name: str) -> None:
    print(f"… {name}", file=sys.stderr, flush=True)


async def cpu_over(seconds: float) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) over the next ``seconds``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return time.process_time() - cpu0, time.perf_counter() - wall0


async def run(
    profiles: int, seconds: float, rate: int, cache: str, capacity: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "profiles.db"
        seed_start = time.perf_counter()
        engine = Engine(engine_config(db, cache, capacity))
        if hasattr(engine.store, "ephemeral"):
            engine.store.ephemeral = True  # a Redis namespace of a temporary file: drop it
        app = TimedApp(engine, seed_profiles=profiles, live=True, seed=1)
        results: dict[str, object] = {}
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await wait_until(lambda: app.engine.running and app.workload is not None, 60)
            results["seed_s"] = time.perf_counter() - seed_start

            # idle: no workload
            phase("idle")
            cpu, wall = await cpu_over(min(5.0, seconds))
            results["idle_cpu"] = cpu / wall

            # full load, the refresh on and paused in turns: the CPU a refresh costs. The
            # cache fills and the event log grows during the first seconds: a warm-up,
            # then on/paused/on/paused (each a quarter of the time), so that what drifts
            # meanwhile weighs on both sides alike
            phase("load: refresh on and paused in turns")
            app.workload.set_rate(rate)
            app.workload.start()
            await asyncio.sleep(WARM_UP_SECONDS)
            app.tick_times.clear()
            m0 = app.engine.metrics
            on: list[tuple[float, float]] = []
            off: list[tuple[float, float]] = []
            for paused in (False, True, False, True):
                app.paused = paused
                (off if paused else on).append(await cpu_over(seconds / 4))
            app.paused = False
            m1 = app.engine.metrics
            cpu_on, wall_on = sum(c for c, _ in on), sum(w for _, w in on)
            cpu_off, wall_off = sum(c for c, _ in off), sum(w for _, w in off)
            refreshes = len(app.tick_times)
            ticks = list(app.tick_times)
            results.update(
                load_seconds=wall_on,
                ops_per_s=((m1.reads - m0.reads) + (m1.updates - m0.updates))
                / (wall_on + wall_off),
                load_cpu=cpu_on / wall_on,
                paused_cpu=cpu_off / wall_off,
                ticks_per_s=refreshes / wall_on,
                tick_p50_ms=statistics.median(ticks) * 1000 if ticks else math.nan,
                tick_max_ms=max(ticks, default=math.nan) * 1000,
                cpu_per_refresh_ms=(cpu_on / wall_on - cpu_off / wall_off)
                / max(refreshes / wall_on, 1e-9)
                * 1000,
            )

            # keys under load
            phase("keys under load")
            key_latencies: list[float] = []  # a synchronous action: header update
            # g → the dialog's input; enter → the row in the Database pane; all of it
            goto: dict[str, list[float]] = {"open": [], "row": [], "total": []}
            deadline = time.perf_counter() + seconds
            user = 77_777 % profiles + 1
            timeouts = 0
            while time.perf_counter() < deadline:
                try:
                    await measure_keys(app, user, key_latencies, goto)
                except TimeoutError:
                    timeouts += 1  # the screen did not show it within 10 s
                    press(app, "escape")
                    await asyncio.sleep(1.0)
                user = user * 7 % profiles + 1
                await asyncio.sleep(0.5)
            await wait_until(lambda: len(app.screen_stack) == 1)  # the dialog has closed
            results.update(
                timeouts=timeouts,
                key_p50_ms=_median_ms(key_latencies),
                key_p99_ms=_p99_ms(key_latencies),
                key_presses=len(key_latencies),
                **{f"goto_{part}_p50_ms": _median_ms(samples) for part, samples in goto.items()},
                **{f"goto_{part}_p99_ms": _p99_ms(samples) for part, samples in goto.items()},
            )

            # write-behind → write-through: the windowed update p50 on screen
            phase("switch")
            await asyncio.sleep(5.0)  # a window of write-behind only
            behind = shown_update_p50(app)
            start = time.perf_counter()
            press(app, "1")
            try:
                await wait_until(
                    lambda: behind is not None and (shown_update_p50(app) or 0) >= 10 * behind,
                    timeout=10,
                )
                results["switch_s"] = time.perf_counter() - start
            except TimeoutError:
                results["switch_s"] = math.nan
            results["p50_behind"] = behind
            results["p50_through"] = shown_update_p50(app)
            results["pending"] = app.engine.metrics.pending

            # q under load: exited
            phase("quit")
            start = time.perf_counter()
            press(app, "q")
            await wait_until(lambda: not app.is_running, timeout=60)
            results["quit_s"] = time.perf_counter() - start
        return results


def _us(seconds: object) -> str:
    return "–" if not isinstance(seconds, float) else f"{seconds * 1e6:,.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=20_000, help="workload target ops/s")
    parser.add_argument("--cache", default="memory://", help="cache URL (e.g. redis://…)")
    parser.add_argument("--capacity", type=int, default=10_000, help="cache capacity")
    parser.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument(
        "--headless-seconds", type=float, default=10.0, help="length of each reference run"
    )
    parser.add_argument(
        "--headless-only", action="store_true", help="the headless reference only, no app"
    )
    args = parser.parse_args()
    global DB_URL
    DB_URL = args.db
    try:
        report(args)
    finally:
        drop_schemas()


def report(args: argparse.Namespace) -> None:
    tune_collector()  # as the command line does before an app runs: both sides alike
    console = Console()
    setting = (
        f"{args.profiles:,} profiles, capacity {args.capacity:,}, write-behind, "
        f"80 % reads, Zipf 1.1, cache {args.cache}"
        + (f", PostgreSQL {args.db.split('@')[-1]}" if args.db else "")
    )
    references = {
        target: asyncio.run(
            headless(args.profiles, args.headless_seconds, target, args.cache, args.capacity)
        )
        for target in sorted({args.rate, *HEADLESS_TARGETS})
    }
    table = Table(title=f"headless reference: the workload without the app ({setting})")
    for name in ("target", "achieved", "of target", "limited by", "CPU share", "stop"):
        table.add_column(name, justify="right")
    for target, ref in references.items():
        achieved = float(ref["achieved"])  # type: ignore[arg-type]
        table.add_row(
            f"{target:,} ops/s",
            f"{achieved:,.0f} ops/s",
            f"{achieved / target:.0%}",
            str(ref["limited_by"]),
            f"{ref['cpu']:.0%}",
            f"{ref['stop_ms']:.0f} ms",
        )
    console.print(table)
    if args.headless_only:
        return
    r = asyncio.run(run(args.profiles, args.seconds, args.rate, args.cache, args.capacity))
    reference = float(references[args.rate]["achieved"])  # type: ignore[arg-type]
    table = Table(title=f"cachetui app under load ({setting}, workload target {args.rate:,} ops/s)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    app_rate = float(r["ops_per_s"])  # type: ignore[arg-type]
    rows = [
        ("seed + start", f"{r['seed_s']:.2f} s"),
        ("idle CPU share (1 core = 100%), reference ≤ 3 %", f"{r['idle_cpu']:.1%}"),
        (
            "workload achieved (headless reference, same target), reference ≥ 18,000 "
            "in-process, ≥ 80 % of headless over Redis",
            f"{app_rate:,.0f} ops/s ({reference:,.0f}: {app_rate / reference:.0%})",
        ),
        ("pane refreshes per second, reference ≥ 2", f"{r['ticks_per_s']:.1f}"),
        (
            "CPU share under load: refresh on / timer paused",
            f"{r['load_cpu']:.1%} / {r['paused_cpu']:.1%}",
        ),
        (
            "CPU per refresh ((on − paused) ÷ refreshes/s), reference ≤ 20 ms",
            f"{r['cpu_per_refresh_ms']:.1f} ms",
        ),
        ("refresh tick p50 / max (wall)", f"{r['tick_p50_ms']:.1f} / {r['tick_max_ms']:.1f} ms"),
        (
            f"key m → header shows the new mix, p50 / p99 ({r['key_presses']}×), "
            "reference p99 ≤ 100 ms",
            f"{r['key_p50_ms']:.0f} / {r['key_p99_ms']:.0f} ms",
        ),
        (
            f"g <id> enter: enter → the row in the Database pane, p50 / p99 "
            f"({r['key_presses']}×), reference p99 ≤ 150 ms",
            f"{r['goto_row_p50_ms']:.0f} / {r['goto_row_p99_ms']:.0f} ms",
        ),
        (
            "g → the dialog ready to type, p50 / p99",
            f"{r['goto_open_p50_ms']:.0f} / {r['goto_open_p99_ms']:.0f} ms",
        ),
        (
            "all of g <id> enter, the digits typed back to back, p50 / p99",
            f"{r['goto_total_p50_ms']:.0f} / {r['goto_total_p99_ms']:.0f} ms",
        ),
        ("key rounds that timed out (10 s)", f"{r['timeouts']}"),
        (
            "write-behind → write-through: windowed update p50 on screen ≥ 10× within, "
            "reference ≤ 5 s",
            f"{r['switch_s']:.1f} s ({_us(r['p50_behind'])} → {_us(r['p50_through'])})",
        ),
        ("q under load → exited, reference ≤ 2 s", f"{r['quit_s']:.2f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


if __name__ == "__main__":
    main()
