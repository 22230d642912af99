"""``cachetui bench --external-rate OPS``: a foreign writer during the timed run, the
lab's external writer (``Engine.external_update``: the database written directly, the
cache bypassed), so that a policy's stale reads can occur and be counted."""

from __future__ import annotations

import asyncio
import contextlib
import random

from cachetui.engine import CacheTuiError, Engine
from cachetui.engine.lab.demo_data import random_changes
from cachetui.engine.lab.workload import ZipfKeys


class ExternalWriter:
    """One caller (recorded as ``external``, write id null) writing ``rate`` times a second,
    paced (write n is due ``n / rate`` seconds after the start; a writer behind its
    schedule writes back to back), on keys drawn like the workload's (the same Zipf
    skew, a seed of its own: the workload's operations stay the same), until
    :meth:`stop`. It never stops mid-write: every write it began is recorded."""

    def __init__(self, engine: Engine, rate: float, keys: int, skew: float, seed: int) -> None:
        self.engine = engine
        self.rate = rate
        self._rng = random.Random(seed ^ 0x5EED)
        self._keys = ZipfKeys(keys, skew, self._rng)
        self._stop = asyncio.Event()
        self.writes = 0
        self.errors = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while not self._stop.is_set():
            delay = start + n / self.rate - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                if self._stop.is_set():
                    break
            n += 1
            try:
                await self.engine.external_update(self._keys.next(), random_changes(self._rng))
                self.writes += 1
            except CacheTuiError:
                self.errors += 1

    def stop(self) -> None:
        self._stop.set()
