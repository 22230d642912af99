"""Running a scenario against a live engine: forward one step at a time, back by replay.

Going back (design choice): the runner does not try to snapshot and re-inject the state
between two steps — a pending write-behind queue, updates blocked by backpressure or the
aftermath of a crash cannot be put back through the engine's public API without
acknowledging new writes. Instead it returns the engine to the scenario's *baseline* and
replays the steps before the target, which re-creates every one of those states exactly
(the steps are deterministic). The baseline is:

- no fault and no lab trigger the scenario set (``reject-writes``), the write-behind
  queue empty, the queue bound and the policy as on entry;
- no dead letter the scenario made (those there on entry stay);
- an empty (cold) cache;
- every database row the scenario wrote put back as it was before the scenario first
  touched it (rows are copied on first write, before the write), so versions repeat;
- metrics reset to zero, but for the lost writes, conflicts and rejections of entry (what
  ``Engine.reset_metrics`` keeps), and the scenario's totals counted from there, so a
  step's numbers and the totals repeat too.

Leaving (:meth:`ScenarioRun.leave`) does the same, then restores what was there before
the scenario: the policy, the faults, the queue bound, the cache contents (their TTL
restarts) and the metrics, to their values on entry. Writes the user made with the app's
own keys during a scenario are not undone. (That state and how it is put back:
:mod:`~cachetui.scenarios.engine_state`; what a step measures for its narration:
:mod:`~cachetui.scenarios.step_values`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine import (
    CacheTuiError,
    Engine,
    Event,
    EventKind,
    Profile,
    StoreUnavailable,
)
from cachetui.engine.history.callers import set_caller
from cachetui.engine.metrics.counters import MetricsSnapshot
from cachetui.scenarios.actions import Action
from cachetui.scenarios.distance import PolicyLatencies, apply_links, saved_links
from cachetui.scenarios.engine_state import (
    EngineState,
    apply_faults,
    restore_engine,
    saved_faults,
    set_knob,
)
from cachetui.scenarios.model import Scenario, ScenarioError
from cachetui.scenarios.narration import METRICS, fill
from cachetui.scenarios.step_values import StepLog, step_values

#: After the engine reported backpressure, this long without any call finishing means
#: the remaining calls are waiting for room: the step ends and they keep waiting.
STALL_SECONDS = 0.2
#: The longest a step waits for its calls; slower ones carry on in the background.
STEP_DEADLINE = 30.0
#: While a scenario runs the flusher waits this long: the queue lands when a step says
#: "flush" (or fills up), so no narration is overtaken by a timer.
SCENARIO_FLUSH_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class Frame:
    """What the banner shows: a step (``index`` ≥ 0) or the introduction (``index`` -1)."""

    scenario: Scenario
    index: int
    narration: str
    follow: int | None = None
    values: dict[str, Any] = field(default_factory=dict)  # what the narration was filled with

    @property
    def total(self) -> int:
        return len(self.scenario.steps)

    @property
    def is_intro(self) -> bool:
        return self.index < 0

    @property
    def is_last(self) -> bool:
        return self.index == self.total - 1


class ScenarioRun:
    """Drive ``scenario`` on ``engine``: :meth:`start`, then :meth:`next` / :meth:`back`,
    finally :meth:`leave`. Calls are serialized; each returns the frame to show."""

    def __init__(self, engine: Engine, scenario: Scenario, *, timings: bool = True) -> None:
        self.engine = engine
        self.scenario = scenario
        self.timings = timings
        self.frame: Frame | None = None
        self.active = False
        self._lock = asyncio.Lock()
        self._entry: EngineState | None = None
        self._saved_rows: dict[int, Profile] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._waiting = 0  # calls started and not finished
        self._pushback = 0  # backpressure events seen
        self._follow: int | None = None
        self._log = StepLog()
        self._step_number = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._base: MetricsSnapshot | None = None  # the metrics at the baseline
        #: Users whose writes the database rejects because a step said so
        #: (``reject-writes``); accepted again at the baseline and on leaving.
        self.rejecting: set[int] = set()
        self._letters_on_entry: set[int] = set()  # users with a dead letter on entry
        self._latencies = PolicyLatencies()  # each policy's, since the baseline

    # -- the presenter's three moves ------------------------------------------------------
    async def start(self) -> Frame:
        """Save the engine's state, settle it into the baseline, show the introduction."""
        async with self._lock:
            engine = self.engine
            metrics = engine.counters.copy()
            faults, links = saved_faults(engine), saved_links(engine)
            engine.faults.clear()
            await apply_links(engine, links, partitions=False)  # lifted: the flush lands
            if engine.pending_writes():
                try:
                    await engine.flush(timeout=engine.config.flush_timeout)
                except CacheTuiError as exc:
                    apply_faults(engine, faults)
                    await apply_links(engine, links)
                    raise ScenarioError(
                        f"cannot start {self.scenario.name!r}: writes are pending and the "
                        f"database does not take them ({exc})"
                    ) from None
            try:
                cached = [e.profile for e in await engine.cache_entries()]
            except StoreUnavailable:
                cached = []
            self._letters_on_entry = {d.user_id for d in engine.dead_letters()}
            self._entry = EngineState(
                policy=engine.policy,
                faults=faults,
                max_pending=engine.max_pending,
                flush_interval=engine.flush_interval,
                cache=cached,
                metrics=metrics,
                queue=engine.config.queue_url,
                links=links,
            )
            self._unsubscribe = engine.subscribe(self._on_event)
            self.active = True
            await self._baseline()
            self.frame = self._intro()
            return self.frame

    async def next(self) -> Frame | None:
        """Run the next step; None after the last one."""
        async with self._lock:
            frame = self._current()
            if frame.is_last:
                return None
            self.frame = await self._run_step(frame.index + 1)
            return self.frame

    async def back(self) -> Frame | None:
        """Return to the state before the current step (and show the previous one);
        None at the introduction."""
        async with self._lock:
            frame = self._current()
            if frame.is_intro:
                return None
            await self._baseline()
            self.frame = self._intro()
            for index in range(frame.index):
                self.frame = await self._run_step(index)
            return self.frame

    async def leave(self) -> None:
        """Put the engine back as it was before the scenario (see the module docstring)."""
        async with self._lock:
            if not self.active or self._entry is None:
                return
            try:
                await self._restore(self._entry)
            finally:
                self.active = False
                self.frame = None
                if self._unsubscribe is not None:
                    self._unsubscribe()
                    self._unsubscribe = None

    async def abandon(self) -> None:
        """Stop without restoring anything (the engine is closing)."""
        await self._cancel_background()
        self.active = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _current(self) -> Frame:
        if not self.active or self.frame is None:
            raise ScenarioError("no scenario is running")
        return self.frame

    def _intro(self) -> Frame:
        steps = len(self.scenario.steps)
        text = self.scenario.description or f"{steps} {'step' if steps == 1 else 'steps'}."
        return Frame(self.scenario, -1, text)

    # -- baseline and restore ---------------------------------------------------------------
    async def _baseline(self) -> None:
        assert self._entry is not None
        await self._restore(
            dataclasses.replace(
                self._entry,
                faults={},
                # the queue flushes when a step says so (or is full), never behind the
                # narration's back
                flush_interval=SCENARIO_FLUSH_INTERVAL,
                cache=[],
                links={name: (rtt, None) for name, (rtt, _) in self._entry.links.items()},
                # zero, but for the entry's lost writes, conflicts and rejections (what a
                # reset keeps): so every replay of a step shows the same numbers
                metrics=self._entry.metrics.restarted(),
            )
        )

    async def _restore(self, state: EngineState) -> None:
        engine = self.engine
        await self._cancel_background()
        await restore_engine(
            engine,
            state,
            rejecting=self.rejecting,
            letters_kept=self._letters_on_entry,
            rows=self._saved_rows.values(),
        )
        self._base = engine.metrics
        self._latencies.reset()
        self._follow = None
        self._waiting = 0
        self._pushback = 0

    async def _cancel_background(self) -> None:
        tasks = list(self._background)
        self._background.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, CacheTuiError):
                await task

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.BACKPRESSURE:
            self._pushback += 1

    # -- one step ------------------------------------------------------------------------------
    async def _run_step(self, index: int) -> Frame:
        step = self.scenario.steps[index]
        engine = self.engine
        self._log = StepLog()
        self._step_number = index + 1
        before = engine.metrics
        counters = engine.counters
        reads, updates = counters.read_latency.copy(), counters.update_latency.copy()
        for action in step.actions:
            self._latencies.before(engine)
            await self._do(action)
            self._latencies.after(engine)
        after = engine.metrics
        # the app's own interval: the scenario pauses the timer while it runs
        interval = self._entry.flush_interval if self._entry else engine.config.flush_interval
        values = await step_values(
            engine,
            before,
            after,
            counters.read_latency.since(reads),
            counters.update_latency.since(updates),
            log=self._log,
            waiting=self._waiting,
            flush_interval=interval,
            follow=self._follow,
            timings=self.timings,
            latencies=self._latencies,
        )
        base = self._base if self._base is not None else before
        totals = {name: getattr(after, name) - getattr(base, name) for name in METRICS}
        return Frame(
            self.scenario, index, fill(step.narration, values, totals), self._follow, values
        )

    async def _do(self, action: Action) -> None:
        engine = self.engine
        verb = action.verb
        if verb == "policy":
            try:
                await engine.set_policy(action.value)
            except CacheTuiError as exc:
                self._failed(exc)
        elif verb == "read":
            await self._calls(action, lambda user: engine.read(user))
        elif verb == "update":
            await self._save_rows(action.users)
            await self._calls(action, self._updater(action))
        elif verb == "external":
            await self._save_rows(action.users)
            changes = action.change_dict or {"bio": "Edited by another service"}
            await self._calls(action, lambda user: engine.external_update(user, changes))
        elif verb == "invalidate":
            await self._calls(action, lambda user: engine.invalidate(user))
        elif verb == "flush":
            await self._flush()
        elif verb == "crash":
            self._log.lost.extend(await engine.crash())
            self._log.replayed += engine.last_crash.replayed
        elif verb == "queue":
            try:
                await engine.set_queue(action.value)
            except CacheTuiError as exc:
                self._failed(exc)
        elif await set_knob(engine, action):
            pass  # a fault, the database's distance (db-rtt) or the queue bound
        elif verb == "wait":
            await asyncio.sleep(action.value)
        elif verb == "follow":
            self._follow = action.users[0]
        elif verb == "reject-writes":
            self.rejecting.update(action.users)  # before: a failure half-way is undone too
            await self._each(action.users, engine.reject_writes)
        elif verb == "accept-writes":
            await self._each(action.users, engine.accept_writes)
            self.rejecting.difference_update(action.users)
        elif verb == "retry":
            users = action.users or tuple(d.user_id for d in engine.dead_letters())
            await self._save_rows(users)  # a retried letter lands: its row is put back
            if action.users:
                await self._each(users, engine.retry_dead_letters)
            else:
                await self._each([None], engine.retry_dead_letters)
        elif verb == "discard":
            await self._each(action.users, engine.discard_dead_letter)
        else:  # pragma: no cover - the parser knows every verb
            raise AssertionError(verb)

    async def _each(
        self, users: Iterable[int | None], call: Callable[[Any], Awaitable[Any]]
    ) -> None:
        """``call(user)`` for each user in turn; a failure is counted, the rest go on."""
        for user in users:
            try:
                await call(user)
            except CacheTuiError as exc:
                self._failed(exc)

    def _updater(self, action: Action) -> Callable[[int], Awaitable[Any]]:
        changes = action.change_dict
        counter = itertools.count(1)

        def update(user: int) -> Awaitable[Any]:
            body = changes or {
                "bio": f"{self.scenario.title[:200]}: step {self._step_number}, "
                f"update {next(counter)}"
            }
            return self.engine.update(user, body)

        return update

    async def _save_rows(self, users: Iterable[int]) -> None:
        """Copy the rows about to be written for the first time (for back and leave)."""
        missing = [u for u in users if u not in self._saved_rows]
        if missing:
            self._saved_rows.update(await self.engine.db_rows(missing))

    async def _calls(self, action: Action, call: Callable[[int], Awaitable[Any]]) -> None:
        """One call per user and repeat: users at once, a user's repeats in a row."""

        async def calls_of(user: int) -> None:
            set_caller(f"scenario-{self.scenario.name}")
            for _ in range(action.repeat):
                try:
                    await call(user)
                except CacheTuiError as exc:
                    self._failed(exc)
                finally:
                    self._waiting -= 1

        self._waiting += len(action.users) * action.repeat
        tasks = {asyncio.create_task(calls_of(user)) for user in action.users}
        await self._settle(tasks)

    async def _settle(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for the tasks; once the engine pushes back and nothing moves for
        STALL_SECONDS, leave the rest waiting in the background."""
        pushback = self._pushback
        waiting = self._waiting
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_DEADLINE
        moved = loop.time()
        pending = tasks
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.05)
            now = loop.time()
            if self._waiting != waiting:
                waiting, moved = self._waiting, now
            elif self._pushback > pushback and now - moved > STALL_SECONDS:
                break
            if now > deadline:
                break
        self._background |= pending

    async def _flush(self) -> None:
        """Flush, and keep flushing while updates waiting for room get it and finish."""
        engine = self.engine
        deadline = time.monotonic() + engine.config.flush_timeout
        while True:
            try:
                await engine.flush(timeout=max(0.0, deadline - time.monotonic()))
            except CacheTuiError as exc:
                self._failed(exc)
                return
            self._background = {t for t in self._background if not t.done()}
            if time.monotonic() > deadline:
                return
            if not self._background:
                # updates that got room while the flush ran are acknowledged and pending
                # now: they are part of what "flush" writes (the loop ends at the deadline)
                if not engine.pending_writes():
                    return
                continue
            waiting = self._waiting
            await asyncio.wait(self._background, timeout=STALL_SECONDS)
            if self._waiting == waiting and not engine.pending_writes():
                return  # nothing moved: what still waits is not waiting for the queue

    def _failed(self, exc: BaseException) -> None:
        self._log.failed += 1
        if not self._log.error:
            self._log.error = str(exc)
