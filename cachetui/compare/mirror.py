"""One stream of operations, two engines: :class:`Mirror` fans each operation out to two
:class:`Lane`\\ s, one per engine, each working through its own queue in order at its own
pace (neither waits for the other, so the slow policy never throttles the fast one).

No Textual here: the compare screen (:mod:`cachetui.compare.app`) and the tests drive it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from cachetui.engine import Engine, Profile
from cachetui.engine.errors import CacheTuiError
from cachetui.engine.history.callers import set_caller

OpKind = Literal["read", "update", "external"]


@dataclass(frozen=True, slots=True)
class Op:
    """One operation as it was issued: ``seq`` counts from 1 in issue order; ``source``
    is ``"key"`` (a key press, never dropped) or ``"workload"``."""

    seq: int
    kind: OpKind
    user: int
    changes: dict[str, Any] | None = None
    source: str = "key"


@dataclass(slots=True)
class LaneStats:
    """What one lane did: operations ``started``, ``finished`` (ok), ``failed`` (the
    engine raised: ``last_error`` says why), and workload operations ``dropped`` because
    its backlog was full (the engine fell ``Lane.max_backlog`` operations behind)."""

    started: int = 0
    finished: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str = ""


@dataclass(slots=True)
class _Queued:
    op: Op
    result: asyncio.Future[Profile] | None = None


class Lane:
    """One engine's queue of mirrored operations. Operations start in issue order, at most
    ``max_in_flight`` at once (the engine serves concurrent callers, as under the app's
    workload); ``backlog`` counts those issued and not started yet. ``log`` keeps the last
    ``LOG`` operations started, ``(seq, kind, user)``."""

    LOG = 2000

    def __init__(
        self, name: str, engine: Engine, *, max_in_flight: int = 256, max_backlog: int = 20_000
    ) -> None:
        self.name = name
        self.engine = engine
        self.max_in_flight = max_in_flight
        self.max_backlog = max_backlog
        self.stats = LaneStats()
        self.log: deque[tuple[int, str, int]] = deque(maxlen=self.LOG)
        self._queue: deque[_Queued] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._driver: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def put(self, op: Op, want_result: bool) -> asyncio.Future[Profile] | None:
        """Queue ``op``; a future for its outcome if ``want_result`` (it raises what the
        engine raised). A workload operation over a full backlog is dropped (None)."""
        if op.source == "workload" and len(self._queue) >= self.max_backlog:
            self.stats.dropped += 1
            return None
        result: asyncio.Future[Profile] | None = None
        if want_result:
            result = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(op, result))
        self._idle.clear()
        self._wake.set()
        return result

    def start(self) -> None:
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    async def stop(self) -> None:
        """Stop starting operations; cancel those in flight and drop the backlog."""
        tasks = [t for t in (self._driver, *self._in_flight) if t is not None]
        self._driver = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for queued in self._queue:
            if queued.result is not None and not queued.result.done():
                queued.result.cancel()
        self._queue.clear()
        self._idle.set()

    async def idle(self) -> None:
        """Return once every queued operation has finished."""
        await self._idle.wait()

    async def _drive(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and len(self._in_flight) < self.max_in_flight:
                queued = self._queue.popleft()
                op = queued.op
                self.log.append((op.seq, op.kind, op.user))
                self.stats.started += 1
                task = asyncio.get_running_loop().create_task(self._run(queued))
                self._in_flight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()
        if not self._queue and not self._in_flight:
            self._idle.set()

    async def _run(self, queued: _Queued) -> None:
        op, engine = queued.op, self.engine
        set_caller(f"compare-{self.name}")
        try:
            if op.kind == "read":
                profile = await engine.read(op.user)
            elif op.kind == "update":
                profile = await engine.update(op.user, dict(op.changes or {}))
            else:
                profile = await engine.external_update(op.user, dict(op.changes or {}))
        except (CacheTuiError, Exception) as exc:  # noqa: BLE001 - a lane reports, it goes on
            self.stats.failed += 1
            self.stats.last_error = str(exc) or type(exc).__name__
            if queued.result is not None and not queued.result.done():
                queued.result.set_exception(exc)
            return
        self.stats.finished += 1
        if queued.result is not None and not queued.result.done():
            queued.result.set_result(profile)


@dataclass(slots=True)
class Outcome:
    """Both engines' answers to one key press: a profile, or the error the engine
    raised, per lane (A then B)."""

    op: Op
    results: list[Profile | BaseException] = field(default_factory=list)


class Mirror:
    """Issue each operation once to both engines (``a``, ``b``).

    The background :class:`~cachetui.engine.lab.workload.Workload` takes a Mirror as its
    engine: its ``read`` and ``update`` queue the operation on both lanes and return at
    once, so the workload's rate is the rate issued to both. A key press uses
    :meth:`press`, which waits for both outcomes (each lane still at its own pace)."""

    def __init__(self, a: Engine, b: Engine, *, max_in_flight: int = 256) -> None:
        self.lanes = (
            Lane("A", a, max_in_flight=max_in_flight),
            Lane("B", b, max_in_flight=max_in_flight),
        )
        self._seq = itertools.count(1)

    @property
    def engines(self) -> tuple[Engine, Engine]:
        return self.lanes[0].engine, self.lanes[1].engine

    def start(self) -> None:
        for lane in self.lanes:
            lane.start()

    async def stop(self) -> None:
        for lane in self.lanes:
            await lane.stop()

    async def idle(self) -> None:
        """Return once both lanes have worked through everything issued so far."""
        for lane in self.lanes:
            await lane.idle()

    def issue(
        self,
        kind: OpKind,
        user: int,
        changes: dict[str, Any] | None = None,
        *,
        source: str = "key",
        want_result: bool = False,
    ) -> tuple[Op, list[asyncio.Future[Profile] | None]]:
        """Queue one operation on both lanes; futures for the outcomes if asked."""
        op = Op(next(self._seq), kind, user, changes, source)
        return op, [lane.put(op, want_result) for lane in self.lanes]

    async def press(
        self, kind: OpKind, user: int, changes: dict[str, Any] | None = None
    ) -> Outcome:
        """Issue a key's operation to both engines and wait for both outcomes."""
        op, futures = self.issue(kind, user, changes, want_result=True)
        outcome = Outcome(op)
        for future in futures:
            assert future is not None
            try:
                outcome.results.append(await future)
            except (CacheTuiError, Exception) as exc:  # noqa: BLE001
                outcome.results.append(exc)
        return outcome

    # -- the Workload's engine -------------------------------------------------------------
    async def read(self, user_id: int) -> None:
        self.issue("read", user_id, source="workload")

    async def update(self, user_id: int, changes: dict[str, Any]) -> None:
        self.issue("update", user_id, changes, source="workload")
