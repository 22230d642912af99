"""Skewed workloads: Zipf-distributed keys, a read/write mix, an open-loop rate."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cachetui.engine.errors import CacheTuiError, ValidationError
from cachetui.engine.history.callers import set_caller
from cachetui.engine.lab.demo_data import random_changes


class ZipfKeys:
    """User ids 1..n drawn with P(k) ∝ 1 / k**s (s = 0: uniform)."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        if n < 1:
            raise ValidationError(f"a workload needs at least 1 key, got {n}")
        if s < 0:
            raise ValidationError(f"Zipf exponent must be >= 0, got {s}")
        self.n = n
        self.s = s
        self._rng = rng
        weights = (1.0 / (k**s) for k in range(1, n + 1))
        self._cdf = list(itertools.accumulate(weights))
        self._total = self._cdf[-1]

    def next(self) -> int:
        if self.s == 0:
            return self._rng.randint(1, self.n)
        return bisect.bisect_left(self._cdf, self._rng.random() * self._total) + 1


#: Why the workload runs below its target: the engine's operations do not finish fast
#: enough (``max_in_flight`` are outstanding), or the event loop has no time left (it
#: wakes the schedule late and the backlog is dropped).
#: Numbers the workload's batch tasks, each a caller of its own in the history.
_slots = itertools.count()
ENGINE_LIMITED = "engine"
LOOP_LIMITED = "event loop"


@dataclass
class WorkloadStats:
    """What the workload did since it was made (counts of operations).

    ``fired``: started; ``reads`` / ``updates``: finished; ``errors``: failed (the
    engine raised), with the last one's text in ``last_error`` ("" before any);
    ``skipped``: due by the schedule but never started, because the schedule fell more
    than ``Workload.CATCH_UP`` seconds behind."""

    reads: int = 0
    updates: int = 0
    errors: int = 0
    last_error: str = ""
    fired: int = 0
    skipped: int = 0


