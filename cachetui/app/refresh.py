"""The refresh loop: engine events in, panes repainted at a bounded rate, metrics sampled.

:class:`RefreshLoop` is mixed into :class:`~cachetui.app.app.CacheTuiApp`, which
subscribes :meth:`RefreshLoop._on_event` to the engine and, when live, runs
:meth:`RefreshLoop._tick` every :data:`REFRESH_SECONDS` and :meth:`RefreshLoop._sample`
every second. Following a user across the three panes lives here too: it decides what
the next repaint scrolls to.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict, deque
from collections.abc import Collection

from textual.css.query import NoMatches
from textual.theme import Theme

from cachetui.app.app_part import AppPart
from cachetui.app.export import MetricsSample
from cachetui.app.key_order import in_order
from cachetui.app.states import SYMBOLS, Palette, palette_for
from cachetui.app.widgets.activity import EventLog, TracePane
from cachetui.app.widgets.key_table import KeyTable
from cachetui.app.widgets.metrics_strip import MetricsStrip, Rates, rates_between
from cachetui.app.widgets.panes import CachePane, DatabasePane, QueuePane
from cachetui.engine import (
    CacheTuiError,
    Event,
    EventKind,
    KeyState,
    MetricsSnapshot,
    Profile,
    StoreUnavailable,
    WritePolicy,
    key_state,
)

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


class RefreshLoop(AppPart):
    """Reads the engine's state and repaints the panes, the metrics and the activity."""

    def __init__(self) -> None:
        super().__init__()
        self._events: deque[Event] = deque(maxlen=LOG_LINES_PER_PAINT)
        self._skipped = 0
        self._touched: OrderedDict[int, None] = OrderedDict()
        self._refreshing = False
        self._again = False  # a repaint was asked for while one ran
        self._changed = True  # an engine event arrived since the last paint
        self._painted_at = 0.0
        self._rates = Rates()
        self._last_sample: tuple[float, MetricsSnapshot] | None = None
        self._scroll_to_followed: set[str] = set()  # panes to scroll to the followed row
        self._judged_at = -VERDICT_SECONDS  # when the verdict line was last judged

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
        since = time.monotonic() - self._painted_at
        if not self._changed and since < IDLE_REFRESH_SECONDS:
            return  # nothing happened: do not repaint
        if self.panes_slowed and since < BUSY_REFRESH_SECONDS - REFRESH_SECONDS / 2:
            return  # every other tick (half a tick of slack: timers drift)
        await self.refresh_view()

    @property
    def panes_slowed(self) -> bool:
        """True while the panes repaint at 2 Hz rather than 4: a workload runs below its
        target because the engine or the event loop sets its rate."""
        workload = self.workload
        return workload is not None and workload.running and workload.limited_by is not None

    # -- sampling, once a second -----------------------------------------------------------
    def _sample(self) -> None:
        """Once a second: the sparklines' next point and the metrics history (exported by E)."""
        now = time.monotonic()
        m = self.engine.metrics
        sample = self._sample_since_last(now, m)
        try:
            strip = self.screen_stack[0].query_one("#metrics", MetricsStrip)
        except NoMatches:
            return  # the dashboard is going (the app is exiting)
        # Under a dialog the dashboard keeps still (as the panes do): Textual draws a
        # dialog's dimmed background from the whole screen beneath, again at each change
        # of it, which cost 60-250 ms of the loop under load while someone typed. The
        # points are kept; the sparklines and numbers show them once the dialog closes.
        covered = self.screen is not self.screen_stack[0]
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
                    timings=self.timings,
                    palette=self.state_palette,
                    window=self.engine.metrics_window(),
                )
        self._last_sample = (now, m)
        self.metrics_history.add(sample)
        if self.engine.links.all and not covered:
            self._show_status()  # the RTT measured through the link, every second
        if self.workload is not None and self.workload.running:
            ops = self._workload_done()
            if self._workload_mark is not None:
                then, before = self._workload_mark
                self._workload_rate = (ops - before) / (now - then) if now > then else None
                if not covered:
                    self._show_status()
            self._workload_mark = (now, ops)

    @in_order
    def action_reset_metrics(self) -> None:
        """M: start the numbers again (totals, latencies, the 5 s window, the sparklines'
        rates); lost writes, dead letters and conflicts are kept."""
        self.engine.reset_metrics()
        self.restart_rates()
        self.notify(
            "totals, latencies and the 5 s window start again "
            "(lost writes, dead letters and conflicts are kept)",
            title="Metrics reset",
            timeout=3,
        )
        self._changed = True
        self.call_later(self.refresh_view)

    def restart_rates(self) -> None:
        """The rates and sparklines start again (the counters were reset)."""
        self._last_sample = None
        self._rates = Rates()
        self._changed = True

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

    # -- repainting ----------------------------------------------------------------------------
    async def refresh_view(self) -> None:
        """Read the engine's state and repaint every pane (diffing rows by key)."""
        if not self.engine.running:
            return
        if self._refreshing:  # asked during a repaint (g, enter): once more right after
            self._again = True
            return
        self._refreshing = True
        try:
            self._again = True
            while self._again and self.engine.running:
                self._again = False
                self._changed = False
                self._painted_at = time.monotonic()
                await self._repaint()
        except CacheTuiError as exc:  # e.g. the SQLite file vanished
            self.notify(f"cannot refresh the panes: {exc}", severity="error")
        except NoMatches:
            pass  # the panes went while the engine answered (the app is exiting)
        finally:
            self._refreshing = False

    async def _repaint(self) -> None:
        engine = self.engine
        try:  # the youngest entries: a pane of a 10,000-entry cache shows a few hundred
            entries = await engine.cache_entries(limit=self._pane_rows())
            size = await engine.cache_size()
        except StoreUnavailable:
            entries, size = [], 0
        # the queue after the cache, not before: over Redis the listing takes a round
        # trip, and an update landing meanwhile is then dirty (queued) in the panes, never
        # "orphaned" (cached newer than the database with nothing queued); the price is a
        # cache row that may be a version behind the queue's
        pending = engine.pending_writes()
        letters = {d.user_id: d for d in engine.dead_letters()}
        cached = {e.profile.user_id: e.profile for e in entries}
        queued = {w.user_id: w.profile for w in pending}
        wanted = set(cached) | set(queued) | set(self._touched) | set(letters)
        if self.followed is not None:
            wanted.add(self.followed)
        recent = await engine.db_recent(DB_WINDOW_ROWS)  # the window stays full: no relayout
        db = {p.user_id: p for p in recent}
        db.update(await engine.db_rows(wanted - set(db)))
        window = self._db_window(db, recent, letters)
        states: dict[int, KeyState] = {
            user: key_state(cached.get(user), queued.get(user), db.get(user), letters.get(user))
            for user in set(db) | set(cached) | set(queued)
        }
        followed = self.followed
        cache_pane = self.query_one("#cache", CachePane)
        queue_pane = self.query_one("#queue", QueuePane)
        db_pane = self.query_one("#database", DatabasePane)
        palette = self.state_palette
        cache_pane.show(entries, states, followed, timings=self.timings, palette=palette)
        queue_pane.show(
            pending[: self._pane_rows()], db, followed, timings=self.timings, palette=palette
        )
        db_pane.show(window, states, followed, palette=palette)
        if followed is not None:  # just followed: scroll each pane to its row once it has one
            for pane in (cache_pane, queue_pane, db_pane):
                if f"#{pane.id}" in self._scroll_to_followed and pane.move_to_user(followed):
                    self._scroll_to_followed.discard(f"#{pane.id}")
        # titles as variants, longest first: each pane shows the longest that fits
        if engine.policy is WritePolicy.NO_CACHE:  # its entries are kept, but not used
            cache_pane.set_titles(
                (f"Cache {size:,}/{engine.config.capacity:,}", f"Cache {size:,}"),
                ("not used under no-cache: reads go to the DB", "unused: no-cache"),
            )
        elif engine.cache_available:
            # a big cache is listed in part (the youngest entries): the title says so
            listed: tuple[str, ...] = (
                (f"Cache {size:,}/{engine.config.capacity:,} · youngest {len(entries):,} listed",)
                if size > len(entries)
                else ()
            )
            cache_pane.set_titles(
                (*listed, f"Cache {size:,}/{engine.config.capacity:,}", f"Cache {size:,}"),
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
        # dead letters are not in the queue (one row per user): the title counts them
        parked = f" · {SYMBOLS[KeyState.REJECTED]} {len(letters):,} parked" if letters else ""
        shown = min(len(pending), self._pane_rows())
        listed = (  # a long queue is listed in part (its oldest writes): the title says so
            (
                f"Write queue {len(pending):,} · first {shown:,} listed{parked}",
                f"Queue {len(pending):,} · {shown:,} listed{parked}",
            )
            if shown < len(pending)
            else ()
        )
        queue_pane.set_titles(
            (
                *listed,
                f"Write queue {len(pending):,}{parked}",
                f"Queue {len(pending):,}{parked}",
                f"Queue {len(pending):,}",
            ),
            ("empty: only write-behind queues", "write-behind only")
            if engine.policy is not WritePolicy.WRITE_BEHIND and not pending
            else flush,
        )
        self.total_rows = max(self.total_rows, len(db))
        db_pane.set_titles(
            (f"Database {self.total_rows:,} rows", f"DB {self.total_rows:,} rows"),
            (
                f"{len(window)} rows: followed, just written, latest updated",
                f"{len(window)} rows",
            ),
        )
        strip = self.query_one("#metrics", MetricsStrip)
        strip.show(
            engine.metrics,
            self._rates,
            timings=self.timings,
            palette=palette,
            window=engine.metrics_window(),
        )
        # judged incrementally (only the records since the last time), once a second
        # when live (the sparklines' pace); at every repaint without the timers (tests)
        now = time.monotonic()
        if not self.live or now - self._judged_at >= VERDICT_SECONDS:
            self._judged_at = now
            strip.show_verdicts(engine.verdicts(), engine.policy.value, palette)
        self._show_activity()
        self._show_status()

    def _pane_rows(self) -> int:
        """How many rows the Cache and Write queue panes list: a default cache whole, and
        of a big one three pages (under load every row changes at each repaint, and rows
        nobody can see cost as much to build as the ones on screen)."""
        try:
            height = self.query_one("#cache", CachePane).scrollable_content_region.height
        except NoMatches:
            height = 0
        return min(PANE_ROWS, max(PANE_ROWS_MIN, 3 * height))

    def _flush_by_step(self) -> bool:
        """A scenario pauses the flush timer: its steps flush when they say so."""
        run = self.scenario_run
        return run is not None and run.active

    def _db_window(
        self, db: dict[int, Profile], recent: list[Profile], letters: Collection[int] = ()
    ) -> list[Profile]:
        """The followed user, then the users with a dead letter, then the users just
        touched (newest first), then the most recently updated rows: bounded, so 100,000
        rows never reach the table."""
        chosen: dict[int, Profile] = {}
        if self.followed is not None and self.followed in db:
            chosen[self.followed] = db[self.followed]
        for user in sorted(letters):
            if user in db:
                chosen.setdefault(user, db[user])
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
    def on_key_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        self.follow(event.user)

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
        # started now, not queued behind the messages of a dialog that just closed (the
        # screen beneath is drawn again meanwhile): the row shows in that same drawing
        self.run_worker(self.refresh_view(), group="follow", exit_on_error=True)


def _restarted(before: MetricsSnapshot, after: MetricsSnapshot) -> bool:
    """True if the counters went back (the metrics were reset between the two)."""
    return any(
        getattr(after, name) < getattr(before, name)
        for name in ("reads", "hits", "misses", "updates", "db_writes", "db_transactions")
    )
