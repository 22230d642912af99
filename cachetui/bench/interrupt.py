"""A benchmark stopped by a signal: SIGTERM, SIGHUP or SIGINT cancels the run, which
drops its copies unflushed; the command then exits 128 + the signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar


class Interrupted(Exception):
    """A signal stopped the benchmark."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signals that stop a benchmark: it drops its copies unflushed and exits 128 + signal.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


T = TypeVar("T")


async def run(body: Coroutine[Any, Any, T]) -> T:
    """Await ``body`` (every policy in turn, or a sweep); on SIGTERM, SIGHUP or SIGINT:
    stop, close without flushing, remove the temporary folder and raise
    :class:`Interrupted`."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # no signals here (Windows, not the main thread)
        installed.append(signum)
    try:
        return await body
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