class Workload:
    """Fires reads and updates at ``rate`` ops/s against an engine until stopped.

    Open loop: a driver wakes every few milliseconds and starts every operation the
    schedule says is due (``rate`` per second since the rate was set), whether or not
    earlier ones have finished, in batches (each batch one task running its operations
    one after another), with at most ``max_in_flight`` operations started and not
    finished. What cannot start for that bound stays due; a backlog older than
    ``CATCH_UP`` seconds is dropped (counted in ``stats.skipped``), so a slow spell is not
    followed by a burst. ``achieved`` and ``limited_by`` say whether the target is met and,
    if not, what sets the rate.

    ``clock``: monotonic seconds for the schedule and ``achieved`` (default
    ``time.monotonic``); inject one to drive the schedule by hand in tests.
    ``caller``: each batch task is a caller of its own in the history, named
    ``<caller>-<n>`` (``workload-3``; ``cachetui worker``'s are ``worker-3``).
    """

    RATES = (10, 50, 200, 1000, 5000, 20000, 50000)
    MAX_RATE = 50_000
    #: Operations started and not finished, at most (the default of ``max_in_flight``).
    MAX_IN_FLIGHT = 1024
    #: Operations per batch task, at most; fewer when fewer are due.
    BATCH = 32
    #: The driver's shortest pause between two wake-ups (s), and its longest.
    TICK = 0.004
    LONGEST_PAUSE = 0.1
    #: A backlog older than this (s) is dropped instead of caught up.
    CATCH_UP = 0.1
    #: ``achieved`` is measured over about this many seconds.
    MEASURE_SECONDS = 1.0
    #: How long ``stop()`` waits for cancelled operations to end (s).
    STOP_TIMEOUT = 1.0

    def __init__(
        self,
        engine: object,
        keys: int,
        *,
        rate: int = 50,
        read_ratio: float = 0.8,
        skew: float = 1.1,
        seed: int | None = None,
        max_in_flight: int | None = None,
        clock: Callable[[], float] | None = None,
        caller: str = "workload",
    ) -> None:
        self.engine = engine
        self.caller = caller
        self._task: asyncio.Task[None] | None = None
        self.rate = 1
        self.set_rate(rate)
        self.read_ratio = read_ratio
        self._rng = random.Random(seed)
        self.keys = ZipfKeys(keys, skew, self._rng)
        self.stats = WorkloadStats()
        self.max_in_flight = self.MAX_IN_FLIGHT if max_in_flight is None else max_in_flight
        if self.max_in_flight < 1:
            raise ValidationError(f"max_in_flight must be >= 1, got {self.max_in_flight}")
        self._clock = clock if clock is not None else time.monotonic
        self._batches: dict[asyncio.Task[None], list[int]] = {}
        self._stuck: set[asyncio.Task[None]] = set()  # ignored a cancellation in stop()
        self._in_flight = 0
        self._origin = 0.0  # when the schedule (at this rate) began
        self._started = 0  # operations the schedule handed out since _origin
        self._samples: deque[tuple[float, int]] = deque()  # (when, operations finished)
        self._engine_limited_at = -math.inf
        self._loop_limited_at = -math.inf

    # -- knobs -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def skew(self) -> float:
        return self.keys.s

    @property
    def target(self) -> int:
        """The target rate, ops/s (the same as ``rate``)."""
        return self.rate

    def set_skew(self, skew: float) -> None:
        self.keys = ZipfKeys(self.keys.n, skew, self._rng)

    def set_rate(self, rate: int) -> None:
        """The target, 1..MAX_RATE ops/s (ValueError outside); the schedule restarts."""
        if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= self.MAX_RATE:
            raise ValidationError(f"rate must be 1..{self.MAX_RATE:,} ops/s, got {rate!r}")
        self.rate = rate
        if self.running:
            self._restart_schedule(self._clock())

    def set_keys(self, keys: int) -> None:
        self.keys = ZipfKeys(keys, self.keys.s, self._rng)

    # -- what it achieves --------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Operations started and not finished."""
        return self._in_flight

    @property
    def achieved(self) -> float | None:
        """Operations finished (failed ones included) per second over about the last
        second; None when not running or not measured yet."""
        if not self.running or len(self._samples) < 2:
            return None
        (then, before), (now, done) = self._samples[0], self._samples[-1]
        if now - then < self.MEASURE_SECONDS / 4:
            return None
        return (done - before) / (now - then)

    @property
    def limited_by(self) -> str | None:
        """None while the target is met (within 10 %) or not measured yet; else why not:
        ``"engine"`` — ``max_in_flight`` operations were outstanding (they wait on the
        database, on Redis, on injected latency), or ``"event loop"`` — the process's one
        thread has no time left (the schedule was woken late and its backlog dropped:
        the UI, the engine's own work or the machine fill it)."""
        achieved = self.achieved
        if achieved is None or achieved >= 0.9 * self.rate:
            return None
        recent = self._clock() - self.MEASURE_SECONDS
        if self._engine_limited_at >= recent:
            return ENGINE_LIMITED
        if self._loop_limited_at >= recent:
            return LOOP_LIMITED
        return None

    # -- start and stop ------------------------------------------------------------------------
    def start(self) -> None:
        if not self.running:
            self._restart_schedule(self._clock())
            self._task = asyncio.get_running_loop().create_task(self._drive())

    async def stop(self) -> None:
        """Stop firing and cancel the operations in flight; returns once they ended, or
        after ``STOP_TIMEOUT`` seconds at most (an operation that ignores its
        cancellation is left to end on its own, and named in ``stats.last_error``)."""
        tasks = [t for t in (self._task, *self._batches) if t is not None and not t.done()]
        self._task = None
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.STOP_TIMEOUT)
        for task in tasks:
            if task.done():
                self._batch_done(task)  # (its callback may not have run yet)
        if pending:
            self._stuck.update(pending)  # keep a reference until they end
            for task in pending:
                task.add_done_callback(self._stuck.discard)
            self.stats.last_error = (
                f"{len(pending)} workload task(s) still running {self.STOP_TIMEOUT:g} s "
                "after they were cancelled"
            )

    # -- one operation -------------------------------------------------------------------------
    async def one(self) -> None:
        """One operation of the mix (a read or an update of a skewed key); an error the
        engine raises is counted in ``stats``, not raised."""
        user = self.keys.next()
        stats = self.stats
        try:
            if self._rng.random() < self.read_ratio:
                await self.engine.read(user)  # type: ignore[attr-defined]
                stats.reads += 1
            else:
                await self.engine.update(user, random_changes(self._rng))  # type: ignore[attr-defined]
                stats.updates += 1
        except CacheTuiError as exc:
            stats.errors += 1
            stats.last_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a workload reports, it does not stop
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"

    # -- the driver ------------------------------------------------------------------------------
    def _restart_schedule(self, now: float) -> None:
        self._origin = now
        self._started = 0
        self._samples.clear()

    async def _drive(self) -> None:
        clock = self._clock
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = clock()
                self._fire(now, loop)
                self._sample(now)
                rate = self.rate
                next_due = self._origin + (self._started + 1) / rate
                pause = min(max(self.TICK, next_due - clock()), self.LONGEST_PAUSE)
                await asyncio.sleep(pause)
        finally:
            self._sample(clock())

    def _fire(self, now: float, loop: asyncio.AbstractEventLoop) -> None:
        """Start what the schedule says is due at ``now`` (see the class docstring)."""
        rate = self.rate
        # (+1e-6: 0.05 s at 1,000 ops/s is 50 due, not the 49.99… of binary floats)
        due = math.floor((now - self._origin) * rate + 1e-6) - self._started
        if due <= 0:
            return
        # Operations of earlier wake-ups still in flight: the engine is slow to finish them
        # (or the loop late to run them) if they fill half the bound.
        engine_slow = self._in_flight >= self.max_in_flight / 2
        horizon = max(1, math.ceil(rate * self.CATCH_UP))
        if due > horizon:  # fallen too far behind: drop the oldest part of the backlog
            dropped = due - horizon
            self.stats.skipped += dropped
            self._started += dropped
            due = horizon
            self._limited(now, engine_slow)
        room = self.max_in_flight - self._in_flight
        count = min(due, room)
        if count < due:
            self._limited(now, engine_slow)
        if count <= 0:
            return
        self._started += count
        self._in_flight += count
        self.stats.fired += count
        size = max(1, min(self.BATCH, math.ceil(count / 8)))
        for first in range(0, count, size):
            left = [min(size, count - first)]  # the batch's operations not finished
            task = loop.create_task(self._batch(left))
            self._batches[task] = left
            task.add_done_callback(self._batch_done)

    def _limited(self, now: float, engine_slow: bool) -> None:
        if engine_slow:
            self._engine_limited_at = now
        else:
            self._loop_limited_at = now

    async def _batch(self, left: list[int]) -> None:
        set_caller(f"{self.caller}-{next(_slots)}")  # each batch task: one sequential caller
        while left[0] > 0:
            await self.one()
            left[0] -= 1
            self._in_flight -= 1

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        """Also for a batch cancelled before it ever ran: its operations are not in
        flight any more."""
        left = self._batches.pop(task, None)
        if left is not None:
            self._in_flight -= left[0]
            left[0] = 0

    def _sample(self, now: float) -> None:
        stats = self.stats
        samples = self._samples
        samples.append((now, stats.reads + stats.updates + stats.errors))
        while len(samples) > 2 and samples[1][0] <= now - self.MEASURE_SECONDS:
            samples.popleft()
