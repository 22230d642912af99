"""The cachetui dashboard: three live panes over one engine, driven from the keyboard."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import DataTable

from cachetui.app.export import MetricsHistory, MetricsSample, write_export
from cachetui.app.scenario_mode import ScenarioMode
from cachetui.app.screens.dialogs import ConfirmScreen, CrashReportScreen, GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.screens.export import ExportScreen
from cachetui.app.screens.help import HelpScreen
from cachetui.app.states import POLICY_STYLES, SYMBOLS, Palette, legend, palette_for
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.app.widgets.footer import PALETTE as PALETTE_KEY
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip, Rates, rates_between
from cachetui.app.widgets.panes import FOLLOW_MARK, CachePane, DatabasePane, QueuePane
from cachetui.app.widgets.status import StatusBar, part
from cachetui.engine import (
    CacheTuiError,
    Engine,
    Event,
    EventKind,
    KeyState,
    MetricsSnapshot,
    PendingWritesError,
    Profile,
    StoreUnavailable,
    WritePolicy,
    key_state,
)
from cachetui.engine.demo_data import random_changes
from cachetui.engine.engine import last_op_id
from cachetui.engine.workload import Workload
from cachetui.scenarios import Scenario

POLICY_KEYS = {
    "1": WritePolicy.WRITE_THROUGH,
    "2": WritePolicy.WRITE_BEHIND,
    "3": WritePolicy.WRITE_AROUND,
    "0": WritePolicy.NO_CACHE,
}
LATENCIES = (0.0, 0.01, 0.1, 1.0)
READ_RATIOS = (0.8, 0.5, 0.95, 0.2)
SKEWS = (1.1, 0.0, 0.8, 1.5)
BURST = 100
REFRESH_SECONDS = 0.25  # panes repaint at 4 Hz at most
IDLE_REFRESH_SECONDS = 2.0  # with no engine event since the last paint, only ages change
DB_RECENT_ROWS = 30
DB_WINDOW_ROWS = 60
PANE_ROWS = 200
TOUCHED = 20
SETTING_TITLE = "Setting"
LOG_LINES_PER_PAINT = 15  # busier than that, the log says how many it skipped
DEFAULT_EXPORT_DIR = "~/cachetui-exports"
#: Footer keys that leave a narrow footer first (all stay in help and the palette).
FOOTER_DROP_ORDER = (
    "goto",
    "edit",
    "workload",
    "external_write",
    PALETTE_KEY,
    "policy('no-cache')",
    "help",
    "flush",
)


class CacheTuiApp(ScenarioMode, App[None]):
    """``engine`` is started (and seeded with ``seed_profiles``) on mount, closed on quit.

    ``live=False`` stops the refresh timers (tests call :meth:`refresh_view`);
    ``timings=False`` hides durations and ages, for deterministic snapshots.
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "cachetui"
    ENABLE_COMMAND_PALETTE = True
    # The screen's width and height classes; app.tcss lays the dashboard out by them.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-mid"), (40, "-tall")]
    BINDINGS = [
        Binding("1", "policy('write-through')", "Through", id="write-through"),
        Binding("2", "policy('write-behind')", "Behind", id="write-behind"),
        Binding("3", "policy('write-around')", "Around", id="write-around"),
        Binding("0", "policy('no-cache')", "No cache", id="no-cache"),
        Binding("p", "cycle_policy", "Next policy", show=False, id="cycle-policy"),
        Binding("r", "read", "Read", id="read"),
        Binding("R", "read_burst", "Read ×100", show=False, id="read-burst"),
        Binding("u", "update", "Update", id="update"),
        Binding("U", "update_burst", "Update ×100", show=False, id="update-burst"),
        Binding("g", "goto", "Go to", id="goto"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("x", "external_write", "External", id="external-write"),
        Binding("f", "flush", "Flush", id="flush"),
        Binding("c", "crash", "Crash", id="crash"),
        Binding("o", "outage", "Outage", id="outage"),
        Binding("O", "cache_outage", "Cache outage", show=False, id="cache-outage"),
        Binding("l", "latency", "DB latency", show=False, id="latency"),
        Binding("w", "workload", "Workload", id="workload"),
        Binding("plus,equals_sign", "rate(1)", "Rate +", show=False, id="rate-up"),
        Binding("minus", "rate(-1)", "Rate −", show=False, id="rate-down"),
        Binding("m", "mix", "Read/write mix", show=False, id="mix"),
        Binding("k", "skew", "Key skew", show=False, id="skew"),
        Binding("z", "toggle_focus", "Focus panes", show=False, id="focus-panes"),
        Binding("E", "export", "Export screen + metrics", show=False, id="export"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("s", "scenarios", "Scenarios", show=False, id="scenarios"),
        # The scenario banner shows these three while a scenario runs (else disabled).
        Binding("space,n", "scenario_next", "Next step", show=False, id="scenario-next"),
        Binding("b", "scenario_back", "Step back", show=False, id="scenario-back"),
        Binding("escape", "scenario_leave", "Leave scenario", show=False, id="scenario-leave"),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    #: (key, description) for the help screen and the README, in a sensible order.
    KEY_HELP: list[tuple[str, str]] = [
        ("1 2 3 0", "policy: write-through, write-behind, write-around, no cache"),
        ("p", "cycle through the policies"),
        ("r / R", "read the followed user, else a Zipf-skewed random one / a burst of 100 reads"),
        ("u / U", "update a random field of the followed (else a random) user / a burst of 100"),
        ("g", "go to a user by id: read it and follow it in all three panes"),
        ("enter", "follow the user under the cursor in all three panes"),
        ("e", "edit a user in a form (errors shown inline, nothing written on error)"),
        ("x", "external DB write that bypasses the cache (the followed or a cached user)"),
        ("f", "flush the write-behind queue now"),
        ("c", "crash: the queue (and an in-process cache) vanish; shows the writes lost"),
        ("o", "DB outage on/off (every DB call fails)"),
        ("O", "cache outage on/off (the cache store is unreachable: reads go to the DB)"),
        ("l", "cycle DB latency: 0, 10 ms, 100 ms, 1 s"),
        ("w", "start/stop a background workload"),
        ("+ / -", "workload rate up / down"),
        ("m", "workload read/write mix: 80/20, 50/50, 95/5, 20/80"),
        ("k", "workload key skew (Zipf s): 1.1, uniform, 0.8, 1.5"),
        ("tab", "move between panes"),
        ("z", "focus: hide the event log and secondary metrics to enlarge the panes (z: back)"),
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
        self._events: deque[Event] = deque(maxlen=LOG_LINES_PER_PAINT)
        self._skipped = 0
        self._touched: OrderedDict[int, None] = OrderedDict()
        self._trace_op = 0
        self._trace_title = ""
        self._refreshing = False
        self._changed = True  # an engine event arrived since the last paint
        self._painted_at = 0.0
        self._quitting = False
        self._rates = Rates()
        self._last_sample: tuple[float, MetricsSnapshot] | None = None
        self._latency_index = 0
        self._scroll_to_followed: set[str] = set()  # panes to scroll to the followed row
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
        try:
            await self.engine.start()
            await self.engine.seed(self.seed_profiles)
            self.total_rows = await self.engine.db_count()
        except CacheTuiError as exc:
            self.startup_error = str(exc)
            self.exit(return_code=2)
            return
        self.workload = Workload(self.engine, keys=max(1, self.total_rows), seed=self.rng.random())
        self.engine.subscribe(self._on_event)
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for pane in self.query(KeyTable):  # room for the largest id, followed (▸)
            pane.reserve("user", len(f"{FOLLOW_MARK}{self.total_rows}"))
        self.query_one("#cache", CachePane).focus()
        await self.refresh_view()
        if self.live:
            self.set_interval(REFRESH_SECONDS, self._tick)
            self.set_interval(1.0, self._sample)

    async def on_unmount(self) -> None:
        """Leaving without the quit action (tests, an error): still release the engine."""
        if self.workload is not None:
            await self.workload.stop()
        if self.engine.running:
            try:
                await self.engine.close(timeout=1)
            except CacheTuiError:
                await self.engine.close(timeout=0, discard=True)

    # -- refreshing ----------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        """Called by the engine for every event: must stay cheap."""
        self._changed = True
        if len(self._events) == self._events.maxlen:
            self._skipped += 1
        self._events.append(event)
        user = event.user_id
        if user is not None and event.kind in (EventKind.ACK, EventKind.EXTERNAL):
            self._touched[user] = None
            self._touched.move_to_end(user)
            if len(self._touched) > TOUCHED:
                self._touched.popitem(last=False)

    async def _tick(self) -> None:
        if self.screen is not self.screen_stack[0]:
            return  # a dialog is open: keep still
        if not self._changed and time.monotonic() - self._painted_at < IDLE_REFRESH_SECONDS:
            return  # nothing happened: do not repaint
        await self.refresh_view()

    def _sample(self) -> None:
        """Once a second: the sparklines' next point and the metrics history (exported by E)."""
        now = time.monotonic()
        m = self.engine.metrics
        sample = self._sample_since_last(now, m)
        strip = self.query_one("#metrics", MetricsStrip)
        if self._last_sample is not None:
            self._rates = sample.rates
            strip.sample(m, sample.rates, sample.window_hit_ratio)
            # the numbers too, now: the panes repaint only on activity, and a quiet second
            # must show its zero rates as the sparklines do
            strip.show(m, self._rates, timings=self.timings, palette=self.state_palette)
        self._last_sample = (now, m)
        self.metrics_history.add(sample)
        if self.workload is not None and self.workload.running:
            ops = self._workload_done()
            if self._workload_mark is not None:
                then, before = self._workload_mark
                self._workload_rate = (ops - before) / (now - then) if now > then else None
                self._show_status()
            self._workload_mark = (now, ops)

    def _workload_done(self) -> int:
        """The operations the background workload has finished (or failed) so far."""
        assert self.workload is not None
        stats = self.workload.stats
        return stats.reads + stats.updates + stats.errors

    def _sample_since_last(self, now: float, m: MetricsSnapshot) -> MetricsSample:
        """``m`` with the rates and the hit ratio since the last sample (none: zero).
        Metrics reset meanwhile (a scenario returns to its baseline): counted from zero."""
        rates, window_hit_ratio = Rates(), 0.0
        if self._last_sample is not None:
            then, before = self._last_sample
            if _restarted(before, m):
                before = dataclasses.replace(
                    before, reads=0, hits=0, misses=0, updates=0, db_writes=0, db_transactions=0
                )
            rates = rates_between(before, m, now - then)
            reads = m.hits + m.misses - (before.hits + before.misses)
            hits = m.hits - before.hits
            window_hit_ratio = hits / reads if reads else 0
        return MetricsSample(time.time(), self.engine.policy.value, m, rates, window_hit_ratio)

    async def refresh_view(self) -> None:
        """Read the engine's state and repaint every pane (diffing rows by key)."""
        if self._refreshing or not self.engine.running:
            return
        self._refreshing = True
        self._changed = False
        self._painted_at = time.monotonic()
        try:
            await self._repaint()
        except CacheTuiError as exc:  # e.g. the SQLite file vanished
            self.notify(f"cannot refresh the panes: {exc}", severity="error")
        finally:
            self._refreshing = False

    async def _repaint(self) -> None:
        engine = self.engine
        try:
            entries = await engine.cache_entries()
        except StoreUnavailable:
            entries = []
        size = len(entries)
        if len(entries) > PANE_ROWS:
            entries = sorted(entries, key=lambda e: e.age)[:PANE_ROWS]
        pending = engine.pending_writes()
        cached = {e.profile.user_id: e.profile for e in entries}
        queued = {w.user_id: w.profile for w in pending}
        wanted = set(cached) | set(queued) | set(self._touched)
        if self.followed is not None:
            wanted.add(self.followed)
        recent = await engine.db_recent(DB_RECENT_ROWS)
        db = {p.user_id: p for p in recent}
        db.update(await engine.db_rows(wanted - set(db)))
        window = self._db_window(db, recent)
        states: dict[int, KeyState] = {
            user: key_state(cached.get(user), queued.get(user), db.get(user))
            for user in set(db) | set(cached) | set(queued)
        }
        followed = self.followed
        cache_pane = self.query_one("#cache", CachePane)
        queue_pane = self.query_one("#queue", QueuePane)
        db_pane = self.query_one("#database", DatabasePane)
        palette = self.state_palette
        cache_pane.show(entries, states, followed, timings=self.timings, palette=palette)
        queue_pane.show(pending[:PANE_ROWS], db, followed, timings=self.timings, palette=palette)
        db_pane.show(window, states, followed, palette=palette)
        if followed is not None:  # just followed: scroll each pane to its row once it has one
            for pane in (cache_pane, queue_pane, db_pane):
                if f"#{pane.id}" in self._scroll_to_followed and pane.move_to_user(followed):
                    self._scroll_to_followed.discard(f"#{pane.id}")
        # titles as variants, longest first: each pane shows the longest that fits
        if engine.cache_available:
            cache_pane.set_titles(
                (f"Cache {size:,}/{engine.config.capacity:,}", f"Cache {size:,}"),
                (self._state_counts(states, cached), self._state_counts(states, cached, True)),
            )
        else:
            cache_pane.set_titles(
                ("Cache ✖ unavailable", "Cache ✖"), ("reads go to the database", "reads → DB")
            )
        if self._flush_by_step():
            flush = ("flushed when a step says so", "flush: by step")
        else:
            every = f"{engine.config.flush_interval:g}s"
            flush = (f"flush every {every}", f"flush {every}")
        queue_pane.set_titles(
            (f"Write queue {len(pending):,}", f"Queue {len(pending):,}"),
            ("empty: only write-behind queues", "write-behind only")
            if engine.policy is not WritePolicy.WRITE_BEHIND and not pending
            else flush,
        )
        self.total_rows = max(self.total_rows, len(db))
        db_pane.set_titles(
            (f"Database {self.total_rows:,} rows", f"DB {self.total_rows:,} rows"),
            (f"showing {len(window)}: recent + on screen", f"{len(window)} shown"),
        )
        self.query_one("#metrics", MetricsStrip).show(
            engine.metrics, self._rates, timings=self.timings, palette=palette
        )
        self._show_activity()
        self._show_status()

    def _flush_by_step(self) -> bool:
        """A scenario pauses the flush timer: its steps flush when they say so."""
        run = self.scenario_run
        return run is not None and run.active

    def _db_window(self, db: dict[int, Profile], recent: list[Profile]) -> list[Profile]:
        """The followed user, then the users just touched (newest first), then the most
        recently updated rows: bounded, so 100,000 rows never reach the table."""
        chosen: dict[int, Profile] = {}
        if self.followed is not None and self.followed in db:
            chosen[self.followed] = db[self.followed]
        for user in reversed(self._touched):
            if user in db:
                chosen.setdefault(user, db[user])
        for profile in recent:
            chosen.setdefault(profile.user_id, profile)
        return list(chosen.values())[:DB_WINDOW_ROWS]

    @staticmethod
    def _state_counts(
        states: dict[int, KeyState], cached: dict[int, Profile], short: bool = False
    ) -> str:
        counts = {state: 0 for state in KeyState}
        for user in cached:
            counts[states[user]] += 1
        shown = [s for s in KeyState if counts[s] and s != KeyState.UNCACHED]
        if short:
            return " ".join(f"{counts[s]}{SYMBOLS[s]}" for s in shown)
        return " · ".join(f"{counts[s]} {s.value}" for s in shown)

    def _show_activity(self) -> None:
        events = list(self._events)
        skipped = self._skipped
        self._events.clear()
        self._skipped = 0
        palette = self.state_palette
        self.query_one("#log", EventLog).add(events, skipped, self.timings, palette)
        trace = self.engine.trace(self._trace_op) if self._trace_op else []
        title = self._trace_title if self._trace_op else ""
        self.query_one("#trace", TracePane).show(title, trace, self.timings, palette)

    def _show_status(self) -> None:
        """Two header lines that never wrap: on a narrow screen the db path, the cache
        and the flush settings shorten, then go; the policy and faults always stay."""
        engine = self.engine
        config = engine.config
        policy = engine.policy.value

        def labelled(label: str, value: str) -> Text:
            return Text.assemble((f"  {label} ", "dim"), value)

        ttl = f", ttl {config.ttl:g}s" if config.ttl else ", no ttl"
        bound = engine.max_pending  # a scenario may lower it for a demo
        interval = "by step" if self._flush_by_step() else f"{config.flush_interval:g}s"
        line1 = [
            part(f" {policy.upper()} ", style=POLICY_STYLES[policy]),
            part(
                labelled("cache", f"{engine.store.description}{ttl}"),
                labelled("cache", engine.store.description.split(" (")[0]),
                "",
                drop=2,
            ),
            part(
                labelled("db", config.db_path),
                labelled("db", Path(config.db_path).name),
                "",
                drop=3,
            ),
            part(
                labelled("flush", f"{interval} · batch {config.batch_size} · max {bound:,}"),
                labelled("flush", interval),
                "",
                drop=1,
            ),
        ]

        def alarm(message: str) -> Text:
            return Text.assemble("  ", (f" ⚠ {message} ", "bold white on red"))

        faults = engine.faults.describe()
        if faults:
            line1.append(part(alarm(faults)))
        if not engine.cache_available and not engine.faults.cache_down:
            line1.append(part(alarm(engine.cache_error), alarm("cache unreachable")))
        line2 = [part(legend(self.state_palette))]
        if self.workload is not None and self.workload.running:
            w = self.workload
            done = "–" if self._workload_rate is None else f"{self._workload_rate:,.0f}"
            rate = f"   ▶ workload {done}/s of {w.rate:,} target"
            line2.append(
                part(
                    f"{rate} · {w.read_ratio:.0%} reads · {skew_name(w.skew)}",
                    rate,
                    f"   ▶ workload {done}/s of {w.rate:,}",
                    "   ▶ workload",
                    drop=1,
                    style="bold",
                )
            )
        self.query_one("#status", StatusBar).show([line1, line2])

    @property
    def state_palette(self) -> Palette:
        """The colours of states and events for the current theme (dark or light)."""
        return palette_for(self.current_theme.dark)

    def _on_theme_changed(self, theme: Theme) -> None:
        """Rich styles do not follow the theme: repaint what carries them."""
        self.query_one("#log", EventLog).repaint(self.timings, self.state_palette)
        self._changed = True
        self._show_status()
        self.call_later(self.refresh_view)

    # -- following a user across panes ---------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.follow(int(event.row_key.value))

    def follow(self, user: int | None) -> None:
        """Follow ``user`` in all three panes: each scrolls to its row now, or as soon as
        it has one, after the repaint that may move it (the Database pane puts the followed
        row first)."""
        self.followed = user
        panes = ("#cache", "#queue", "#database")
        self._scroll_to_followed = set(panes) if user is not None else set()
        if user is not None:
            for pane_id in panes:
                self.query_one(pane_id, KeyTable).move_to_user(user)
        self.call_later(self.refresh_view)

    # -- actions: policies ---------------------------------------------------------------------
    @work(group="policy", exclusive=True)
    async def action_policy(self, name: str) -> None:
        policy = WritePolicy.parse(name)
        if policy is self.engine.policy:
            self.notify(f"already {policy}")
            return
        pending = len(self.engine.pending_writes())
        if pending:
            self.notify(f"Flushing {pending} pending writes before leaving write-behind…")
        try:
            await self.engine.set_policy(policy)
        except CacheTuiError as exc:
            self.notify(
                f"still {self.engine.policy}: {exc}", title="Cannot switch policy", severity="error"
            )
            return
        self.notify(f"policy: {policy}", timeout=2)
        await self.refresh_view()

    def action_cycle_policy(self) -> None:
        order = list(POLICY_KEYS.values())
        current = order.index(self.engine.policy)
        self.action_policy(order[(current + 1) % len(order)].value)

    # -- actions: operations ---------------------------------------------------------------------
    def _random_user(self) -> int:
        assert self.workload is not None
        return self.workload.keys.next()

    async def _cached(self) -> dict[int, Profile]:
        """What the cache holds now ({} while it is unavailable)."""
        try:
            return {e.profile.user_id: e.profile for e in await self.engine.cache_entries()}
        except StoreUnavailable:
            return {}

    async def _target_user(self) -> int:
        """The followed user if any; else a skewed random one. During a DB outage an
        update needs a cached user (its current profile cannot come from the DB)."""
        if self.followed is not None:
            return self.followed
        if self.engine.faults.db_down:
            cached = list(await self._cached())
            cached += [w.user_id for w in self.engine.pending_writes()]
            if cached:
                return self.rng.choice(sorted(set(cached)))
        return self._random_user()

    @work(group="ops")
    async def action_read(self, user: int | None = None) -> None:
        user = user or await self._target_user()
        try:
            profile = await self.engine.read(user)
        except CacheTuiError as exc:
            self._trace(f"read user {user} failed")
            self.notify(str(exc), title=f"Read of user {user} failed", severity="error")
            return
        trace = self.engine.trace(last_op_id.get())
        how = "hit" if any(e.kind is EventKind.HIT for e in trace) else "miss"
        self._trace(f"read user {user} v{profile.version}: {how}")
        if how == "hit":  # served from the cache: say so when the database has moved on
            try:
                row = (await self.engine.db_rows([user])).get(user)
            except CacheTuiError:
                row = None
            if row is not None and row.version > profile.version:
                self._trace_title = (
                    f"read user {user} v{profile.version}: hit (stale: DB has v{row.version})"
                )
        await self.refresh_view()

    @work(group="ops")
    async def action_update(self, user: int | None = None) -> None:
        user = user or await self._target_user()
        changes = random_changes(self.rng)
        try:
            profile = await self.engine.update(user, changes)
        except CacheTuiError as exc:
            self._trace(f"update user {user} failed")
            self.notify(str(exc), title=f"Update of user {user} failed", severity="error")
            return
        field = next(iter(changes))
        self._trace(f"update user {user} {field} → v{profile.version} ({self.engine.policy})")
        await self.refresh_view()

    @work(group="ops")
    async def action_read_burst(self) -> None:
        await self._burst("read")

    @work(group="ops")
    async def action_update_burst(self) -> None:
        await self._burst("update")

    async def _burst(self, kind: str) -> None:
        users = [self._random_user() for _ in range(BURST)]
        before = self.engine.metrics
        if kind == "read":
            calls = [self.engine.read(u) for u in users]
        else:
            calls = [self.engine.update(u, random_changes(self.rng)) for u in users]
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        after = self.engine.metrics
        if kind == "read":
            hits = after.hits - before.hits
            message = f"{BURST} reads: {hits} hits, {BURST - hits - len(failed)} misses"
        else:
            message = (
                f"{BURST} updates acknowledged: {BURST - len(failed)}; pending now {after.pending}"
            )
        if failed:
            message += f"; {len(failed)} failed: {failed[0]}"
        self._trace_last(f"burst of {BURST} {kind}s: the last one")
        self.notify(message, severity="warning" if failed else "information")
        await self.refresh_view()

    def action_goto(self) -> None:
        def chosen(user: int | None) -> None:
            if user is not None:
                self.follow(user)
                self.action_read(user)

        self.push_screen(GotoScreen(max(1, self.total_rows)), chosen)

    def action_edit(self) -> None:
        def saved(profile: Profile | None) -> None:
            if profile is not None:
                self.follow(profile.user_id)
                self._trace_last(f"edit user {profile.user_id} → v{profile.version}")
                self.notify(
                    f"user {profile.user_id} saved as v{profile.version} ({self.engine.policy})"
                )

        self.push_screen(EditScreen(self.engine, self.followed), saved)

    @work(group="ops")
    async def action_external_write(self) -> None:
        user = self.followed
        if user is None:  # a cached user with nothing pending shows staleness best
            queued = {w.user_id for w in self.engine.pending_writes()}
            clean = sorted(set(await self._cached()) - queued)
            user = self.rng.choice(clean) if clean else self._random_user()
        changes = {"bio": f"Edited by another service at {time.strftime('%H:%M:%S')}"}
        try:
            profile = await self.engine.external_update(user, changes)
        except CacheTuiError as exc:
            self.notify(str(exc), title="External write failed", severity="error")
            return
        self._trace(f"external write of user {user} → DB v{profile.version}")
        cached = await self._cached()
        queued = {w.user_id: w.version for w in self.engine.pending_writes()}
        if user in queued:
            note = (
                f"the pending write-behind write v{queued[user]} will overwrite it "
                "when it is flushed (last writer wins)"
            )
        elif user in cached:
            ttl = self.engine.config.ttl
            until = (
                f"until its TTL ({ttl:g}s) runs out or it is invalidated"
                if ttl
                else "until invalidated (no TTL set)"
            )
            note = f"the cache still holds v{cached[user].version}: stale {until}"
        else:
            note = "not cached, so the next read will see it"
        self.notify(
            f"user {user} is v{profile.version} in the database; {note}", title="External write"
        )
        self.follow(user)

    @work(group="flush", exclusive=True)
    async def action_flush(self) -> None:
        pending = len(self.engine.pending_writes())
        if not pending:
            self.notify("nothing pending to flush")
            return
        before = self.engine.metrics
        try:
            await self.engine.flush(timeout=2)
        except CacheTuiError as exc:
            self.notify(str(exc), title="Flush failed", severity="error")
            return
        after = self.engine.metrics
        self.notify(
            f"flushed {after.db_writes - before.db_writes} writes in "
            f"{after.db_transactions - before.db_transactions} transactions"
        )
        await self.refresh_view()

    @work(group="crash", exclusive=True)
    async def action_crash(self) -> None:
        policy = self.engine.policy.value
        lost = await self.engine.crash()
        self._trace_last("crash")
        db = await self.engine.db_rows(user for user, _ in lost)
        still = await self.engine.cache_peek(user for user, _ in lost)
        await self.refresh_view()
        self.push_screen(
            CrashReportScreen(
                policy,
                lost,
                {u: p.version for u, p in db.items()},
                still_cached={u: p.version for u, p in still.items()},
                cache_survives=not self.engine.store.lost_on_crash,
            )
        )

    # -- actions: faults and workload -------------------------------------------------------------
    def action_outage(self) -> None:
        faults = self.engine.faults
        faults.db_down = not faults.db_down
        if faults.db_down:
            self.notify("every database call now fails", title="DB outage ON", severity="error")
        else:
            self.notify("the database answers again", title="DB outage OFF")
        self._show_status()

    def action_cache_outage(self) -> None:
        faults = self.engine.faults
        faults.cache_down = not faults.cache_down
        if faults.cache_down:
            self.notify(
                "reads go to the database; entries written meanwhile are dropped when it is back",
                title="Cache outage ON",
                severity="error",
            )
        else:
            self.notify("the cache answers again", title="Cache outage OFF")
        self._show_status()

    def action_latency(self) -> None:
        self._latency_index = (self._latency_index + 1) % len(LATENCIES)
        latency = LATENCIES[self._latency_index]
        self.engine.faults.db_latency = latency
        self._notify_setting(f"DB latency {latency * 1000:g} ms per call")
        self._show_status()

    async def action_workload(self) -> None:
        assert self.workload is not None
        if self.workload.running:
            await self.workload.stop()
            stats = self.workload.stats
            self.notify(
                f"workload stopped: {stats.reads:,} reads, {stats.updates:,} updates, "
                f"{stats.errors:,} errors"
            )
        else:
            self.workload.start()
            self._workload_rate = None  # measured from the next sample on
            self._workload_mark = (time.monotonic(), self._workload_done())
            self.notify(
                f"workload: {self.workload.rate:,} ops/s target, "
                f"{self.workload.read_ratio:.0%} reads, {skew_name(self.workload.skew)}"
            )
        self._show_status()

    def action_rate(self, step: int) -> None:
        assert self.workload is not None
        rates = Workload.RATES
        index = min(range(len(rates)), key=lambda i: abs(rates[i] - self.workload.rate))
        index = max(0, min(len(rates) - 1, index + step))
        self.workload.set_rate(rates[index])
        self._notify_setting(
            f"workload rate {rates[index]:,} ops/s"
            + ("" if self.workload.running else " (press w to start)")
        )
        self._show_status()

    def action_mix(self) -> None:
        assert self.workload is not None
        ratio = _next_in(READ_RATIOS, self.workload.read_ratio)
        self.workload.read_ratio = ratio
        self._notify_setting(f"workload mix {ratio:.0%} reads / {1 - ratio:.0%} updates")
        self._show_status()

    def action_skew(self) -> None:
        assert self.workload is not None
        skew = _next_in(SKEWS, self.workload.skew)
        self.workload.set_skew(skew)
        self._notify_setting(f"workload keys {skew_name(skew)}")
        self._show_status()

    def _notify_setting(self, message: str) -> None:
        """A knob's new value: replaces the previous knob notice instead of stacking
        (pressing + twelve times shows one toast, not twelve)."""
        for notification in list(self._notifications):
            if notification.title == SETTING_TITLE:
                self._unnotify(notification, refresh=False)
        self.notify(message, title=SETTING_TITLE, timeout=3)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    # -- actions: presenting -----------------------------------------------------------------------
    def action_toggle_focus(self) -> None:
        self.focus_panes = not self.focus_panes

    def action_export(self) -> None:
        """Keep the screen as it is now, then ask where to save it with the metrics."""
        if isinstance(self.screen, ExportScreen):
            return
        svg = self.export_screenshot()
        samples = list(self.metrics_history)
        if self.engine.running:  # the last row: the metrics at the moment of the export
            samples.append(self._sample_since_last(time.monotonic(), self.engine.metrics))
        when = datetime.now()

        def save(folder: str) -> list[Path]:
            paths = write_export(folder, svg, samples, when=when)
            self.export_dir = folder
            return paths

        def saved(paths: list[Path] | None) -> None:
            if paths:
                self.notify(
                    ", ".join(path.name for path in paths),
                    title=f"Exported to {paths[0].parent}",
                    timeout=8,
                )

        self.push_screen(ExportScreen(self.export_dir, len(samples), save), saved)

    # -- quitting --------------------------------------------------------------------------------
    @work(group="quit", exclusive=True)
    async def action_quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        try:
            if self.workload is not None:
                await self.workload.stop()
            if not self.engine.running:
                self.exit()
                return
            pending = len(self.engine.pending_writes())
            if pending:
                self.notify(
                    f"Flushing {pending} pending writes before quitting…",
                    title="Quitting",
                    timeout=10,
                )
            try:
                await self.engine.close(timeout=3)
            except PendingWritesError as exc:
                discard = await self.push_screen_wait(
                    ConfirmScreen(
                        "The database is not taking writes",
                        f"{exc}.\n\nQuit anyway and lose {exc.pending} "
                        f"{'write' if exc.pending == 1 else 'writes'}?",
                        yes=f"Quit and lose {exc.pending}",
                        no="Stay",
                    )
                )
                if not discard:
                    self.notify(
                        "still running; switch the outage off (o) and quit again",
                        severity="warning",
                    )
                    return
                await self.engine.close(timeout=0, discard=True)
            self.exit()
        finally:
            self._quitting = False

    # -- helpers ---------------------------------------------------------------------------------
    def _trace_last(self, title: str) -> None:
        """Trace the newest finished operation (one not started in this context:
        a dialog's save, the last call of a burst)."""
        for event in reversed(self.engine.recent_events(200)):
            if (
                event.kind
                in (
                    EventKind.ACK,
                    EventKind.HIT,
                    EventKind.CACHE_FILL,
                    EventKind.QUEUE_HIT,
                    EventKind.FLUSH,
                    EventKind.CRASH,
                    EventKind.EXTERNAL,
                    EventKind.ERROR,
                )
                and event.op_id
            ):
                self._trace_op = event.op_id
                self._trace_title = title
                return

    def _trace(self, title: str) -> None:
        self._trace_op = last_op_id.get()
        self._trace_title = title

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action in ("quit",):
                continue
            action = binding.action
            yield SystemCommand(
                f"{binding.description} ({binding.key.split(',')[0]})",
                f"cachetui: {binding.description.lower()}",
                lambda action=action: self.run_action(action),
            )


def skew_name(skew: float) -> str:
    """How the workload picks its keys: ``uniform`` (s = 0) or ``zipf s=1.1``."""
    return "uniform" if skew == 0 else f"zipf s={skew:g}"


def _next_in(choices: tuple[float, ...], current: float) -> float:
    """The choice after ``current`` (cycling), or the first if it is not a choice."""
    if current not in choices:
        return choices[0]
    return choices[(choices.index(current) + 1) % len(choices)]


def _restarted(before: MetricsSnapshot, after: MetricsSnapshot) -> bool:
    """True if the counters went back (the metrics were reset between the two)."""
    return any(
        getattr(after, name) < getattr(before, name)
        for name in ("reads", "hits", "misses", "updates", "db_writes", "db_transactions")
    )
