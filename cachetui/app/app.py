"""The cachetui dashboard: three live panes over one engine, driven from the keyboard."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen

from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.export import MetricsHistory
from cachetui.app.faults_workload import FaultsAndWorkload
from cachetui.app.operations import Operations
from cachetui.app.presenting import Presenting
from cachetui.app.queue_choice import QueueChoice
from cachetui.app.quitting import Quitting
from cachetui.app.refresh import REFRESH_SECONDS, RefreshLoop
from cachetui.app.scenario_mode import ScenarioMode
from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.status_header import StatusHeader
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.app.widgets.footer import PALETTE as PALETTE_KEY
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip
from cachetui.app.widgets.panes import FOLLOW_MARK, CachePane, DatabasePane, QueuePane
from cachetui.app.widgets.status import StatusBar
from cachetui.engine import CacheTuiError, Engine, Event, EventKind
from cachetui.engine.lab.workload import Workload
from cachetui.scenarios import Scenario

DEFAULT_EXPORT_DIR = "~/cachetui-exports"
#: Footer keys that leave a narrow footer first (all stay in help and the palette). The
#: way to help (?) and out (q) never leaves.
FOOTER_DROP_ORDER = (
    "goto",
    "edit",
    "workload",
    "external_write",
    PALETTE_KEY,
    "policy('no-cache')",
    "flush",
    "outage",
    "crash",
    "policy('write-around')",
)


class CacheTuiApp(
    ScenarioMode,
    Operations,
    DeadLetterKeys,
    QueueChoice,
    FaultsAndWorkload,
    Presenting,
    Quitting,
    RefreshLoop,
    StatusHeader,
    App[None],
):
    """``engine`` is started (and seeded with ``seed_profiles``) on mount, closed on quit.

    This class composes the screen, binds the keys and starts and releases the engine;
    each part it is made of lives in a module named for it: the scenarios
    (:mod:`~cachetui.app.scenario_mode`), the operations on the data
    (:mod:`~cachetui.app.operations`), dead letters and rejected writes
    (:mod:`~cachetui.app.dead_letter_keys`), the faults and the workload
    (:mod:`~cachetui.app.faults_workload`), help, focus and export
    (:mod:`~cachetui.app.presenting`), the quit path (:mod:`~cachetui.app.quitting`), the
    refresh loop (:mod:`~cachetui.app.refresh`) and the header
    (:mod:`~cachetui.app.status_header`). What they share is listed in
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
    BINDINGS = [
        Binding(
            "1",
            "policy('write-through')",
            "Through",
            id="write-through",
            tooltip="switch to write-through: updates commit to the database, then set the cache",
        ),
        Binding(
            "2",
            "policy('write-behind')",
            "Behind",
            id="write-behind",
            tooltip="switch to write-behind: updates set the cache and queue the database write",
        ),
        Binding(
            "3",
            "policy('write-around')",
            "Around",
            id="write-around",
            tooltip="switch to write-around: updates commit to the database, drop the cache entry",
        ),
        Binding(
            "0",
            "policy('no-cache')",
            "No cache",
            id="no-cache",
            tooltip="switch to no cache: every read and write goes straight to the database",
        ),
        Binding(
            "p",
            "cycle_policy",
            "Next policy",
            show=False,
            id="cycle-policy",
            tooltip="switch to the next policy",
        ),
        Binding(
            "r", "read", "Read", id="read", tooltip="read the followed user, else a random one"
        ),
        Binding(
            "R",
            "read_burst",
            "Read ×100",
            show=False,
            id="read-burst",
            tooltip="read 100 random users at once",
        ),
        Binding(
            "u",
            "update",
            "Update",
            id="update",
            tooltip="update a random field of the followed user, else of a random one",
        ),
        Binding(
            "U",
            "update_burst",
            "Update ×100",
            show=False,
            id="update-burst",
            tooltip="update 100 random users at once",
        ),
        Binding(
            "g",
            "goto",
            "Go to",
            id="goto",
            tooltip="type a user id: read that user and follow it in all three panes",
        ),
        Binding(
            "e", "edit", "Edit", id="edit", tooltip="edit the followed user's fields in a form"
        ),
        Binding(
            "x",
            "external_write",
            "External",
            id="external-write",
            tooltip="write to the database behind the cache's back, as another service would",
        ),
        Binding(
            "i",
            "invalidate",
            "Invalidate",
            show=False,
            id="invalidate",
            tooltip="drop the followed user's cache entry: its next read misses",
        ),
        Binding(
            "f",
            "flush",
            "Flush",
            id="flush",
            tooltip="write the pending write-behind queue to the database now",
        ),
        Binding(
            "c",
            "crash",
            "Crash",
            id="crash",
            tooltip="simulate a process crash: the queue vanishes; shows the writes lost",
        ),
        Binding(
            "o",
            "outage",
            "Outage",
            id="outage",
            tooltip="database outage on/off: every database call fails",
        ),
        Binding(
            "O",
            "cache_outage",
            "Cache outage",
            show=False,
            id="cache-outage",
            tooltip="cache outage on/off: the cache store is unreachable",
        ),
        Binding(
            "d",
            "dead_letters",
            "Dead letters",
            show=False,
            id="dead-letters",
            tooltip="list the writes the database rejected or that conflicted",
        ),
        Binding(
            "D",
            "cycle_queue",
            "Cycle the write-behind queue",
            show=False,
            id="queue",
            tooltip="where write-behind queues: memory, an outbox, a Redis Stream (lands first)",
        ),
        Binding(
            "P",
            "toggle_reject",
            "Reject followed user's writes",
            show=False,
            id="reject-writes",
            tooltip="the database rejects the followed user's writes (again: accepts them)",
        ),
        Binding(
            "l",
            "latency",
            "DB latency",
            show=False,
            id="latency",
            tooltip="cycle the database latency: 0, 10 ms, 100 ms, 1 s",
        ),
        Binding(
            "w",
            "workload",
            "Workload",
            id="workload",
            tooltip="start or stop the background workload",
        ),
        Binding(
            "plus,equals_sign",
            "rate(1)",
            "Rate +",
            show=False,
            id="rate-up",
            tooltip="raise the background workload's rate",
        ),
        Binding(
            "minus",
            "rate(-1)",
            "Rate −",
            show=False,
            id="rate-down",
            tooltip="lower the background workload's rate",
        ),
        Binding(
            "m",
            "mix",
            "Read/write mix",
            show=False,
            id="mix",
            tooltip="cycle the workload's read/write mix",
        ),
        Binding(
            "k", "skew", "Key skew", show=False, id="skew", tooltip="cycle the workload's key skew"
        ),
        Binding(
            "z",
            "toggle_focus",
            "Focus panes",
            show=False,
            id="focus-panes",
            tooltip="hide the event log and secondary metrics to enlarge the panes",
        ),
        Binding(
            "M",
            "reset_metrics",
            "Reset metrics",
            show=False,
            id="reset-metrics",
            tooltip="totals, latencies and the 5 s window start again",
        ),
        Binding(
            "E",
            "export",
            "Export screen + metrics",
            show=False,
            id="export",
            tooltip="save the screen (SVG) and the metrics history (CSV, JSON) into a folder",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            id="help",
            tooltip="what each policy, state and key means",
        ),
        Binding(
            "s",
            "scenarios",
            "Scenarios",
            show=False,
            id="scenarios",
            tooltip="pick a guided scenario to play step by step",
        ),
        # The scenario banner shows these three while a scenario runs (else disabled).
        Binding(
            "space,n",
            "scenario_next",
            "Next step",
            show=False,
            id="scenario-next",
            tooltip="run the scenario's next step",
        ),
        Binding(
            "b",
            "scenario_back",
            "Step back",
            show=False,
            id="scenario-back",
            tooltip="go back one step (the state before it is restored)",
        ),
        Binding(
            "escape",
            "scenario_leave",
            "Leave scenario",
            show=False,
            id="scenario-leave",
            tooltip="leave the scenario: policy, faults, cache and rows as before it",
        ),
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="flush pending writes to the database, then quit",
        ),
    ]
    #: (key, description) for the help screen and the README, in a sensible order.
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [
        ("1 2 3 0", "policy: write-through, write-behind, write-around, no cache"),
        ("p", "cycle through the policies"),
        ("r / R", "read the followed user, else a Zipf-skewed random one / a burst of 100 reads"),
        ("u / U", "update a random field of the followed (else a random) user / a burst of 100"),
        ("g", "go to a user by id: read it and follow it in all three panes"),
        ("enter", "follow the user under the cursor in all three panes"),
        ("e", "edit a user in a form (errors shown inline, nothing written on error)"),
        ("x", "external DB write that bypasses the cache (the followed or a cached user)"),
        ("i", "invalidate: drop the followed user's cache entry (its next read misses)"),
        ("f", "flush the write-behind queue now"),
        ("c", "crash: the queue (and an in-process cache) vanish; shows the writes lost"),
        (
            "D",
            "cycle write-behind's queue: memory (lost on a crash) → an outbox file → a Redis "
            "Stream when --queue or --cache named a server (durable: a crash loses nothing)",
        ),
        ("o", "DB outage on/off (every DB call fails)"),
        ("O", "cache outage on/off (the cache store is unreachable: reads go to the DB)"),
        (
            "d",
            "dead letters: writes the DB rejected or that conflicted, parked; inside: r retry, "
            "R retry all, delete discard (asks first), enter follow",
        ),
        (
            "P",
            "the DB rejects the followed user's writes (a real trigger; P again: accepts): a "
            "poison row",
        ),
        ("l", "cycle DB latency: 0, 10 ms, 100 ms, 1 s"),
        ("w", "start/stop a background workload"),
        ("+ / -", "workload rate up / down"),
        ("m", "workload read/write mix: 80/20, 50/50, 95/5, 20/80"),
        ("k", "workload key skew (Zipf s): 1.1, uniform, 0.8, 1.5"),
        ("tab", "move between panes"),
        ("z", "focus: hide the event log and secondary metrics to enlarge the panes (z: back)"),
        (
            "M",
            "reset the metrics: totals, latencies and the 5 s window start again (lost "
            "writes, dead letters and conflicts are kept)",
        ),
        ("E", "export the screen (SVG) and the metrics history (CSV, JSON) into a folder"),
        ("ctrl+p", "command palette: every action by name"),
        ("?", "this help"),
        ("s", "guided scenarios: pick one to play step by step (or `cachetui --scenario NAME`)"),
        ("n b esc", "in a scenario: next step (also space) / step back (state restored) / leave"),
        ("q", "quit (flushes pending writes first)"),
    ]

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
    ) -> None:
        super().__init__()
        if theme is not None:
            self.theme = theme  # an unknown name raises InvalidThemeError
        self.export_dir = export_dir
        self.metrics_history = MetricsHistory()
        self.engine = engine
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
            await self.engine.seed(self.seed_profiles)
            self.total_rows = await self.engine.db_count()
        except CacheTuiError as exc:
            self.startup_error = str(exc)
            self.exit(return_code=2)
            return
        finally:
            unsubscribe()
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
        if self.engine.recovered:
            count = self.engine.recovered
            self.notify(
                f"recovered {count} write{'s' if count != 1 else ''} from the outbox "
                "(acknowledged before the last run ended): flushing them",
                title="Durable queue",
                timeout=8,
            )
        if self.live:
            self.set_interval(REFRESH_SECONDS, self._tick)
            self.set_interval(1.0, self._sample)

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


def first_key(binding: Binding) -> Binding:
    """``binding`` with only the first of its keys ("plus,equals_sign": "plus")."""
    return dataclasses.replace(binding, key=binding.key.split(",")[0])
