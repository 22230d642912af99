"""Guided scenarios in the app: ``s`` picks one, space/``n`` next, ``b`` back, escape leaves.

:class:`ScenarioMode` is mixed into :class:`~cachetui.app.app.CacheTuiApp`; the engine
side (actions, measured narration, back by replay) is :mod:`cachetui.scenarios`.
"""

from __future__ import annotations

import asyncio
import time

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.app.keys.records import actions_when
from cachetui.app.keys.table import KEYS
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


class ScenarioMode(AppPart):
    """The app's scenario controller, mixed into CacheTuiApp (whose engine, followed user,
    follow(), refresh_view() and notify() it uses: see AppPart). ``initial_scenario`` (a
    Scenario, a built-in name or a .toml path, or None) is set by the app's constructor."""

    initial_scenario: Scenario | str | None = None
    scenario_run: ScenarioRun | None = None
    scenario_busy: bool = False
    _followed_before_scenario: int | None = None
    _step_started: float | None = None  # perf_counter() when the shown step began
    _scenario_starts = 0  # scenarios chosen that have not started yet

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in STEP_ACTIONS:  # also while a chosen scenario waits to start
            return self.scenario_run is not None or self._scenario_starts > 0
        return super().check_action(action, parameters)

    async def on_mount(self) -> None:
        """Runs after CacheTuiApp.on_mount (Textual calls the handlers along the MRO)."""
        if self.initial_scenario is None or self.startup_error or not self.engine.running:
            return
        scenario = self.initial_scenario
        if isinstance(scenario, str):
            try:
                scenario = resolve_scenario(scenario)
            except ScenarioError as exc:
                self.notify(str(exc), title="Scenario", severity="error")
                return
            self.initial_scenario = scenario  # the picker lists it too
        self.start_scenario(scenario)

    async def on_unmount(self) -> None:
        if self.scenario_run is not None:
            await self.scenario_run.abandon()
            self.scenario_run = None

    @property
    def scenario_banner(self) -> ScenarioBanner:
        return self.query_one(ScenarioBanner)

    # -- actions ---------------------------------------------------------------------------
    def action_scenarios(self) -> None:
        choices = builtin_scenarios()
        extra = self.initial_scenario
        if isinstance(extra, Scenario) and extra.name not in {s.name for s in choices}:
            choices.append(extra)

        def chosen(scenario: Scenario | None) -> None:
            if scenario is not None:
                self.start_scenario(scenario)

        self.push_screen(ScenarioPicker(choices), chosen)

    def start_scenario(self, scenario: Scenario) -> None:
        """Leave the running scenario, if any, and start ``scenario`` at its introduction
        (after the keys typed before; the steps typed after it wait for it)."""
        self._scenario_starts += 1
        self._scenario_move("start", scenario)

    def action_scenario_next(self) -> None:
        self._scenario_move("next")

    def action_scenario_back(self) -> None:
        self._scenario_move("back")

    def action_scenario_leave(self) -> None:
        self._scenario_move("leave")

    @in_order
    async def _scenario_move(self, move: str, scenario: Scenario | None = None) -> None:
        """One move, in the order typed: a step typed while another runs runs next."""
        try:
            if scenario is None and self.scenario_run is None:
                return  # the scenario was left by a key typed before this one
            self.scenario_busy = True
            if self.scenario_run is not None and self.scenario_run.frame is not None:
                self.scenario_banner.show_frame(self.scenario_run.frame, busy=True)
            # the step runs once the screen shows it busy: a repaint is not its time
            painted = asyncio.get_running_loop().create_future()
            self.call_after_refresh(lambda: None if painted.done() else painted.set_result(None))
            await painted
            if scenario is not None:
                await self._start_scenario(scenario)
            else:
                await self._move_scenario(move)
        finally:
            if scenario is not None:
                self._scenario_starts -= 1

    # -- the moves ----------------------------------------------------------------------------
    async def _start_scenario(self, scenario: Scenario) -> None:
        frame: Frame | None = None
        try:
            if self.scenario_run is not None:
                await self.scenario_run.leave()
                self.scenario_run = None
            else:
                self._followed_before_scenario = self.followed
            if self.workload is not None and self.workload.running:
                await self.workload.stop()
                self.notify("background workload stopped for the scenario", timeout=3)
            if self.rejected_writes:  # P's triggers would spoil the scenario's steps
                users = sorted(self.rejected_writes)
                for user in users:
                    await self.engine.accept_writes(user)
                self.rejected_writes.clear()
                self.notify(
                    f"the database accepts writes of user {', '.join(map(str, users))} "
                    "again (P) for the scenario",
                    timeout=4,
                )
            self._step_started = None
            run = ScenarioRun(self.engine, scenario, timings=self.timings)
            frame = await run.start()
            self.scenario_run = run
        except (ScenarioError, CacheTuiError) as exc:
            self.notify(str(exc), title="Cannot start the scenario", severity="error")
        finally:
            self.scenario_busy = False
        await self._show(frame)

    async def _move_scenario(self, move: str) -> None:
        run = self.scenario_run
        assert run is not None
        frame: Frame | None = run.frame
        self._step_started = time.perf_counter()
        try:
            if move == "next":
                if await run.next() is None:
                    self.notify("that was the last step: b goes back, escape leaves", timeout=3)
                frame = run.frame
            elif move == "back":
                moved = await run.back()
                if moved is None:
                    self.notify("this is the start of the scenario", timeout=2)
                frame = run.frame
            else:
                try:
                    await run.leave()
                finally:
                    self.scenario_run = None
                frame = None
                self.notify(
                    f"left {run.scenario.title!r}: policy, faults, cache and the rows it "
                    "wrote are as before",
                    timeout=3,
                )
        except (ScenarioError, CacheTuiError) as exc:
            self.notify(str(exc), title="Scenario", severity="error")
        finally:
            self.scenario_busy = False
        await self._show(frame)

    async def _show(self, frame: Frame | None) -> None:
        banner = self.scenario_banner
        if frame is None or self.scenario_run is None:
            banner.hide()
            self.follow(self._followed_before_scenario)
            self._trace_op, self._trace_title = 0, ""  # no step's operation once left
        else:
            banner.show_frame(frame)
            self.follow(frame.follow)
            if frame.is_intro or self._step_started is None:
                self._trace_op, self._trace_title = 0, ""
            else:  # only an operation of this step: never an older one under its title
                self._trace_last(
                    f"scenario step {frame.index + 1}: its last operation", self._step_started
                )
        self.refresh_bindings()
        await self.refresh_view()
