"""What the dashboard's collaborators may ask of the app: :class:`Dashboard`.

:class:`~cachetui.app.app.CacheTuiApp` is composed of collaborators, each an object that
owns its state: the session (:mod:`~cachetui.app.dashboard_session`), the knobs
(:mod:`~cachetui.app.faults_workload`, :mod:`~cachetui.app.queue_choice`,
:mod:`~cachetui.app.link_keys`, :mod:`~cachetui.app.dead_letter_keys`), talk mode
(:mod:`~cachetui.app.talk_mode`), presenting (:mod:`~cachetui.app.presenting`), the
header (:mod:`~cachetui.app.status_header`), the operations
(:mod:`~cachetui.app.operations`), the scenarios (:mod:`~cachetui.app.scenario_mode`) and
the refresh loop (:mod:`~cachetui.app.refresh`). They reach the rest of the dashboard only
through this list: the engine, what is on the screen, and the few things they ask it to
do. Keep it short.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    import random

    from textual.notifications import SeverityLevel
    from textual.screen import Screen

    from cachetui.app.export import MetricsHistory, MetricsSample
    from cachetui.app.states import Palette
    from cachetui.engine import Engine
    from cachetui.engine.lab.workload import Workload
    from cachetui.scenarios import ScenarioRun


class Dashboard(Protocol):
    engine: Engine
    live: bool  # False: no refresh timers (tests repaint by hand)
    timings: bool  # False: no durations or ages (deterministic snapshots)
    rng: random.Random  # the keys' random users and changes (seeded for tests)
    followed: int | None  # the user followed in all three panes
    total_rows: int  # the database's rows (its largest id)
    metrics_history: MetricsHistory  # what E exports

    @property
    def workload(self) -> Workload | None: ...  # None until the lab is open

    @property
    def scenario_run(self) -> ScenarioRun | None: ...  # the scenario running, if any

    @property
    def state_palette(self) -> Palette: ...

    @property
    def screen(self) -> Screen[object]: ...

    @property
    def is_web(self) -> bool: ...  # in a browser (cachetui serve)

    def export_screenshot(self) -> str: ...  # the screen as SVG

    def deliver_text(
        self, path_or_file: TextIO, *, save_filename: str | None = None, name: str | None = None
    ) -> str | None: ...  # a download, in a browser

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None: ...

    def notify_setting(self, message: str) -> None:
        """A knob's new value (replaces the previous one's notice)."""

    def narrate(self, text: str) -> None:
        """A line in the Events pane saying what a key did."""

    def push_screen(
        self, screen: Screen[Any], callback: Callable[[Any], None] | None = None
    ) -> object: ...

    def call_later(self, callback: Callable[[], Awaitable[None] | None]) -> bool: ...

    def call_after_refresh(self, callback: Callable[[], object]) -> bool: ...

    def refresh_bindings(self) -> None: ...  # the footer again (a key came or went)

    def show_trace(self, op: int, title: str) -> None:
        """The operation the trace pane shows (0: none), under ``title``."""

    def show_status(self) -> None:
        """Draw the header again."""

    async def refresh_view(self) -> None:
        """Repaint the panes from the engine."""

    def follow(self, user: int | None) -> None:
        """Follow ``user`` in all three panes (None: nobody)."""

    def workload_started(self) -> None:
        """The workload was started (w): its achieved rate is measured afresh."""

    def sample_now(self) -> MetricsSample:
        """The metrics at this moment, with the rates since the last sample."""

    def restart_rates(self) -> None:
        """The rates and sparklines start again (the counters were reset)."""
