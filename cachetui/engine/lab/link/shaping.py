"""What a link does to the bytes it carries, live: the round-trip time, the jitter and a
partition. One :class:`Shaping` is shared by every delay line of a relay; changing it
changes every chunk that arrives (or is delivered after a partition) from then on."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Literal

from cachetui.engine.errors import ValidationError

Partition = Literal["blackhole", "reset"]
PARTITIONS: tuple[Partition, ...] = ("blackhole", "reset")

#: The standard normal's 99th percentile: a lognormal whose median is D/10 has its p99 at D
#: when sigma = ln(10) / Z99.
Z99 = 2.3263478740408408
JITTER_SIGMA = math.log(10) / Z99
#: At most this much of a wait is spent yielding to the loop instead of sleeping.
MAX_WAKE_UP = 0.002


def check_partition(value: object) -> Partition | None:
    """``value`` when it is ``"blackhole"``, ``"reset"`` or None; else ValidationError."""
    if value is None:
        return None
    for name in PARTITIONS:
        if value == name:
            return name
    raise ValidationError(
        f"partition must be 'blackhole', 'reset' or None, got {value!r}", field="partition"
    )


class Shaping:
    """``rtt`` and ``jitter`` in seconds, ``partition`` (None, ``"blackhole"``: bytes are
    held until it is lifted; ``"reset"``: the relay drops every connection and refuses
    new ones). A chunk's one-way delay is ``rtt / 2`` plus, with a jitter D, a draw from
    the lognormal whose median is D/10 and whose 99th percentile is D."""

    def __init__(self, rtt: float, jitter: float = 0.0, *, seed: int | None = None) -> None:
        self.rtt = rtt
        self.jitter = jitter
        self.partition: Partition | None = None
        #: When the last partition was lifted (loop time): held bytes count as arriving then.
        self.lifted_at = 0.0
        self._lifted = asyncio.Event()
        self._lifted.set()
        self._random = random.Random(seed)
        #: How late a sleep wakes up here (seconds, learnt): the lines wake this much
        #: early and wait out the rest, so a chunk is neither late by the scheduler's
        #: wake-up time nor ever early.
        self.wake_up = 100e-6

    def one_way(self) -> float:
        """Seconds a chunk spends in one direction: half the RTT plus a jitter draw."""
        return self.rtt / 2 + self.jitter_draw()

    def jitter_draw(self) -> float:
        if self.jitter <= 0:
            return 0.0
        return self._random.lognormvariate(math.log(self.jitter / 10), JITTER_SIGMA)

    async def wait_until(self, due: float) -> None:
        """Return at loop time ``due``, not before, and as little after as the scheduler
        lets: sleep until ``wake_up`` before it, then yield to the loop until it is due."""
        loop = asyncio.get_running_loop()
        target = due - self.wake_up
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
            late = loop.time() - target
            # Follows a high quantile: up fast, down slowly.
            rate = 0.2 if late > self.wake_up else 0.02
            self.wake_up = min(MAX_WAKE_UP, max(0.0, self.wake_up + rate * (late - self.wake_up)))
        while loop.time() < due:  # noqa: ASYNC110 (a timer would wake late again)
            await asyncio.sleep(0)

    def set_partition(self, partition: Partition | None, now: float) -> None:
        self.partition = partition
        if partition is None:
            self.lifted_at = now
            self._lifted.set()
        else:
            self._lifted.clear()

    async def unpartitioned(self) -> None:
        """Return once no partition holds the bytes."""
        await self._lifted.wait()
