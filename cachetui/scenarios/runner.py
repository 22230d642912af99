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
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine import CacheTuiError, Engine, StoreUnavailable
from cachetui.engine.metrics.counters import MetricsSnapshot
from cachetui.scenarios.distance import PolicyLatencies, apply_links, saved_links
from cachetui.scenarios.engine_state import (
    EngineState,
    apply_faults,
    restore_engine,
    saved_faults,
)
from cachetui.scenarios.model import Scenario, ScenarioError
from cachetui.scenarios.narration import METRICS, fill
from cachetui.scenarios.step_calls import StepState
from cachetui.scenarios.step_values import step_values
from cachetui.scenarios.verbs import DO

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
        self.shared = StepState(engine, scenario)  # what the steps share
        self._unsubscribe: Callable[[], None] | None = None
        self._base: MetricsSnapshot | None = None  # the metrics at the baseline
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
            self._unsubscribe = engine.subscribe(self.shared.on_event)
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

    @property
    def rejecting(self) -> set[int]:
        """Users whose writes the database rejects because a step said so."""
        return self.shared.rejecting

    async def abandon(self) -> None:
        """Stop without restoring anything (the engine is closing)."""
        await self.shared.cancel_background()
        await self.shared.workers.stop_all()
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
        await self.shared.reset()
        await restore_engine(
            engine,
            state,
            rejecting=self.shared.rejecting,
            letters_kept=self._letters_on_entry,
            rows=self.shared.saved_rows.values(),
        )
        self._base = engine.metrics
        self._latencies.reset()

    # -- one step ------------------------------------------------------------------------------
    async def _run_step(self, index: int) -> Frame:
        step = self.scenario.steps[index]
        engine = self.engine
        self.shared.begin_step(index + 1)
        before = engine.metrics
        counters = engine.counters
        reads, updates = counters.read_latency.copy(), counters.update_latency.copy()
        for action in step.actions:
            self._latencies.before(engine)
            await DO[action.verb](self.shared, action)
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
            log=self.shared.log,
            waiting=self.shared.waiting,
            flush_interval=interval,
            follow=self.shared.follow,
            timings=self.timings,
            latencies=self._latencies,
            fleet=self.shared.workers,
        )
        base = self._base if self._base is not None else before
        totals = {name: getattr(after, name) - getattr(base, name) for name in METRICS}
        return Frame(
            self.scenario, index, fill(step.narration, values, totals), self.shared.follow, values
        )
