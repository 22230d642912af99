"""What the parts still mixed into the dashboard may rely on: the app they are mixed into.

:class:`~cachetui.app.app.CacheTuiApp` is composed of collaborators (objects that own
their state, see :mod:`~cachetui.app.dashboard`) and of the parts still mixed in
(:mod:`~cachetui.app.operations`, :mod:`~cachetui.app.refresh`, ...). At run time
:class:`AppPart` is plain ``object``; for the type checker it is the Textual ``App`` plus
the state the app's constructor sets and the methods one part calls on another. This list
is the coupling between the mixed-in parts: keep it short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import random

    from textual.app import App

    from cachetui.app.dashboard_session import DashboardSession
    from cachetui.app.dead_letter_keys import DeadLetterKeys
    from cachetui.app.export import MetricsHistory, MetricsSample
    from cachetui.app.key_order import KeyOrder
    from cachetui.app.operations import Operations
    from cachetui.app.states import Palette
    from cachetui.engine import Engine, Event, MetricsSnapshot
    from cachetui.engine.lab.workload import Workload
    from cachetui.scenarios import ScenarioRun

    class AppPart(App[None]):
        # -- set by CacheTuiApp.__init__ ---------------------------------------------------
        KEY_HELP: ClassVar[list[tuple[str, str]]]
        engine: Engine
        live: bool  # False: no refresh timers (tests repaint by hand)
        timings: bool  # False: no durations or ages (deterministic snapshots)
        rng: random.Random
        followed: int | None  # the user followed in all three panes
        total_rows: int
        metrics_history: MetricsHistory
        key_order: KeyOrder  # the keys that act on the engine, in the order typed
        # the operation the trace pane shows (set by show_trace, shown by the refresh)
        _trace_op: int
        _trace_title: str
        # the workload's achieved ops/s (measured by the refresh, shown by the header)
        _workload_rate: float | None
        _workload_mark: tuple[float, int] | None
        # the collaborators the parts use
        session: DashboardSession
        dead_letter_keys: DeadLetterKeys
        operations: Operations

        def show_trace(self, op: int, title: str) -> None: ...

        @property
        def workload(self) -> Workload | None: ...  # the session's: None until mounted

        @property
        def scenario_run(self) -> ScenarioRun | None: ...  # the scenario mode's
        # -- RefreshLoop -------------------------------------------------------------------
        async def refresh_view(self) -> None: ...
        def follow(self, user: int | None) -> None: ...
        def restart_rates(self) -> None: ...
        def _flush_by_step(self) -> bool: ...
        def _workload_done(self) -> int: ...
        def _sample_since_last(self, now: float, m: MetricsSnapshot) -> MetricsSample: ...
        def _on_event(self, event: Event) -> None: ...
        @property
        def state_palette(self) -> Palette: ...

        def _show_status(self) -> None: ...  # the header drawn again


else:
    AppPart = object
