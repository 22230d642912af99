"""Observing the engine: its metrics (totals and the sliding window), its events, and
the listeners that turn what the store and the faults report into events. Part of the
:class:`~cachetui.engine.engine.Engine` facade; these are public methods of every engine.
"""

from __future__ import annotations

from typing import Any

from cachetui.engine.core import BACKGROUND_OP, RUNNING, EngineCore, perf_counter
from cachetui.engine.events import Event, EventKind, Subscriber
from cachetui.engine.history.live import LiveJudge, Verdicts
from cachetui.engine.history.recorder import HistoryRecorder
from cachetui.engine.metrics.counters import Counters, MetricsSnapshot
from cachetui.engine.metrics.window import MetricsWindow
from cachetui.engine.pending import oldest_age, pending_count, pending_now
from cachetui.engine.profile import Profile
from cachetui.engine.settling import SettledCommit, UnsettledCommit


class Observation:
    _core: EngineCore
    _live_judge: LiveJudge | None = None

    # -- observation: metrics and events ---------------------------------------------------------
    @property
    def metrics(self) -> MetricsSnapshot:
        core = self._core
        if core.fleet is None:  # the common case, cheaply
            queue = core.queue
            return MetricsSnapshot.of(
                core.c, len(queue), queue.oldest_age(perf_counter()), len(core.dead_letters)
            )
        pending = pending_now(core, perf_counter())
        return MetricsSnapshot.of(
            core.c, pending_count(core), oldest_age(pending), len(core.dead_letters)
        )

    @property
    def counters(self) -> Counters:
        """The live counters and latency histograms (read-only by convention)."""
        return self._core.c

    def reset_metrics(self, *, start_from: Counters | None = None) -> None:
        """Start the counters, the latency histograms and the window again.

        What describes writes lost or parked is kept: ``lost_writes``, ``conflicts``,
        ``rejections`` and ``discarded`` (and the dead letters themselves). Everything
        else (reads, hits, misses, updates, DB reads/writes/transactions, coalesced,
        retries, evictions, peak_pending, the latency percentiles, ``metrics_window()``)
        starts from zero. ``start_from``: counters to continue from instead, kept
        exactly (a ``engine.counters.copy()`` taken earlier, e.g. on entering a scenario,
        to put back on leaving it)."""
        core = self._core
        core.set_counters(start_from.copy() if start_from is not None else core.c.restarted())
        if self._live_judge is not None:
            self._live_judge.reset()  # the verdict counts too, but never a lost write

    def verdicts(self) -> Verdicts:
        """Each policy's verdict on this engine's history so far (docs/verdicts.md): lost
        writes, stale reads (how many, the most writes and ms behind), read-your-writes,
        monotonic reads, versions going down, writes applied twice, each violation with
        its evidence. Incremental: from the first call on, each batch of records is judged
        as the recorder drains it (every 0.1 s, a few µs a record), and a call only adds
        what is new, so it can be called every second under load. Restarted by
        :meth:`reset_metrics`, except lost writes."""
        if self._live_judge is None:
            core = self._core

            def pending(uid: int) -> str | None:
                queued = core.queue.get(uid)
                return None if queued is None else queued.write_id

            def parked(uid: int) -> str | None:
                letter = core.dead_letters.get(uid)
                return None if letter is None else letter.profile.write_id

            self._live_judge = LiveJudge(core.history, pending, parked)
        return self._live_judge.verdicts()

    def metrics_window(self) -> MetricsWindow:
        """The last 5 s in 1 s buckets (``EngineConfig.metrics_clock``): read and
        update p50/p99 (µs), hit ratio, reads/updates/DB writes/DB transactions per
        second — for the current policy, for all of them together, and per policy over
        the last 5 s each policy ran (so a switch can be shown side by side). Cost: a
        few hundred µs; meant for a refresh a few times a second."""
        return self._core.window.window()

    @property
    def history(self) -> HistoryRecorder:
        """The operation history (docs/verdicts.md): ``records()`` the newest as their JSON
        dicts, ``listen(fn)`` each batch as it is drained (a live checker's feed)."""
        return self._core.history

    def subscribe(self, subscriber: Subscriber) -> Any:
        """Call ``subscriber(event)`` for every event; returns a function that unsubscribes."""
        return self._core.events.subscribe(subscriber)

    def recent_events(self, limit: int | None = None) -> list[Event]:
        return self._core.events.recent(limit)

    def trace(self, op_id: int) -> list[Event]:
        """The steps of one operation, from the event ring buffer."""
        return self._core.events.for_op(op_id)

    def unsettled_commits(self) -> list[UnsettledCommit]:
        """Commits whose reply was lost (their update raised OutcomeUnknown) and that are
        not settled yet, oldest first: the engine settles each by reading its row's write
        id once the database answers (docs/engine.md, "Commits of unknown outcome")."""
        return list(self._core.commits.unsettled.values())

    def settled_commits(self) -> list[SettledCommit]:
        """The last 100 commits of unknown outcome settled, oldest first, each with its
        outcome: "landed", "not landed" or "overwritten" (by another writer since)."""
        return list(self._core.commits.settled)

    # -- listeners -------------------------------------------------------------------------------
    def _on_drop(self, user_id: int, profile: Profile | None, reason: str) -> None:
        core = self._core
        if reason == "expire":
            core.c.expirations += 1
            kind = EventKind.EXPIRE
        elif reason == "evict":
            core.c.evictions += 1
            kind = EventKind.EVICT
        else:
            kind = EventKind.INVALIDATE
            reason = {
                "invalid": "the cached value was not a valid profile: dropped",
                "gone": "deleted outside the engine",
            }.get(reason, reason)
        dirty = " (its pending write stays queued)" if user_id in core.queue else ""
        version = None if profile is None else profile.version
        core.emit(BACKGROUND_OP, kind, user_id, version, None, reason + dirty)

    def _on_fault(self, name: str, value: object) -> None:
        core = self._core
        change = {
            "db_down": f"DB outage {'on' if value else 'off'}",
            "cache_down": f"cache outage {'on' if value else 'off'}",
            "db_latency": f"DB latency {float(value) * 1000:g} ms",  # type: ignore[arg-type]
            "db_error_rate": f"DB error rate {float(value):.0%}",  # type: ignore[arg-type]
        }.get(name, f"{name} = {value}")
        state = core.faults.describe() or "none"
        core.emit(BACKGROUND_OP, EventKind.FAULT, None, None, None, f"{change} (faults: {state})")
        if name == "cache_down" and core.state == RUNNING:
            core.cache.fault_changed(bool(value))
