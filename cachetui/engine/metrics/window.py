"""Live numbers over a sliding window: the last 5 s in 1 s buckets, per write policy.

The hot path records into the engine's cumulative counters
(:class:`~cachetui.engine.metrics.counters.Counters`) only; this module cuts them into
buckets. A *cut* moves what the counters gained since the
previous cut into the bucket of the current second, of the current policy. Cuts happen when
an operation finds that the second has turned (one comparison per operation), when the
policy changes, and when :meth:`WindowTracker.window` is asked; so every sample lands in the
second it was recorded in, and a policy switch splits a second between two policies.

Each policy keeps its own last five buckets, so its numbers survive a switch: after
write-behind → write-through the window of write-behind still says what write-behind did in
its last five seconds (``ended_ago`` says how long ago that was).
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cachetui.engine.config import WritePolicy
from cachetui.engine.metrics.counters import Counters, bucket_value

#: The window: this many buckets of BUCKET_SECONDS, the newest one still filling.
WINDOW_BUCKETS = 5
BUCKET_SECONDS = 1.0
WINDOW_SECONDS = WINDOW_BUCKETS * BUCKET_SECONDS

_COUNTS = (
    "reads",
    "hits",
    "misses",
    "updates",
    "failed_updates",
    "db_reads",
    "db_writes",
    "db_transactions",
    "coalesced",
)
_counts_of = operator.attrgetter(*_COUNTS)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One write policy's numbers over its window (``policy`` None: every policy's).

    ``seconds`` is the time the window covers while this policy was the engine's (at most
    5 s; less just after a reset or a switch): the rates are per second of it. Counts are
    operations in the window. Latencies are in microseconds (µs) as the caller saw them,
    within about 6 %; None without a sample. ``hit_ratio`` is hits / (hits + misses),
    0..1, None without a read. ``ended_ago`` is 0.0 for the current policy, else the
    seconds since the engine left this policy (its window ends then)."""

    policy: WritePolicy | None
    seconds: float
    ended_ago: float
    reads: int
    hits: int
    misses: int
    updates: int
    failed_updates: int
    db_reads: int
    db_writes: int
    db_transactions: int
    coalesced: int
    hit_ratio: float | None
    reads_per_s: float
    updates_per_s: float
    ops_per_s: float
    db_writes_per_s: float
    db_transactions_per_s: float
    read_p50_us: float | None
    read_p99_us: float | None
    update_p50_us: float | None
    update_p99_us: float | None


@dataclass(frozen=True, slots=True)
class MetricsWindow:
    """What ``Engine.metrics_window()`` returns: the last ``span`` seconds (5) in
    ``bucket``-second buckets (1).

    ``current``: the current policy's window (it starts at the switch to it, if that was
    less than 5 s ago). ``overall``: every policy over the last 5 s. ``by_policy``: each
    policy that ran since the last reset, over the last 5 s it was the engine's policy (the
    current one included), so two policies can be shown side by side after a switch."""

    policy: WritePolicy
    span: float
    bucket: float
    current: WindowStats
    overall: WindowStats
    by_policy: Mapping[WritePolicy, WindowStats]


class _Bucket:
    """One policy's share of one second: counter gains and sparse latency counts."""

    __slots__ = ("counts", "read", "update")

    def __init__(self) -> None:
        self.counts = [0] * len(_COUNTS)
        self.read: dict[int, int] = {}
        self.update: dict[int, int] = {}


