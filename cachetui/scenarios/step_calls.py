"""What a scenario's steps do between them: the calls in flight, what they left running,
the rows copied before a first write, the users made to reject writes.

One :class:`StepState` lives as long as a :class:`~cachetui.scenarios.runner.ScenarioRun`;
the runner resets it at the baseline, and each verb (:mod:`~cachetui.scenarios.verbs`)
makes its calls through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cachetui.engine import CacheTuiError, Engine, Event, EventKind, Profile
from cachetui.engine.history.callers import set_caller
from cachetui.scenarios.actions import Action
from cachetui.scenarios.fleet_workers import FleetWorkers
from cachetui.scenarios.model import Scenario
from cachetui.scenarios.step_values import StepLog

#: After the engine reported backpressure, this long without any call finishing means
#: the remaining calls are waiting for room: the step ends and they keep waiting.
STALL_SECONDS = 0.2
#: The longest a step waits for its calls; slower ones carry on in the background.
STEP_DEADLINE = 30.0


class StepState:
    """The state the steps of one scenario run share (see the module docstring)."""

    def __init__(self, engine: Engine, scenario: Scenario) -> None:
        self.engine = engine
        self.scenario = scenario
        self.log = StepLog()  # what the current step did, for its narration
        self.step_number = 0
        self.follow: int | None = None  # the user the panes follow (``follow``)
        #: Users whose writes the database rejects because a step said so
        #: (``reject-writes``); accepted again at the baseline and on leaving.
        self.rejecting: set[int] = set()
        #: Rows as they were before the scenario first wrote them (for back and leave).
        self.saved_rows: dict[int, Profile] = {}
        self.waiting = 0  # calls started and not finished
        self.pushback = 0  # backpressure events seen
        self.background: set[asyncio.Task[None]] = set()  # calls a step left waiting
        self.workers = FleetWorkers()  # `cachetui worker` processes the steps started

    def begin_step(self, number: int) -> None:
        self.log = StepLog()
        self.step_number = number

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.BACKPRESSURE:
            self.pushback += 1

    async def reset(self) -> None:
        """Back to the baseline: nothing in flight, no worker running, nobody followed."""
        await self.cancel_background()
        await self.workers.stop_all()
        self.follow = None
        self.waiting = 0
        self.pushback = 0

    async def cancel_background(self) -> None:
        tasks = list(self.background)
        self.background.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, CacheTuiError):
                await task

    def failed(self, exc: BaseException) -> None:
        """Count a call the engine refused; the step's narration quotes the first."""
        self.log.failed += 1
        if not self.log.error:
            self.log.error = str(exc)

    # -- calls -------------------------------------------------------------------------
    async def each(
        self, users: Iterable[int | None], call: Callable[[Any], Awaitable[Any]]
    ) -> None:
        """``call(user)`` for each user in turn; a failure is counted, the rest go on."""
        for user in users:
            try:
                await call(user)
            except CacheTuiError as exc:
                self.failed(exc)

    def updater(self, action: Action) -> Callable[[int], Awaitable[Any]]:
        """An update per call: the action's changes, or a bio naming the step."""
        changes = action.change_dict
        counter = itertools.count(1)

        def update(user: int) -> Awaitable[Any]:
            body = changes or {
                "bio": f"{self.scenario.title[:200]}: step {self.step_number}, "
                f"update {next(counter)}"
            }
            return self.engine.update(user, body)

        return update

    async def save_rows(self, users: Iterable[int]) -> None:
        """Copy the rows about to be written for the first time (for back and leave)."""
        missing = [u for u in users if u not in self.saved_rows]
        if missing:
            self.saved_rows.update(await self.engine.db_rows(missing))

    async def calls(self, action: Action, call: Callable[[int], Awaitable[Any]]) -> None:
        """One call per user and repeat: users at once, a user's repeats in a row."""

        async def calls_of(user: int) -> None:
            set_caller(f"scenario-{self.scenario.name}")
            for _ in range(action.repeat):
                try:
                    await call(user)
                except CacheTuiError as exc:
                    self.failed(exc)
                finally:
                    self.waiting -= 1

        self.waiting += len(action.users) * action.repeat
        tasks = {asyncio.create_task(calls_of(user)) for user in action.users}
        await self._settle(tasks)

    async def _settle(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for the tasks; once the engine pushes back and nothing moves for
        STALL_SECONDS, leave the rest waiting in the background."""
        pushback = self.pushback
        waiting = self.waiting
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_DEADLINE
        moved = loop.time()
        pending = tasks
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.05)
            now = loop.time()
            if self.waiting != waiting:
                waiting, moved = self.waiting, now
            elif self.pushback > pushback and now - moved > STALL_SECONDS:
                break
            if now > deadline:
                break
        self.background |= pending

    async def flush(self) -> None:
        """Flush, and keep flushing while updates waiting for room get it and finish."""
        engine = self.engine
        deadline = time.monotonic() + engine.config.flush_timeout
        while True:
            try:
                await engine.flush(timeout=max(0.0, deadline - time.monotonic()))
            except CacheTuiError as exc:
                self.failed(exc)
                return
            self.background = {t for t in self.background if not t.done()}
            if time.monotonic() > deadline:
                return
            if not self.background:
                # updates that got room while the flush ran are acknowledged and pending
                # now: they are part of what "flush" writes (the loop ends at the deadline)
                if not engine.pending_writes():
                    return
                continue
            waiting = self.waiting
            await asyncio.wait(self.background, timeout=STALL_SECONDS)
            if self.waiting == waiting and not engine.pending_writes():
                return  # nothing moved: what still waits is not waiting for the queue
