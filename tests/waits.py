"""Waiting on what matters, not on the clock.

``wait_until`` polls a condition and fails the test, naming what never happened, when it
does not hold in time: a wait can never run out silently and let the test go on.
``at_exit`` records what held at the moment an app asked to exit, before its unmount
released the engine (which flushes): a quit's effects are judged by what the quit did.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

#: How long a wait may last before the test fails: a bound, never a pace (a wait ends
#: as soon as its condition holds).
PATIENCE = 10.0


async def wait_until(
    condition: Callable[[], object], what: str, timeout: float = PATIENCE, step: float = 0.005
) -> None:
    """Return once ``condition()`` (awaited if it returns an awaitable) is true; fail
    with ``what`` if it is not within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            pytest.fail(f"never happened within {timeout:g} s: {what}")
        await asyncio.sleep(step)


class SteppedClock:
    """Seconds that move only when a test moves them (``EngineConfig.cache_clock``,
    ``metrics_clock``): a TTL runs out when the test says, never on a slow machine."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at_exit(app: Any, read: Callable[[], T]) -> list[T]:
    """A list that gets ``read()``'s value when ``app`` asks to exit (``app.exit``), before
    its unmount runs: what the quit itself did, not what the unmount's release did."""
    seen: list[T] = []
    exit_app = app.exit

    def recording_exit(*args: Any, **kwargs: Any) -> None:
        seen.append(read())
        exit_app(*args, **kwargs)

    app.exit = recording_exit
    return seen


def in_flight(engine: Any) -> bool:
    """A write-behind batch is on its way to the database (taken, not yet settled)."""
    return any(p.in_flight for p in engine.pending_writes())
