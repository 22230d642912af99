"""The refresh loop: engine events in, panes repainted at a bounded rate, metrics sampled.

:class:`Refresher` is one of the collaborators of :class:`~cachetui.app.app.CacheTuiApp`,
which subscribes :meth:`Refresher.on_event` to the engine and, when live, runs
:meth:`Refresher.tick` every :data:`REFRESH_SECONDS` and :meth:`Refresher.sample`
every second. A repaint takes one ``engine.pane_snapshot()`` and draws what
:mod:`cachetui.app.pane_contents` makes of it. Following a user across the three panes
lives here too: it decides what the next repaint scrolls to.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict, deque
from typing import Any

from textual.app import App
from textual.css.query import NoMatches
from textual.theme import Theme

from cachetui.app.dashboard import Dashboard
from cachetui.app.export import MetricsSample
from cachetui.app.fleet_panel import FleetPanel
from cachetui.app.pane_contents import Look, dashboard_contents
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip, Rates, rates_between
from cachetui.app.widgets.panes import CachePane, DatabasePane, QueuePane
from cachetui.engine import CacheTuiError, Event, EventKind, MetricsSnapshot

REFRESH_SECONDS = 0.25  # panes repaint at 4 Hz at most
#: While the workload cannot reach its target (the engine or the loop sets the rate), the
#: panes repaint at 2 Hz: what a repaint costs goes back to the work.
BUSY_REFRESH_SECONDS = 0.5
IDLE_REFRESH_SECONDS = 2.0  # with no engine event since the last paint, only ages change
DB_WINDOW_ROWS = 60
PANE_ROWS = 200  # the Cache and Write queue panes list at most this many rows,
PANE_ROWS_MIN = 100  # at least this many (a default cache, 100 entries, whole), else three pages
TOUCHED = 20
LOG_LINES_PER_PAINT = 15  # busier than that, the log says how many it skipped


#: How often the verdict line is judged and shown while live (seconds).
VERDICT_SECONDS = 1.0


class Refresher:
    """Reads the engine's state and repaints the panes, the metrics and the activity of
    ``dashboard``; ``app`` is the same app, for the screens and widgets it draws on."""

    def __init__(self, dashboard: Dashboard, app: App[Any]) -> None:
        self._dashboard = dashboard
        self._app = app
        self._events: deque[Event] = deque(maxlen=LOG_LINES_PER_PAINT)
        self._skipped = 0
        self._touched: OrderedDict[int, None] = OrderedDict()
        self._refreshing = False
        self._again = False  # a repaint was asked for while one ran
        self.changed = True  # an engine event arrived since the last paint
        self.painted_at = 0.0
        self._rates = Rates()
        self._last_sample: tuple[float, MetricsSnapshot] | None = None
        self._scroll_to_followed: set[str] = set()  # panes to scroll to the followed row
        self._judged_at = -VERDICT_SECONDS  # when the verdict line was last judged
        # the operation the trace pane shows (set by show_trace, shown by the repaint)
        self._trace_op = 0
        self._trace_title = ""
        # (when, operations done) at the last sample while the workload runs: from the
        # second sample on, each sample draws the header again (the workload's rate)
        self._workload_mark: tuple[float, int] | None = None
        #: F's pane, the queue pane's owner column, what the Events pane says of the fleet
        self.fleet = FleetPanel(dashboard, app)

    @property
    def rates(self) -> Rates:
        """The rates the sparklines and numbers show (since the last sample but one)."""
        return self._rates

    @property
    def trace_op(self) -> int:
        """The operation the trace pane shows (0: none)."""
        return self._trace_op

    def show_trace(self, op: int, title: str) -> None:
        """The operation the trace pane shows from the next repaint on (0: none)."""
        self._trace_op, self._trace_title = op, title

    def narrate(self, text: str) -> None:
        """A line in the Events pane, shown at the next repaint."""
        self.on_event(Event(0, EventKind.FAULT, None, None, None, time.perf_counter(), text))

    def subscribe(self) -> None:
        """From now on the engine's events and the theme's changes come here."""
        self._dashboard.engine.subscribe(self.on_event)
        self._app.theme_changed_signal.subscribe(self._app, self.on_theme_changed)

    def start_timers(self) -> None:
        """When live: a tick every :data:`REFRESH_SECONDS`, a sample every second."""
        if self._dashboard.live:
            self._app.set_interval(REFRESH_SECONDS, self.tick)
            self._app.set_interval(1.0, self.sample)
            if self.fleet.in_fleet:
                self._app.set_interval(1.0, self.fleet.look)

    def on_event(self, event: Event) -> None:
        """Called by the engine for every event: must stay cheap."""
        self.changed = True
        if len(self._events) == self._events.maxlen:
            self._skipped += 1
        self._events.append(event)
        user = event.user_id
        if user is not None and event.kind in (EventKind.ACK, EventKind.EXTERNAL):
            self._touched[user] = None
            self._touched.move_to_end(user)
            if len(self._touched) > TOUCHED:
                self._touched.popitem(last=False)

    async def tick(self) -> None:
        app = self._app
        if app.screen is not app.screen_stack[0]:
            return  # a dialog is open: keep still
        since = time.monotonic() - self.painted_at
        if not self.changed and since < IDLE_REFRESH_SECONDS:
            return  # nothing happened: do not repaint
        if self.panes_slowed and since < BUSY_REFRESH_SECONDS - REFRESH_SECONDS / 2:
            return  # every other tick (half a tick of slack: timers drift)
        await self.refresh_view()

    @property
    def panes_slowed(self) -> bool:
        """True while the panes repaint at 2 Hz rather than 4: a workload runs below its
        target because the engine or the event loop sets its rate."""
        workload = self._dashboard.workload
        return workload is not None and workload.running and workload.limited_by is not None

    # -- sampling, once a second -----------------------------------------------------------
    def sample(self) -> None:
        """Once a second: the sparklines' next point and the metrics history (exported by E)."""
        dashboard, app = self._dashboard, self._app
        now = time.monotonic()
        m = dashboard.engine.metrics
        sample = self._sample_since_last(now, m)
        try:
            strip = app.screen_stack[0].query_one("#metrics", MetricsStrip)
        except NoMatches:
            return  # the dashboard is going (the app is exiting)
        # Under a dialog the dashboard keeps still (as the panes do): Textual draws a
        # dialog's dimmed background from the whole screen beneath, again at each change
        # of it, which cost 60-250 ms of the loop under load while someone typed. The
        # points are kept; the sparklines and numbers show them once the dialog closes.
        covered = app.screen is not app.screen_stack[0]
        if self._last_sample is not None:
            self._rates = sample.rates
            try:
                strip.sample(m, sample.rates, sample.window_hit_ratio, draw=not covered)
            except NoMatches:
                return  # the dashboard is going (the app is exiting)
            # the numbers too, now: the panes repaint only on activity, and a quiet second
            # must show its zero rates as the sparklines do
            if not covered:
                strip.show(
                    m,
                    self._rates,
                    timings=dashboard.timings,
                    palette=dashboard.state_palette,
                    window=dashboard.engine.metrics_window(),
                )
        self._last_sample = (now, m)
        dashboard.metrics_history.add(sample)
        if dashboard.engine.links.all and not covered:
            dashboard.show_status()  # the RTT measured through the link, every second
        if dashboard.workload is not None and dashboard.workload.running:
            if self._workload_mark is not None and not covered:
                dashboard.show_status()  # the workload's rate
            self._workload_mark = (now, self._workload_done())

    def workload_started(self) -> None:
        """The workload's achieved rate is measured from the next sample on."""
        self._workload_mark = (time.monotonic(), self._workload_done())

    def sample_now(self) -> MetricsSample:
        """The metrics now, with the rates since the last sample (the last row of E)."""
        return self._sample_since_last(time.monotonic(), self._dashboard.engine.metrics)

    def reset_metrics(self) -> None:
        """M: start the numbers again (totals, latencies, the 5 s window, the sparklines'
        rates); lost writes, dead letters and conflicts are kept."""
        self._dashboard.engine.reset_metrics()
        self.restart_rates()
        self._dashboard.notify(
            "totals, latencies and the 5 s window start again "
            "(lost writes, dead letters and conflicts are kept)",
            title="Metrics reset",
            timeout=3,
        )
        self.changed = True
        self._dashboard.call_later(self.refresh_view)

    def restart_rates(self) -> None:
        """The rates and sparklines start again (the counters were reset)."""
        self._last_sample = None
        self._rates = Rates()
        self.changed = True

    def _workload_done(self) -> int:
        """The operations the background workload has finished (or failed) so far."""
        workload = self._dashboard.workload
        assert workload is not None
        stats = workload.stats
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
        policy = self._dashboard.engine.policy.value
        return MetricsSample(time.time(), policy, m, rates, window_hit_ratio)

    # -- repainting ----------------------------------------------------------------------------
    async def refresh_view(self) -> None:
        """Read the engine's state and repaint every pane (diffing rows by key)."""
        engine = self._dashboard.engine
        if not engine.running:
            return
        if self._refreshing:  # asked during a repaint (g, enter): once more right after
            self._again = True
            return
        self._refreshing = True
        try:
            self._again = True
            while self._again and engine.running:
                self._again = False
                self.changed = False
                self.painted_at = time.monotonic()
                await self._repaint()
        except CacheTuiError as exc:  # e.g. the SQLite file vanished
            self._dashboard.notify(f"cannot refresh the panes: {exc}", severity="error")
        except NoMatches:
            pass  # the panes went while the engine answered (the app is exiting)
        finally:
            self._refreshing = False

    async def _repaint(self) -> None:
        dashboard, app = self._dashboard, self._app
        engine = dashboard.engine
        followed = dashboard.followed
        touched = list(reversed(self._touched))  # newest first
        listed = self._pane_rows()
        # the youngest entries: a pane of a 10,000-entry cache shows a few hundred; the
        # database window stays full (no relayout)
        snapshot = await engine.pane_snapshot(
            cache_limit=listed,
            pending_limit=listed,
            db_limit=DB_WINDOW_ROWS,
            users=touched if followed is None else [followed, *touched],
        )
        # the Database pane: the followed user, the users with a dead letter, the users
        # just touched, then the most recently updated rows
        parked = sorted(letter.user_id for letter in snapshot.dead_letters)
        first = [*([] if followed is None else [followed]), *parked, *touched]
        palette = dashboard.state_palette
        cache_pane = app.query_one("#cache", CachePane)
        queue_pane = app.query_one("#queue", QueuePane)
        db_pane = app.query_one("#database", DatabasePane)
        dashboard.total_rows = max(dashboard.total_rows, len(snapshot.rows))
        fleet = await self.fleet.queue(listed, (write.user_id for write in snapshot.pending))
        contents = dashboard_contents(
            snapshot,
            Look(followed, dashboard.timings, palette, cache_pane.show_ttl),
            listed=listed,
            first=first,
            db_rows=DB_WINDOW_ROWS,
            flush=self._flush_titles(),
            total_rows=dashboard.total_rows,
            fleet=fleet,
        )
        cache_pane.show(contents.cache)
        queue_pane.show(contents.queue)
        db_pane.show(contents.database)
        if followed is not None:  # just followed: scroll each pane to its row once it has one
            for pane in (cache_pane, queue_pane, db_pane):
                if f"#{pane.id}" in self._scroll_to_followed and pane.move_to_user(followed):
                    self._scroll_to_followed.discard(f"#{pane.id}")
        strip = app.query_one("#metrics", MetricsStrip)
        strip.show(
            snapshot.metrics,  # the pending the queue pane counts
            self._rates,
            timings=dashboard.timings,
            palette=palette,
            window=engine.metrics_window(),
        )
        # judged incrementally (only the records since the last time), once a second
        # when live (the sparklines' pace); at every repaint without the timers (tests)
        now = time.monotonic()
        if not dashboard.live or now - self._judged_at >= VERDICT_SECONDS:
            self._judged_at = now
            strip.show_verdicts(engine.verdicts(), engine.policy.value, palette)
        self._show_activity()
        dashboard.show_status()

    def _pane_rows(self) -> int:
        """How many rows the Cache and Write queue panes list: a default cache whole, and
        of a big one three pages (under load every row changes at each repaint, and rows
        nobody can see cost as much to build as the ones on screen)."""
        try:
            height = self._app.query_one("#cache", CachePane).scrollable_content_region.height
        except NoMatches:
            height = 0
        return min(PANE_ROWS, max(PANE_ROWS_MIN, 3 * height))

    def _flush_by_step(self) -> bool:
        """A scenario pauses the flush timer: its steps flush when they say so."""
        run = self._dashboard.scenario_run
        return run is not None and run.active

    def _flush_titles(self) -> tuple[str, str]:
        """What the Write queue pane's subtitle says of flushing (long, short)."""
        if self._flush_by_step():
            return ("flushed when a step says so", "flush: by step")
        every = f"{self._dashboard.engine.config.flush_interval:g}s"
        return (f"flush every {every}", f"flush {every}")

    def _show_activity(self) -> None:
        events = list(self._events)
        skipped = self._skipped
        self._events.clear()
        self._skipped = 0
        dashboard, app = self._dashboard, self._app
        palette, timings = dashboard.state_palette, dashboard.timings
        app.query_one("#log", EventLog).add(events, skipped, timings, palette)
        trace = dashboard.engine.trace(self._trace_op) if self._trace_op else []
        title = self._trace_title if self._trace_op else ""
        app.query_one("#trace", TracePane).show(title, trace, timings, palette)

    def on_theme_changed(self, theme: Theme) -> None:
        """Rich styles do not follow the theme: repaint what carries them."""
        dashboard = self._dashboard
        self._app.query_one("#log", EventLog).repaint(dashboard.timings, dashboard.state_palette)
        self.changed = True
        dashboard.show_status()
        dashboard.call_later(self.refresh_view)

    # -- following a user across panes ---------------------------------------------------------
    def follow(self, user: int | None) -> None:
        """Follow ``user`` in all three panes: each scrolls to its row now, or as soon as
        it has one, after the repaint that may move it (the Database pane puts the followed
        row first)."""
        self._dashboard.followed = user
        panes = ("#cache", "#queue", "#database")
        self._scroll_to_followed = set(panes) if user is not None else set()
        if user is not None:
            for pane_id in panes:
                self._app.query_one(pane_id, KeyTable).move_to_user(user)
        # started now, not queued behind the messages of a dialog that just closed (the
        # screen beneath is drawn again meanwhile): the row shows in that same drawing
        self._app.run_worker(self.refresh_view(), group="follow", exit_on_error=True)


def _restarted(before: MetricsSnapshot, after: MetricsSnapshot) -> bool:
    """True if the counters went back (the metrics were reset between the two)."""
    return any(
        getattr(after, name) < getattr(before, name)
        for name in ("reads", "hits", "misses", "updates", "db_writes", "db_transactions")
    )
