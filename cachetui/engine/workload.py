"""Skewed workloads: Zipf-distributed keys, a read/write mix, a steady rate."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import random
import time
from dataclasses import dataclass

from cachetui.engine.demo_data import random_changes
from cachetui.engine.errors import CacheTuiError


class ZipfKeys:
    """User ids 1..n drawn with P(k) ∝ 1 / k**s (s = 0: uniform)."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        if n < 1:
            raise ValueError(f"a workload needs at least 1 key, got {n}")
        if s < 0:
            raise ValueError(f"Zipf exponent must be >= 0, got {s}")
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


@dataclass
class WorkloadStats:
    reads: int = 0
    updates: int = 0
    errors: int = 0
    last_error: str = ""


class Workload:
    """Fires reads and updates at ``rate`` ops/s against an engine until stopped."""

    RATES = (10, 50, 200, 1000, 5000, 20000)
    CONCURRENCY = 16
    SATURATED_PAUSE = 0.002

    def __init__(
        self,
        engine: object,
        keys: int,
        *,
        rate: int = 50,
        read_ratio: float = 0.8,
        skew: float = 1.1,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.rate = rate
        self.read_ratio = read_ratio
        self._rng = random.Random(seed)
        self.keys = ZipfKeys(keys, skew, self._rng)
        self.stats = WorkloadStats()
        self._task: asyncio.Task[None] | None = None
        self._next_slot = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def skew(self) -> float:
        return self.keys.s

    def set_skew(self, skew: float) -> None:
        self.keys = ZipfKeys(self.keys.n, skew, self._rng)

    def set_rate(self, rate: int) -> None:
        if rate < 1:
            raise ValueError(f"rate must be >= 1 op/s, got {rate}")
        self.rate = rate

    def set_keys(self, keys: int) -> None:
        self.keys = ZipfKeys(keys, self.keys.s, self._rng)

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def one(self) -> None:
        """One operation of the mix (a read or an update of a skewed key)."""
        user = self.keys.next()
        try:
            if self._rng.random() < self.read_ratio:
                await self.engine.read(user)  # type: ignore[attr-defined]
                self.stats.reads += 1
            else:
                await self.engine.update(user, random_changes(self._rng))  # type: ignore[attr-defined]
                self.stats.updates += 1
        except CacheTuiError as exc:
            self.stats.errors += 1
            self.stats.last_error = str(exc)

    async def _run(self) -> None:
        """A few paced workers: at most ``CONCURRENCY`` operations are ever in flight,
        so whoever shares the event loop (the UI) keeps getting its turn."""
        self._next_slot = time.monotonic()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.CONCURRENCY)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            now = time.monotonic()
            slot = max(self._next_slot, now - 0.1)  # do not catch up more than 0.1 s
            self._next_slot = slot + 1.0 / self.rate
            if slot > now:
                await asyncio.sleep(slot - now)
            else:
                # Behind schedule: the event loop is saturated. Pause briefly rather than
                # yield, so that key presses and repaints sharing the loop get through.
                await asyncio.sleep(self.SATURATED_PAUSE)
            await self.one()
