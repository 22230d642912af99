"""Guided scenarios in the app: ``s`` picks one, space/``n`` next, ``b`` back, escape leaves.

:class:`ScenarioMode` is the dashboard's collaborator for them: it owns the running
scenario; the app's actions for these keys call it (each move after the keys typed
before). The engine side (actions, measured narration, back by replay) is
:mod:`cachetui.scenarios`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cachetui.app.dashboard import Dashboard
from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.keys.records import actions_when
from cachetui.app.keys.table import KEYS
from cachetui.app.operations import Operations
from cachetui.app.screens.scenario_picker import ScenarioPicker
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.engine import CacheTuiError
from cachetui.scenarios import (
    Frame,
    Scenario,
    ScenarioError,
    ScenarioRun,
    builtin_scenarios,
    resolve_scenario,
)

#: Actions that only mean something while a scenario runs (disabled otherwise).
STEP_ACTIONS = actions_when("scenario", KEYS)  # next step, step back, leave


class ScenarioMode:
    """The scenarios of ``dashboard``, shown in the banner ``banner()`` returns.
    ``initial`` (a Scenario, a built-in name or a .toml path, or None: ``--scenario``)
    starts on mount. Starting one accepts again the writes ``rejects`` rejected (P); a
    step's trace is ``operations``'s."""

    def __init__(
        self,
        dashboard: Dashboard,
        *,
        rejects: DeadLetterKeys,
        operations: Operations,
        banner: Callable[[], ScenarioBanner],
        initial: Scenario | str | None = None,
    ) -> None:
        self._dashboard = dashboard
        self._rejects = rejects
        self._operations = operations
        self._banner = banner
        self.initial = initial
        #: The scenario running, if any.
        self.run: ScenarioRun | None = None
        self.busy = False  # a move is under way
        self._followed_before: int | None = None  # followed when the scenario began
        self._step_started: float | None = None  # perf_counter() when the shown step began
        self._starts = 0  # scenarios chosen that have not started yet

    def allows(self, action: str) -> bool | None:
        """The step keys only mean something while a scenario runs (or a chosen one waits
        to start). None: ``action`` is not a step key."""
        if action in STEP_ACTIONS:
            return self.run is not None or self._starts > 0
        return None

    def first(self) -> Scenario | None:
        """The scenario to start on mount, resolved (None: none, or its error was said)."""
        scenario = self.initial
        if isinstance(scenario, str):
            try:
                scenario = resolve_scenario(scenario)
            except ScenarioError as exc:
                self._dashboard.notify(str(exc), title="Scenario", severity="error")
                return None
            self.initial = scenario  # the picker lists it too
        return scenario

    def choices(self) -> list[Scenario]:
        """What s offers: the built-in scenarios, and the one given at start."""
        choices = builtin_scenarios()
        extra = self.initial
        if isinstance(extra, Scenario) and extra.name not in {s.name for s in choices}:
            choices.append(extra)
        return choices

    def pick(self, start: Callable[[Scenario], None]) -> None:
        """s: the picker of :meth:`choices`; ``start`` gets the one chosen, if any."""

        def chosen(scenario: Scenario | None) -> None:
            if scenario is not None:
                start(scenario)

        self._dashboard.push_screen(ScenarioPicker(self.choices()), chosen)

    def chosen(self) -> None:
        """A scenario was chosen: the step keys wait for it (see :meth:`move`)."""
        self._starts += 1

    async def abandon(self) -> None:
        """The app ends: stop the running scenario without restoring anything."""
        if self.run is not None:
            await self.run.abandon()
            self.run = None

    async def move(self, move: str, scenario: Scenario | None = None) -> None:
        """One move (``start`` ``scenario``, ``next``, ``back``, ``leave``), in the order
        typed: a step typed while another runs runs next."""
        try:
            if scenario is None and self.run is None:
                return  # the scenario was left by a key typed before this one
            self.busy = True
            if self.run is not None and self.run.frame is not None:
                self._banner().show_frame(self.run.frame, busy=True)
            # the step runs once the screen shows it busy: a repaint is not its time
            painted = asyncio.get_running_loop().create_future()
            self._dashboard.call_after_refresh(
                lambda: None if painted.done() else painted.set_result(None)
            )
            await painted
            if scenario is not None:
                await self._start(scenario)
            else:
                await self._step(move)
        finally:
            if scenario is not None:
                self._starts -= 1

    # -- the moves ----------------------------------------------------------------------------
    async def _start(self, scenario: Scenario) -> None:
        dashboard = self._dashboard
        frame: Frame | None = None
        try:
            if self.run is not None:
                await self.run.leave()
                self.run = None
            else:
                self._followed_before = dashboard.followed
            workload = dashboard.workload
            if workload is not None and workload.running:
                await workload.stop()
                dashboard.notify("background workload stopped for the scenario", timeout=3)
            rejected = self._rejects.rejected_writes
            if rejected:  # P's triggers would spoil the scenario's steps
                users = sorted(rejected)
                for user in users:
                    await dashboard.engine.accept_writes(user)
                rejected.clear()
                dashboard.notify(
                    f"the database accepts writes of user {', '.join(map(str, users))} "
                    "again (P) for the scenario",
                    timeout=4,
                )
            self._step_started = None
            run = ScenarioRun(dashboard.engine, scenario, timings=dashboard.timings)
            frame = await run.start()
            self.run = run
        except (ScenarioError, CacheTuiError) as exc:
            dashboard.notify(str(exc), title="Cannot start the scenario", severity="error")
        finally:
            self.busy = False
        await self._show(frame)

    async def _step(self, move: str) -> None:
        dashboard = self._dashboard
        run = self.run
        assert run is not None
        frame: Frame | None = run.frame
        self._step_started = time.perf_counter()
        try:
            if move == "next":
                if await run.next() is None:
                    dashboard.notify(
                        "that was the last step: b goes back, escape leaves", timeout=3
                    )
                frame = run.frame
            elif move == "back":
                moved = await run.back()
                if moved is None:
                    dashboard.notify("this is the start of the scenario", timeout=2)
                frame = run.frame
            else:
                try:
                    await run.leave()
                finally:
                    self.run = None
                frame = None
                dashboard.notify(
                    f"left {run.scenario.title!r}: policy, faults, cache and the rows it "
                    "wrote are as before",
                    timeout=3,
                )
        except (ScenarioError, CacheTuiError) as exc:
            dashboard.notify(str(exc), title="Scenario", severity="error")
        finally:
            self.busy = False
        await self._show(frame)

    async def _show(self, frame: Frame | None) -> None:
        dashboard = self._dashboard
        banner = self._banner()
        if frame is None or self.run is None:
            banner.hide()
            dashboard.follow(self._followed_before)
            dashboard.show_trace(0, "")  # no step's operation once left
        else:
            banner.show_frame(frame)
            dashboard.follow(frame.follow)
            if frame.is_intro or self._step_started is None:
                dashboard.show_trace(0, "")
            else:  # only an operation of this step: never an older one under its title
                self._operations.trace_last(
                    f"scenario step {frame.index + 1}: its last operation", self._step_started
                )
        dashboard.refresh_bindings()
        await dashboard.refresh_view()
