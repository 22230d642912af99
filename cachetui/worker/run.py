"""The worker's run: an engine, the dashboard's workload
(:class:`~cachetui.engine.lab.workload.Workload`, its batch tasks recorded as callers
``worker-<n>``), a status line a second, and the quit path of the app's signals.

SIGTERM, SIGINT and SIGHUP (or ``--seconds`` running out) stop the workload and close the
engine, which flushes what is pending; what could not land within ``flush_timeout`` is
dropped and named (user, newest version), and the run ends with status 1. A durable
queue that the database would not take keeps its writes for the next start: nothing lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field

from cachetui.cli.quit_report import (
    QUIT_SIGNALS,
    SignalReport,
    default_log_path,
    stderr_width,
    unknown_outcomes,
)
from cachetui.engine import CacheTuiError, Engine
from cachetui.engine.lab.workload import Workload
from cachetui.worker.metrics import MetricsServer, Reading

#: The status line's period (s).
STATUS_EVERY = 1.0


@dataclass
class WorkerPlan:
    """What the worker does (from its options)."""

    name: str
    rate: int
    read_ratio: float
    keys: int | None  # None: every profile in the database
    zipf: float
    seconds: float | None  # None: until a signal
    profiles: int  # seeded into an empty database
    seed: int | None = None


@dataclass
class WorkerResult:
    """How the run ended: its report (the signal's, or ``--seconds``' with signal 0)."""

    report: SignalReport
    lines: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.report.exit_code


def status_line(name: str, policy: str, ops: float, reading: Reading) -> str:
    """``NAME POLICY: 198 ops/s, pending 37, landed 1204, claimed 0, errors 0``."""
    snap = reading.snapshot
    return (
        f"{name} {policy}: {ops:.0f} ops/s, pending {snap.pending}, "
        f"landed {snap.db_writes}, claimed {reading.claimed}, errors {reading.workload_errors}"
    )


class Worker:
    """One headless instance: ``await Worker(engine, plan, metrics).run()``."""

    def __init__(self, engine: Engine, plan: WorkerPlan, metrics: MetricsServer | None) -> None:
        self.engine = engine
        self.plan = plan
        self.metrics = metrics
        self._stop = asyncio.Event()
        self._signum = 0

    def stop(self, signum: int = 0) -> None:
        """Stop as on ``signum`` (SIGTERM, SIGINT, SIGHUP; 0: as ``--seconds`` ends)."""
        if not self._signum:
            self._signum = signum
        self._stop.set()

    async def run(self) -> WorkerResult:
        """Start the engine (its errors propagate: nothing ran), work, then close."""
        loop = asyncio.get_running_loop()
        installed = []
        for signum in QUIT_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop, signum)
                installed.append(signum)
        try:
            await self.engine.start()
            try:
                workload = await self._workload()
            except BaseException:
                await self.engine.close(timeout=0, discard=True)
                raise
            await self._work(workload)
            return await self._close(workload)
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    async def _workload(self) -> Workload:
        plan = self.plan
        if plan.profiles:
            await self.engine.seed(plan.profiles)  # only into an empty table
        keys = plan.keys or max(1, await self.engine.db_count())
        return Workload(
            self.engine,
            keys,
            rate=plan.rate,
            read_ratio=plan.read_ratio,
            skew=plan.zipf,
            seed=plan.seed,
            caller="worker",
        )

    def reading(self, workload: Workload, ops: float) -> Reading:
        stats = workload.stats
        return Reading(
            snapshot=self.engine.metrics,
            policy=self.engine.policy.value,
            ops_per_second=ops,
            workload_errors=stats.errors,
            claimed=self.engine.claimed_writes,
        )

    async def _work(self, workload: Workload) -> None:
        plan = self.plan
        workload.start()
        started = time.monotonic()
        ends = None if plan.seconds is None else started + plan.seconds
        done_before, tick = 0, started
        while not self._stop.is_set():
            next_tick = tick + STATUS_EVERY
            wake = next_tick if ends is None else min(next_tick, ends)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            if now >= next_tick and not self._stop.is_set():
                stats = workload.stats
                done = stats.reads + stats.updates + stats.errors
                ops = (done - done_before) / max(now - tick, 1e-9)
                done_before, tick = done, now
                self._publish(workload, ops)
            if ends is not None and now >= ends:
                break
        await workload.stop()

    def _publish(self, workload: Workload, ops: float) -> None:
        reading = self.reading(workload, ops)
        if self.metrics is not None:
            self.metrics.collector.update(reading)
        say(status_line(self.plan.name, reading.policy, ops, reading))

    async def _close(self, workload: Workload) -> WorkerResult:
        """The app's quit path (:mod:`cachetui.app.dashboard_session`), without a dialog."""
        engine = self.engine
        report = SignalReport(self._signum or signal.SIGTERM)
        pending = len(engine.pending_writes())
        queue = engine.queue_location
        try:
            await engine.close()
        except CacheTuiError as exc:  # PendingWritesError: the database will not take them
            if engine.running:
                report.lost = await engine.close(timeout=0, discard=True)
                report.reason = str(exc.__cause__ or exc)
        if engine.kept_on_close:
            report.kept = (engine.kept_on_close, queue)
        report.parked = [(d.user_id, d.version, d.kind) for d in engine.dead_letters()]
        report.unknown = unknown_outcomes(engine.unsettled_commits())
        report.flushed = max(0, pending - len(report.lost))
        report.db_path = engine.config.db_path
        # the last word: what close() landed (the server stays up until the process ends)
        self._publish(workload, 0.0)
        width = stderr_width()  # less the room "cachetui worker:" takes over "cachetui:"
        width = None if width is None else width - len(" worker")
        lines = report.stderr_lines(width)
        if not self._signum:  # --seconds ran out: said as such
            lines[0] = lines[0].replace(f"quit on {report.name}", "done")
        if self._signum:  # as the app: every quit on a signal adds a line to cachetui.log
            report.write_log(default_log_path())
            lines = report.stderr_lines(width)
        return WorkerResult(report, lines)


def say(line: str) -> None:
    """A status line on stdout, at once (a pipe would hold it); a reader gone is no error."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, OSError):
        with contextlib.suppress(OSError):
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - for the rest of the run
