"""The write-behind flusher: batches from the write queue land in one transaction each.

It wakes every ``flush_interval`` seconds, or sooner when the queue reaches
``batch_size`` or a caller waits for room (backpressure), and writes the oldest pending
writes in batches of ``batch_size``. A failed batch stays queued and is retried with
capped exponential backoff (``retry_base`` doubling up to ``retry_cap`` seconds).
``flush()`` and draining (leaving write-behind, closing) use the same batches.
"""

from __future__ import annotations

import asyncio
import contextlib

from cachetui.engine.core import BACKGROUND_OP, EngineCore, perf_counter, wait_event
from cachetui.engine.errors import DatabaseUnavailable, PendingWritesError
from cachetui.engine.events import EventKind


class Flusher:
    def __init__(self, core: EngineCore) -> None:
        self._core = core
        #: Held while a batch is in flight: a crash waits for it to land or fail.
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()  # wakes the flusher before its interval
        self._flush_requested = False  # … to flush now
        self._restart_wait = False  # … to start waiting again (the interval changed)
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Cancel the background rounds (pending writes stay queued)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def request_flush(self) -> None:
        """Wake the flusher now (a full batch, a caller waiting for room)."""
        self._flush_requested = True
        self._wake.set()

    def restart_wait(self) -> None:
        """The interval changed: start the next wait at once."""
        self._restart_wait = True
        self._wake.set()

    async def flush_all(self, op: int, deadline: float, *, everything: bool) -> None:
        """Flush until the writes pending now (or, with ``everything``, all writes)
        have landed. Raises PendingWritesError if the database is down, or keeps
        failing past ``deadline`` (a perf_counter time)."""
        core = self._core
        queue = core.queue
        targets = None if everything else queue.user_ids()
        delay = core.config.retry_base
        while len(queue) and (targets is None or any(uid in queue for uid in targets)):
            error = await self.flush_batch(op)
            if error is None:
                delay = core.config.retry_base
                continue
            if not error.transient or perf_counter() + delay > deadline:
                raise PendingWritesError(len(queue), str(error)) from error
            await asyncio.sleep(delay)
            delay = min(core.config.retry_cap, delay * 2)

    async def flush_batch(self, op: int) -> DatabaseUnavailable | None:
        """Write the oldest pending writes in one transaction; the error if it failed."""
        core = self._core
        async with self.lock:
            batch = core.queue.take_batch(core.config.batch_size)
            count = len(batch.profiles)
            if not count:
                return None
            start = perf_counter()
            try:
                await core.db.write(batch.profiles)
            except DatabaseUnavailable as exc:
                core.c.coalesced += core.queue.failed(batch)
                core.c.retries += 1
                core.emit(
                    op,
                    EventKind.RETRY,
                    None,
                    None,
                    perf_counter() - start,
                    f"{count} writes not landed, will retry: {exc}",
                )
                return exc
            except BaseException:
                core.queue.failed(batch)
                raise
            core.queue.landed(batch)
            c = core.c
            c.db_writes += count
            c.db_transactions += 1
            waited = perf_counter() - min(batch.queued_at)
            if waited > c.max_queue_wait:
                c.max_queue_wait = waited
            if count == 1:
                p = batch.profiles[0]
                core.emit(
                    op,
                    EventKind.FLUSH,
                    p.user_id,
                    p.version,
                    perf_counter() - start,
                    "1 write in 1 transaction",
                )
            else:
                core.emit(
                    op,
                    EventKind.FLUSH,
                    None,
                    None,
                    perf_counter() - start,
                    f"{count} writes in 1 transaction",
                )
            return None

    async def _run(self) -> None:
        """Flush every ``flush_interval``, or sooner at ``batch_size``; back off on failure."""
        delay = 0.0
        core = self._core
        config = core.config
        while True:
            try:
                if delay:
                    await asyncio.sleep(delay)
                else:
                    await wait_event(self._wake, config.flush_interval)
                self._wake.clear()
                if self._restart_wait and not self._flush_requested:
                    self._restart_wait = False  # a new interval: start waiting again
                    continue
                self._restart_wait = self._flush_requested = False
                if not len(core.queue):
                    continue
                op = next(core.ops)
                while len(core.queue):
                    if await self.flush_batch(op) is not None:
                        delay = min(config.retry_cap, max(config.retry_base, delay * 2))
                        break
                else:
                    delay = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the flusher must survive anything
                core.emit(
                    BACKGROUND_OP, EventKind.ERROR, None, None, None, f"flusher error: {exc!r}"
                )
                delay = config.retry_cap

    async def drain(self, deadline: float) -> None:
        """With the gate closed: wait out updates in progress and flush everything."""
        core = self._core
        op = next(core.ops)
        while True:
            if len(core.queue):
                await self.flush_all(op, deadline, everything=True)
            if core.active_updates == 0 and not len(core.queue):
                return
            remaining = deadline - perf_counter()
            if remaining <= 0:
                raise PendingWritesError(
                    len(core.queue), f"{core.active_updates} updates still in progress"
                )
            await wait_event(core.idle, min(remaining, 0.05))
