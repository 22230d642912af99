"""The cachetui dashboard: three live panes over one engine, driven from the keyboard."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen

from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.export import MetricsHistory
from cachetui.app.faults_workload import FaultsAndWorkload
from cachetui.app.key_order import KeyOrder, in_order
from cachetui.app.keys.bindings import (
    DASHBOARD_BINDINGS,
    DASHBOARD_KEY_HELP,
    FOOTER_DROP_ORDER,
    first_key,
)
from cachetui.app.link_keys import LinkKeys
from cachetui.app.operations import Operations
from cachetui.app.presenting import Presenting
from cachetui.app.queue_choice import QueueChoice
from cachetui.app.quitting import Quitting
from cachetui.app.refresh import REFRESH_SECONDS, RefreshLoop
from cachetui.app.scenario_mode import ScenarioMode
from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.seeding import Seeding
from cachetui.app.status_header import StatusHeader
from cachetui.app.talk_mode import TalkMode
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip
from cachetui.app.widgets.panes import FOLLOW_MARK, CachePane, DatabasePane, QueuePane
from cachetui.app.widgets.status import StatusBar
from cachetui.engine import CacheTuiError, Engine, Event, EventKind
from cachetui.engine.lab.workload import Workload
from cachetui.literal import printable
from cachetui.scenarios import Scenario

DEFAULT_EXPORT_DIR = "~/cachetui-exports"
#: Notifications shown at once, by the screen's height class (the Events pane's room).
TOASTS_SHOWN = {"-tall": 3, "-mid": 2, "-short": 1}


class CacheTuiApp(
    ScenarioMode,
    TalkMode,
    Operations,
    DeadLetterKeys,
    QueueChoice,
    LinkKeys,
    FaultsAndWorkload,
    Presenting,
    Quitting,
    Seeding,
    RefreshLoop,
    StatusHeader,
    App[None],
):
    """``engine`` is started (and seeded with ``seed_profiles``) on mount, closed on quit.

    This class composes the screen, binds the keys (listed in
    :mod:`~cachetui.app.keys.table`) and starts and releases the engine; each part it is
    made of lives in a module named for it: the scenarios
    (:mod:`~cachetui.app.scenario_mode`), the operations on the data
    (:mod:`~cachetui.app.operations`), dead letters and rejected writes
    (:mod:`~cachetui.app.dead_letter_keys`), the faults and the workload
    (:mod:`~cachetui.app.faults_workload`), a link's keys (:mod:`~cachetui.app.link_keys`),
    help, focus and export (:mod:`~cachetui.app.presenting`), the quit path
    (:mod:`~cachetui.app.quitting`), the refresh loop (:mod:`~cachetui.app.refresh`), the
    header (:mod:`~cachetui.app.status_header`) and talk mode
    (:mod:`~cachetui.app.talk_mode`). What they share is listed in
    :mod:`~cachetui.app.app_part`. ScenarioMode comes first: Textual runs ``on_mount`` and
    ``on_unmount`` along the MRO, this class's before the scenario's.

    ``live=False`` stops the refresh timers (tests call :meth:`refresh_view`);
    ``timings=False`` hides durations and ages, for deterministic snapshots.
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "cachetui"
    ENABLE_COMMAND_PALETTE = True
    NOTIFICATION_TIMEOUT = 4  # seconds (Textual's 5): a toast repeats what the panes show
    # The screen's width and height classes; app.tcss lays the dashboard out by them.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-mid"), (40, "-tall")]
    BINDINGS = DASHBOARD_BINDINGS
    KEY_HELP: ClassVar[list[tuple[str, str]]] = DASHBOARD_KEY_HELP

    def __init__(
        self,
        engine: Engine,
        *,
        seed_profiles: int = 1000,
        live: bool = True,
        timings: bool = True,
        seed: int | None = None,
        scenario: Scenario | str | None = None,
        theme: str | None = None,
        export_dir: str = DEFAULT_EXPORT_DIR,
        talk: bool = False,
    ) -> None:
        super().__init__()
        self.talk = talk  # --talk: the preset, and X resets the lab (see TalkMode)
        if theme is not None:
            self.theme = theme  # an unknown name raises InvalidThemeError
        self.export_dir = export_dir
        self.metrics_history = MetricsHistory()
        self.engine = engine
        self.key_order = KeyOrder()
        self.seed_profiles = seed_profiles
        self.live = live
        self.timings = timings
        self.rng = random.Random(seed)
        self.initial_scenario = scenario  # started on mount: see ScenarioMode
        self.workload: Workload | None = None
        self.startup_error: str | None = None
        self.followed: int | None = None
        self.total_rows = 0
        self._trace_op = 0
        self._trace_title = ""
        # the workload's achieved ops/s over the last second (None: not measured yet)
        self._workload_rate: float | None = None
        self._workload_mark: tuple[float, int] | None = None  # (when, operations done)

    #: z: the event log and the secondary metrics hidden, the three panes enlarged.
    focus_panes = var(False, toggle_class="-focus-panes")

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield ScenarioBanner(id="scenario-banner")
        with Horizontal(id="panes"):
            yield CachePane(ttl=self.engine.config.ttl is not None, id="cache")
            yield QueuePane(id="queue")
            yield DatabasePane(id="database")
        yield MetricsStrip(id="metrics")
        with Horizontal(id="activity"):
            yield TracePane(id="trace")
            yield EventLog(id="log", max_lines=500, wrap=True, markup=False)
        yield DashboardFooter(FOOTER_DROP_ORDER)

    async def on_mount(self) -> None:
        self.query_one("#trace", TracePane).border_title = "Last operation"
        self.query_one("#log", EventLog).border_title = "Events"
        self.query_one("#metrics", MetricsStrip).border_title = "Metrics"
        self.install_signal_handlers()  # SIGTERM, SIGHUP, SIGINT: the path of q
        # what the engine says while it starts: lab triggers left over by a killed run
        at_start: list[Event] = []
        unsubscribe = self.engine.subscribe(
            lambda event: at_start.append(event) if event.kind is EventKind.FAULT else None
        )
        try:
            await self.engine.start()
        except CacheTuiError as exc:
            self.startup_error = str(exc)
            self.exit(return_code=2)
            return
        finally:
            unsubscribe()
        # the first paint comes once on_mount returns: seed (with its progress) after it;
        # the keys typed meanwhile wait for their turn
        self._open_lab(at_start)

    @in_order
    async def _open_lab(self, at_start: list[Event]) -> None:
        """Seed an empty database, then start the dashboard's live parts."""
        try:
            if not await self.seed_database():
                return  # stopped by q or a signal: the app is quitting
            self.total_rows = await self.engine.db_count()
            if self.talk:
                await self.open_talk()
        except CacheTuiError as exc:
            self.startup_error = str(exc)
            self.exit(return_code=2)
            return
        self.notify_start(at_start)
        self.workload = Workload(
            self.engine,
            keys=max(1, self.total_rows),
            # a float: Workload hands it to random.Random, which takes one (typed int there)
            seed=self.rng.random(),  # type: ignore[arg-type]
        )
        self.engine.subscribe(self._on_event)
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for pane in self.query(KeyTable):  # room for the largest id, followed (▸)
            pane.reserve("user", len(f"{FOLLOW_MARK}{self.total_rows}"))
        self.query_one("#cache", CachePane).focus()
        await self.refresh_view()
        if self.engine.recovered or self.engine.recovered_landed:
            count, landed = self.engine.recovered, self.engine.recovered_landed
            self.notify(
                f"recovered {count} write{'s' if count != 1 else ''} from the outbox "
                "(acknowledged before the last run ended)"
                + (": flushing them" if count else "")
                + (f"; {landed} had landed already: dropped, not written twice" if landed else ""),
                title="Durable queue",
                timeout=8,
            )
        if self.live:
            self.set_interval(REFRESH_SECONDS, self._tick)
            self.set_interval(1.0, self._sample)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is shown literally (it may carry a database's error, a
        path, a profile's field): never markup, whatever ``markup`` says (a widget's
        notify passes True), and no control character reaches the terminal."""
        # no more than the Events pane holds: the oldest go first
        room = TOASTS_SHOWN[next(iter(self.screen.classes & set(TOASTS_SHOWN)), "-short")]
        shown = list(self._notifications)
        for notification in shown[: max(0, len(shown) - room + 1)]:
            self._unnotify(notification, refresh=False)
        super().notify(
            printable(message),
            title=printable(title, newlines=False),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def on_unmount(self) -> None:
        """Leaving without the quit action (tests, an error): still release the engine."""
        self.remove_signal_handlers()
        if self.workload is not None:
            await self.workload.stop()
        if self.engine.running:
            try:
                await self.engine.close(timeout=1)
            except CacheTuiError:
                await self.engine.close(timeout=0, discard=True)

    async def on_event(self, event: events.Event) -> None:
        """A key typed in one burst after ``g`` was sent to the screen below before the
        go-to dialog opened: it comes back up here, and goes to the dialog."""
        if (
            isinstance(event, events.Key)
            and event.is_forwarded
            and isinstance(self.screen, GotoScreen)
            and self.screen.type_ahead(event)
        ):
            event.stop()
            return
        await super().on_event(event)

    # -- the command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's own commands (but its Quit: ours flushes first), then every key's
        action by name, with its key and what it does in words; the scenario's steps only
        while one runs."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            action = binding.action
            if self.check_action(action.split("(")[0], ()) is False:
                continue  # next step, step back, leave: only inside a scenario
            yield SystemCommand(
                f"{binding.description} ({self.get_key_display(first_key(binding))})",
                binding.tooltip,
                lambda action=action: self.run_action(action),
            )
        yield SystemCommand(
            "Retry every dead letter (d, then R)",
            "put every parked write back in the write queue",
            lambda: self.action_dead_letters(then="retry_all"),
        )
