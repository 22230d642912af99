"""What the part still mixed into the dashboard may rely on: the app it is mixed into.

:class:`~cachetui.app.app.CacheTuiApp` is composed of collaborators, objects that own
their state and reach the app through :class:`~cachetui.app.dashboard.Dashboard`; the
refresh loop (:mod:`~cachetui.app.refresh`) is still mixed in. At run time
:class:`AppPart` is plain ``object``; for the type checker it is the Textual ``App`` plus
the state the app's constructor sets that the refresh loop reads or writes. Keep it short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from cachetui.app.export import MetricsHistory
    from cachetui.app.key_order import KeyOrder
    from cachetui.engine import Engine
    from cachetui.engine.lab.workload import Workload
    from cachetui.scenarios import ScenarioRun

    class AppPart(App[None]):
        # -- set by CacheTuiApp.__init__ ---------------------------------------------------
        engine: Engine
        live: bool  # False: no refresh timers (tests repaint by hand)
        timings: bool  # False: no durations or ages (deterministic snapshots)
        followed: int | None  # the user followed in all three panes
        total_rows: int
        metrics_history: MetricsHistory
        key_order: KeyOrder  # the keys that act on the engine, in the order typed
        # the operation the trace pane shows (set by show_trace, shown by the refresh)
        _trace_op: int
        _trace_title: str
        # the workload's achieved ops/s (measured by the refresh)
        _workload_rate: float | None
        _workload_mark: tuple[float, int] | None

        @property
        def workload(self) -> Workload | None: ...  # the session's: None until mounted

        @property
        def scenario_run(self) -> ScenarioRun | None: ...  # the scenario mode's

        def _show_status(self) -> None: ...  # the header drawn again

else:
    AppPart = object
