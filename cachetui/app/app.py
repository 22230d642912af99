"""The cachetui dashboard: three live panes over one engine, driven from the keyboard."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen

from cachetui.app.commands import key_commands
from cachetui.app.dashboard_session import DashboardSession
from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.export import MetricsHistory, MetricsSample
from cachetui.app.faults_workload import FaultsAndWorkload
from cachetui.app.key_order import KeyOrder, in_order
from cachetui.app.keys.bindings import DASHBOARD_BINDINGS, DASHBOARD_KEY_HELP, FOOTER_DROP_ORDER
from cachetui.app.link_keys import LinkKeys
from cachetui.app.operations import Operations
from cachetui.app.presenting import Presenting
from cachetui.app.queue_choice import QueueChoice
from cachetui.app.refresh import Refresher
from cachetui.app.scenario_mode import ScenarioMode
from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.help import HelpScreen
from cachetui.app.states import Palette, palette_for
from cachetui.app.status_header import StatusHeader
from cachetui.app.talk_mode import TalkMode
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip
from cachetui.app.widgets.panes import FOLLOW_MARK, CachePane, DatabasePane, FleetPane, QueuePane
from cachetui.app.widgets.status import StatusBar
from cachetui.engine import Engine, Event, WritePolicy
from cachetui.engine.lab.workload import Workload
from cachetui.literal import printable
from cachetui.scenarios import Scenario, ScenarioRun

DEFAULT_EXPORT_DIR = "~/cachetui-exports"
#: Notifications shown at once, by the screen's height class (the Events pane's room).
TOASTS_SHOWN = {"-tall": 3, "-mid": 2, "-short": 1}
#: The title of a knob's notice (one at a time: see :meth:`CacheTuiApp.notify_setting`).
SETTING_TITLE = "Setting"


class CacheTuiApp(App[None]):
    """``engine`` is started (and seeded with ``seed_profiles``) on mount, closed on quit.

    This class composes the screen, binds the keys (:mod:`~cachetui.app.keys.table`) and
    hands each key to the collaborator that owns what it changes: :attr:`session` (the
    engine from start to quit, the workload, the terminal), the knobs
    (:attr:`faults_workload`, :attr:`queue_choice`, :attr:`link_keys`,
    :attr:`dead_letter_keys`), :attr:`talk_mode`, :attr:`presenting`,
    :attr:`status_header`, :attr:`operations`, :attr:`scenario_mode` and :attr:`refresher`
    (the panes repainted, the metrics sampled), each in the module of its name; they
    reach the app through :class:`~cachetui.app.dashboard.Dashboard`.

    ``live=False`` stops the refresh timers (tests call :meth:`refresh_view` and
    ``refresher.sample()``);
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
        if theme is not None:
            self.theme = theme  # an unknown name raises InvalidThemeError
        self.metrics_history = MetricsHistory()
        self.engine = engine
        self.key_order = KeyOrder()
        self.live = live
        self.timings = timings
        self.rng = random.Random(seed)
        self.followed: int | None = None
        self.total_rows = 0
        # the collaborators
        self.refresher = Refresher(self, self)
        self.session = DashboardSession(self, engine, seed_profiles=seed_profiles)
        self.faults_workload = FaultsAndWorkload(self)
        self.queue_choice = QueueChoice(self)
        self.link_keys = LinkKeys(self)
        self.dead_letter_keys = DeadLetterKeys(self)
        self.talk_mode = TalkMode(self, self.dead_letter_keys, on=talk)
        self.presenting = Presenting(self, export_dir)
        self.status_header = StatusHeader(self, self.dead_letter_keys)
        self.operations = Operations(self)
        self.scenario_mode = ScenarioMode(
            self,
            rejects=self.dead_letter_keys,
            operations=self.operations,
            banner=lambda: self.query_one(ScenarioBanner),
            initial=scenario,  # started on mount
        )

    @property
    def workload(self) -> Workload | None:
        """The background workload (the session's; None until the lab is open)."""
        return self.session.workload

    @property
    def scenario_run(self) -> ScenarioRun | None:
        """The scenario running, if any (the scenario mode's)."""
        return self.scenario_mode.run

    #: z: the event log and the secondary metrics hidden, the three panes enlarged.
    focus_panes = var(False, toggle_class="-focus-panes")

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield ScenarioBanner(id="scenario-banner")
        with Horizontal(id="panes"):
            yield CachePane(ttl=self.engine.config.ttl is not None, id="cache")
            yield QueuePane.for_queue(self.refresher.fleet.in_fleet, id="queue")
            yield DatabasePane(id="database")
        yield FleetPane(id="fleet")
        yield MetricsStrip(id="metrics")
        with Horizontal(id="activity"):
            yield TracePane(id="trace")
            yield EventLog(id="log", max_lines=500, wrap=True, markup=False)
        yield DashboardFooter(FOOTER_DROP_ORDER)

    async def on_mount(self) -> None:
        self.query_one("#trace", TracePane).border_title = "Last operation"
        self.query_one("#log", EventLog).border_title = "Events"
        self.query_one("#metrics", MetricsStrip).border_title = "Metrics"
        self.session.attach_terminal()  # SIGTERM, SIGHUP, SIGINT: the path of q
        at_start = await self.session.start()
        if at_start is None:
            return  # the engine could not start: the app exits
        # the first paint comes once on_mount returns: seed (with its progress) after it;
        # the keys typed meanwhile wait for their turn
        self._open_lab(at_start)
        scenario = self.scenario_mode.first()  # --scenario: after the lab opens
        if scenario is not None:
            self.start_scenario(scenario)

    @in_order
    async def _open_lab(self, at_start: list[Event]) -> None:
        """Seed an empty database, then start the dashboard's live parts."""
        rows = await self.session.open_lab(self.talk_mode, self.rng)
        if rows is None:
            return  # stopped by q or a signal, or failed: the app is quitting
        self.total_rows = rows
        self.dead_letter_keys.notify_start(at_start)
        self.refresher.subscribe()  # the engine's events, the theme's changes
        for pane in self.query(KeyTable):  # room for the largest id, followed (▸)
            pane.reserve("user", len(f"{FOLLOW_MARK}{self.total_rows}"))
        self.query_one("#cache", CachePane).focus()
        await self.refresh_view()
        self.session.notify_recovered()
        self.refresher.start_timers()  # when live

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

    def notify_setting(self, message: str) -> None:
        """A knob's new value: replaces the previous knob notice instead of stacking
        (pressing + twelve times shows one toast, not twelve)."""
        for notification in list(self._notifications):
            if notification.title == SETTING_TITLE:
                self._unnotify(notification, refresh=False)
        self.notify(message, title=SETTING_TITLE, timeout=3)

    def show_status(self) -> None:
        """Draw the header again (a knob, a repaint or a sample changed what it says)."""
        self.query_one("#status", StatusBar).show(self.status_header.lines())

    @property
    def state_palette(self) -> Palette:
        """The colours of states and events for the current theme (dark or light)."""
        return palette_for(self.current_theme.dark)

    # -- the refresher's: see Refresher -------------------------------------------------------
    async def refresh_view(self) -> None:
        await self.refresher.refresh_view()

    def follow(self, user: int | None) -> None:
        self.refresher.follow(user)

    def on_key_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        self.refresher.follow(event.user)

    @in_order
    def action_reset_metrics(self) -> None:
        self.refresher.reset_metrics()

    def restart_rates(self) -> None:
        self.refresher.restart_rates()

    def show_trace(self, op: int, title: str) -> None:
        self.refresher.show_trace(op, title)

    def workload_started(self) -> None:
        self.refresher.workload_started()

    def sample_now(self) -> MetricsSample:
        return self.refresher.sample_now()

    def narrate(self, text: str) -> None:
        self.refresher.narrate(text)  # what a key did (the engine has no event for it)

    async def on_unmount(self) -> None:
        """Leaving without the quit action (tests, an error): still release the engine,
        then stop the scenario's background work."""
        await self.session.release()
        await self.scenario_mode.abandon()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Talk mode's X exists only in talk mode; with a link, l and o act on it; the
        step keys only while a scenario runs."""
        for part in (self.talk_mode, self.link_keys, self.scenario_mode):
            allowed = part.allows(action)
            if allowed is not None:
                return allowed
        return super().check_action(action, parameters)

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
        """Textual's own commands (but its Quit: ours flushes first), then the keys'."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        yield from key_commands(self)

    # -- the operations' keys ------------------------------------------------------------------
    @in_order
    async def action_policy(self, name: str) -> None:
        await self.operations.switch_policy(WritePolicy.parse(name))

    @in_order
    async def action_cycle_policy(self) -> None:
        await self.operations.cycle_policy()

    @in_order
    async def action_read(self, user: int | None = None) -> None:
        await self.operations.read(user)

    @in_order
    async def action_update(self, user: int | None = None) -> None:
        await self.operations.update(user)

    @in_order
    async def action_read_burst(self) -> None:
        await self.operations.burst("read")

    @in_order
    async def action_update_burst(self) -> None:
        await self.operations.burst("update")

    def action_goto(self) -> None:
        self.operations.goto(read=self.action_read)  # the read takes its turn like r

    def action_edit(self) -> None:
        self.operations.edit()

    @in_order
    async def action_external_write(self) -> None:
        await self.operations.external_write()

    @in_order
    async def action_invalidate(self) -> None:
        await self.operations.invalidate()

    @in_order
    async def action_flush(self) -> None:
        await self.operations.flush()

    @in_order
    async def action_crash(self) -> None:
        await self.operations.crash()

    # -- the session's keys: q, ctrl+q, ctrl+c -------------------------------------------------
    # Textual's App.action_quit is a coroutine; this one takes its turn after the keys
    # typed before it (U then q: the burst's writes are flushed too).
    @in_order
    async def action_quit(self) -> None:  # type: ignore[override]
        await self.session.quit()

    def action_help_quit(self) -> None:
        """ctrl+c quits like q (Textual only shows a toast saying how to quit)."""
        self.action_quit()

    # -- the knobs' keys ---------------------------------------------------------------------
    @in_order
    def action_outage(self) -> None:
        self.faults_workload.toggle_outage()

    @in_order
    def action_cache_outage(self) -> None:
        self.faults_workload.toggle_cache_outage()

    @in_order
    def action_latency(self) -> None:
        self.faults_workload.next_latency()

    @in_order
    async def action_workload(self) -> None:
        await self.faults_workload.toggle_workload()

    @in_order
    def action_rate(self, step: int) -> None:
        self.faults_workload.step_rate(step)

    @in_order
    def action_mix(self) -> None:
        self.faults_workload.next_mix()

    @in_order
    def action_skew(self) -> None:
        self.faults_workload.next_skew()

    @in_order
    async def action_cycle_queue(self) -> None:
        await self.queue_choice.cycle()

    @in_order
    async def action_link_rtt(self) -> None:
        await self.link_keys.cycle_rtt()

    @in_order
    async def action_link_fault(self) -> None:
        await self.link_keys.cycle_fault()

    def action_dead_letters(self, then: str = "") -> None:
        self.dead_letter_keys.open(then)

    @in_order
    async def action_toggle_reject(self) -> None:
        await self.dead_letter_keys.toggle_reject()

    # -- presenting: ? v F z E --------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def action_verdicts(self) -> None:
        self.presenting.show_verdicts()

    def action_fleet(self) -> None:
        self.refresher.fleet.toggle()

    def action_toggle_focus(self) -> None:
        self.focus_panes = not self.focus_panes

    def action_export(self) -> None:
        self.presenting.export()

    def on_delivery_failed(self, event: events.DeliveryFailed) -> None:
        self.presenting.delivery_failed(event)

    # -- the scenarios' keys: s n b esc -----------------------------------------------------
    def action_scenarios(self) -> None:
        self.scenario_mode.pick(self.start_scenario)

    def start_scenario(self, scenario: Scenario) -> None:
        """Leave the running scenario, if any, and start ``scenario`` at its introduction
        (after the keys typed before; the steps typed after it wait for it)."""
        self.scenario_mode.chosen()
        self._scenario_move("start", scenario)

    def action_scenario_next(self) -> None:
        self._scenario_move("next")

    def action_scenario_back(self) -> None:
        self._scenario_move("back")

    def action_scenario_leave(self) -> None:
        self._scenario_move("leave")

    @in_order
    async def _scenario_move(self, move: str, scenario: Scenario | None = None) -> None:
        await self.scenario_mode.move(move, scenario)

    # -- talk mode's key: X ------------------------------------------------------------------
    def action_talk_reset(self) -> None:
        """X: ask, then reset the lab (after the keys typed before the answer)."""
        dialog = self.talk_mode.confirmation()
        if dialog is not None:
            self.push_screen(dialog, lambda yes: self._talk_reset() if yes else None)

    @in_order
    async def _talk_reset(self) -> None:
        await self.talk_mode.reset()