class WindowTracker:
    """Cuts the engine's cumulative counters into per-second, per-policy buckets.

    ``clock``: monotonic seconds (None: ``time.perf_counter``, the engine's clock). The
    engine checks ``due`` on every operation: when its start time reaches ``due`` it calls
    :meth:`roll`. With an injected clock ``due`` is -inf, so every operation asks the clock
    (tests and benchmarks pay that, not the default)."""

    def __init__(
        self,
        counters: Counters,
        policy: WritePolicy,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock if clock is not None else time.perf_counter
        self._injected = clock is not None
        self.due = -math.inf
        self._policy = policy
        self._counters = counters
        self._base_counts: tuple[int, ...] = ()
        self._base_totals = (0, 0)
        self._base_read: list[int] = []
        self._base_update: list[int] = []
        self._second = 0
        # per policy: its buckets by second (oldest first) and the times it was current
        self._buckets: dict[WritePolicy, dict[int, _Bucket]] = {}
        self._spans: dict[WritePolicy, list[list[float]]] = {}
        self.reset(counters)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def reset(self, counters: Counters) -> None:
        """Start again from ``counters`` (their values so far are not in any bucket)."""
        now = self._clock()
        self._counters = counters
        self._rebase()
        self._buckets = {}
        self._spans = {self._policy: [[now, math.inf]]}
        self._set_second(now)

    def roll(self) -> float:
        """Cut if the second turned; the clock's time."""
        now = self._clock()
        second = math.floor(now / BUCKET_SECONDS)
        if second != self._second:
            self._cut()
            self._set_second(now)
        elif not self._injected:
            self.due = (second + 1) * BUCKET_SECONDS
        return now

    def switch(self, policy: WritePolicy) -> None:
        """The engine's policy changes now: what was counted so far goes to the old one."""
        if policy is self._policy:
            return
        now = self.roll()
        self._cut()
        self._spans[self._policy][-1][1] = now
        self._policy = policy
        spans = self._spans.setdefault(policy, [])
        spans.append([now, math.inf])
        self._prune(policy, self._second)

    def window(self) -> MetricsWindow:
        now = self.roll()
        self._cut()
        by_policy: dict[WritePolicy, WindowStats] = {}
        for policy, spans in self._spans.items():
            end = min(spans[-1][1], now)
            last = math.floor(end / BUCKET_SECONDS) if policy is not self._policy else self._second
            buckets = self._recent(self._buckets.get(policy, {}), last)
            covered = _covered(spans, (last - WINDOW_BUCKETS + 1) * BUCKET_SECONDS, end)
            by_policy[policy] = _stats(policy, buckets, covered, now - end)
        first = (self._second - WINDOW_BUCKETS + 1) * BUCKET_SECONDS
        every = [
            b for buckets in self._buckets.values() for b in self._recent(buckets, self._second)
        ]
        covered = sum(_covered(spans, first, now) for spans in self._spans.values())
        current = by_policy[self._policy]
        return MetricsWindow(
            policy=self._policy,
            span=WINDOW_SECONDS,
            bucket=BUCKET_SECONDS,
            current=current,
            overall=_stats(None, every, covered, 0.0),
            by_policy=by_policy,
        )

    # -- internals ---------------------------------------------------------------------------
    def _set_second(self, now: float) -> None:
        self._second = math.floor(now / BUCKET_SECONDS)
        self.due = -math.inf if self._injected else (self._second + 1) * BUCKET_SECONDS
        self._prune(self._policy, self._second)

    def _rebase(self) -> None:
        c = self._counters
        self._base_counts = _counts_of(c)
        self._base_totals = (c.read_latency.total, c.update_latency.total)
        self._base_read = c.read_latency.counts.copy()
        self._base_update = c.update_latency.counts.copy()

    def _cut(self) -> None:
        """Move what the counters gained since the last cut into the current bucket."""
        c = self._counters
        counts = _counts_of(c)
        read, update = c.read_latency, c.update_latency
        base_read, base_update = self._base_read, self._base_update
        if counts == self._base_counts and (read.total, update.total) == self._base_totals:
            return  # nothing happened since the last cut
        buckets = self._buckets.setdefault(self._policy, {})
        bucket = buckets.get(self._second)
        if bucket is None:
            bucket = buckets[self._second] = _Bucket()
        bucket.counts = [
            b + now - then
            for b, now, then in zip(bucket.counts, counts, self._base_counts, strict=True)
        ]
        _add_gain(bucket.read, read.counts, base_read)
        _add_gain(bucket.update, update.counts, base_update)
        self._rebase()

    def _prune(self, policy: WritePolicy, last: int) -> None:
        buckets = self._buckets.get(policy)
        if buckets:
            for second in [s for s in buckets if s <= last - WINDOW_BUCKETS]:
                del buckets[second]
        spans = self._spans.get(policy)
        if spans:
            oldest = (last - WINDOW_BUCKETS + 1) * BUCKET_SECONDS
            spans[:] = [s for s in spans[:-1] if s[1] > oldest] + spans[-1:]

    @staticmethod
    def _recent(buckets: dict[int, _Bucket], last: int) -> list[_Bucket]:
        return [b for s, b in buckets.items() if last - WINDOW_BUCKETS < s <= last]


def _add_gain(into: dict[int, int], now: list[int], then: list[int]) -> None:
    if now == then:
        return
    for index, (a, b) in enumerate(zip(now, then, strict=True)):
        if a != b:
            into[index] = into.get(index, 0) + a - b


def _covered(spans: list[list[float]], start: float, end: float) -> float:
    """Seconds of ``[start, end]`` inside the spans (``[since, until]`` pairs)."""
    return sum(max(0.0, min(until, end) - max(since, start)) for since, until in spans)


def _percentile_us(counts: dict[int, int], total: int, p: float) -> float | None:
    if total == 0:
        return None
    rank = max(1, round(total * p / 100))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return bucket_value(index) / 1e3
    return None  # pragma: no cover - unreachable: counts sum to total


def _stats(
    policy: WritePolicy | None, buckets: list[_Bucket], seconds: float, ended_ago: float
) -> WindowStats:
    totals = [0] * len(_COUNTS)
    read: dict[int, int] = {}
    update: dict[int, int] = {}
    for bucket in buckets:
        totals = [a + b for a, b in zip(totals, bucket.counts, strict=True)]
        for into, gained in ((read, bucket.read), (update, bucket.update)):
            for index, count in gained.items():
                into[index] = into.get(index, 0) + count
    values = dict(zip(_COUNTS, totals, strict=True))
    asked = values["hits"] + values["misses"]
    read_n, update_n = sum(read.values()), sum(update.values())

    def rate(count: int) -> float:
        return count / seconds if seconds > 0 else 0.0

    return WindowStats(
        policy=policy,
        seconds=seconds,
        ended_ago=ended_ago,
        **values,
        hit_ratio=values["hits"] / asked if asked else None,
        reads_per_s=rate(values["reads"]),
        updates_per_s=rate(values["updates"]),
        ops_per_s=rate(values["reads"] + values["updates"]),
        db_writes_per_s=rate(values["db_writes"]),
        db_transactions_per_s=rate(values["db_transactions"]),
        read_p50_us=_percentile_us(read, read_n, 50),
        read_p99_us=_percentile_us(read, read_n, 99),
        update_p50_us=_percentile_us(update, update_n, 50),
        update_p99_us=_percentile_us(update, update_n, 99),
    )
