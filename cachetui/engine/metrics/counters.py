"""Counters and fixed-size latency histograms, cheap enough to leave on."""

from __future__ import annotations

from dataclasses import dataclass

# Log-linear buckets over nanoseconds: exact below 32 ns, then 16 buckets per power of
# two (about 6 % resolution), up to 2**40 ns (18 minutes).
_SUB_BITS = 4
_SUB = 1 << _SUB_BITS
_BUCKETS = (40 - _SUB_BITS) * _SUB + 2 * _SUB


def _bucket(ns: int) -> int:
    bits = ns.bit_length()
    if bits <= _SUB_BITS + 1:
        return ns
    shift = bits - _SUB_BITS - 1
    index = (shift + 1) * _SUB + (ns >> shift) - _SUB
    return index if index < _BUCKETS else _BUCKETS - 1


def bucket_value(index: int) -> int:
    """The middle of a histogram bucket's range, in nanoseconds."""
    if index < 2 * _SUB:
        return index
    shift = index // _SUB - 1
    low = (index - shift * _SUB) << shift
    return low + (1 << shift) // 2


class LatencyHistogram:
    """Counts of latencies in fixed buckets; percentiles within about 6 %.

    The hot paths hand each latency to ``add`` (a list's append: 10 ns, where bucketing
    it at once cost 200); the samples are bucketed in one loop when the counts are next
    read (the metrics window reads them every second).
    """

    __slots__ = ("_counts", "_total", "_samples", "add")

    def __init__(self) -> None:
        self._counts = [0] * _BUCKETS
        self._total = 0
        self._samples: list[float] = []
        #: Record one latency in seconds (bucketed later).
        self.add = self._samples.append

    def record(self, seconds: float) -> None:
        self.add(seconds)

    def _fold(self) -> None:
        """Bucket the samples added since the last read (:func:`_bucket`, inlined)."""
        samples = self._samples
        if not samples:
            return
        counts, last = self._counts, _BUCKETS - 1
        for seconds in samples:
            ns = int(seconds * 1e9)
            bits = ns.bit_length()
            if bits <= _SUB_BITS + 1:
                counts[ns] += 1
            else:
                index = (bits - _SUB_BITS) * _SUB + (ns >> (bits - _SUB_BITS - 1)) - _SUB
                counts[index if index < last else last] += 1
        self._total += len(samples)
        samples.clear()

    @property
    def counts(self) -> list[int]:
        """Samples per bucket (:func:`bucket_value`)."""
        self._fold()
        return self._counts

    @counts.setter
    def counts(self, counts: list[int]) -> None:
        self._fold()
        self._counts = counts

    @property
    def total(self) -> int:
        self._fold()
        return self._total

    @total.setter
    def total(self, total: int) -> None:
        self._fold()
        self._total = total

    def percentile(self, p: float) -> float | None:
        """The p-th percentile (0–100) in seconds, or None before any sample."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, round(total * p / 100))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                return bucket_value(index) / 1e9
        return None  # pragma: no cover - unreachable: counts sum to total

    def copy(self) -> LatencyHistogram:
        clone = LatencyHistogram()
        clone._counts = self.counts.copy()
        clone._total = self._total
        return clone

    def since(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """The samples recorded after ``earlier`` (a copy of this histogram)."""
        delta = LatencyHistogram()
        delta._counts = [a - b for a, b in zip(self.counts, earlier.counts, strict=True)]
        delta._total = self._total - earlier.total
        return delta


class Counters:
    """The engine's mutable counters; read them through :class:`MetricsSnapshot`."""

    __slots__ = (
        "reads",
        "hits",
        "misses",
        "updates",
        "failed_updates",
        "db_reads",
        "db_writes",
        "db_transactions",
        "coalesced",
        "evictions",
        "expirations",
        "retries",
        "lost_writes",
        "external_writes",
        "cache_errors",
        "conflicts",
        "rejections",
        "discarded",
        "unknown_outcomes",
        "settled_landed",
        "settled_not_landed",
        "peak_pending",
        "max_queue_wait",
        "read_latency",
        "miss_latency",
        "update_latency",
    )

    def __init__(self) -> None:
        self.reads = 0
        self.hits = 0
        self.misses = 0
        self.updates = 0  # acknowledged
        self.failed_updates = 0
        self.db_reads = 0  # rows read by the engine's calls
        self.db_writes = 0  # rows written
        self.db_transactions = 0  # commits that wrote at least one row
        self.coalesced = 0
        self.evictions = 0
        self.expirations = 0
        self.retries = 0
        self.lost_writes = 0
        self.external_writes = 0
        self.cache_errors = 0  # cache store calls that failed (store unreachable)
        self.conflicts = 0  # writes whose base version was gone (all policies)
        self.rejections = 0  # row-permanent failures of a write (each attempt)
        self.discarded = 0  # dead letters discarded on request (their updates dropped)
        self.unknown_outcomes = 0  # commits whose reply was lost (they may have landed)
        self.settled_landed = 0  # … found in their row once settled
        self.settled_not_landed = 0  # … not in their row once settled
        self.peak_pending = 0
        self.max_queue_wait = 0.0  # longest a write waited in the queue before landing
        self.read_latency = LatencyHistogram()
        #: The reads that were no cache hit (a part of ``read_latency``: the hits' are
        #: ``read_latency.since(miss_latency)``), recorded off the hit path.
        self.miss_latency = LatencyHistogram()
        self.update_latency = LatencyHistogram()

    def record_miss(self, seconds: float) -> None:
        """The latency of a read that was no cache hit (in ``read_latency`` too)."""
        self.read_latency.add(seconds)
        self.miss_latency.add(seconds)

    def copy(self) -> Counters:
        """An independent copy (histograms included): a value to return to later with
        ``Engine.reset_metrics(start_from=...)``."""
        clone = Counters()
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(clone, name, value.copy() if isinstance(value, LatencyHistogram) else value)
        return clone

    def restarted(self) -> Counters:
        """Fresh counters that keep what describes data at risk or parked: lost writes,
        conflicts, rejections and discarded dead letters (see ``Engine.reset_metrics``)."""
        fresh = Counters()
        for name in KEPT_ON_RESET:
            setattr(fresh, name, getattr(self, name))
        return fresh


#: Counters that ``Engine.reset_metrics()`` keeps: they describe writes lost or parked,
#: which a reset must not hide.
KEPT_ON_RESET = ("lost_writes", "conflicts", "rejections", "discarded")


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """The engine's metrics at one moment. Latencies are in seconds (None: no sample)."""

    reads: int
    hits: int
    misses: int
    hit_ratio: float
    updates: int
    failed_updates: int
    db_reads: int
    db_writes: int
    db_transactions: int
    coalesced: int
    pending: int
    peak_pending: int
    oldest_pending_age: float
    max_queue_wait: float
    evictions: int
    expirations: int
    retries: int
    lost_writes: int
    external_writes: int
    cache_errors: int
    conflicts: int
    rejections: int
    dead_letters: int
    discarded: int
    unknown_outcomes: int
    settled_landed: int
    settled_not_landed: int
    read_p50: float | None
    read_p95: float | None
    read_p99: float | None
    update_p50: float | None
    update_p95: float | None
    update_p99: float | None

    @classmethod
    def of(
        cls, c: Counters, pending: int, oldest_pending_age: float, dead_letters: int = 0
    ) -> MetricsSnapshot:
        reads = c.hits + c.misses
        return cls(
            reads=c.reads,
            hits=c.hits,
            misses=c.misses,
            hit_ratio=c.hits / reads if reads else 0.0,
            updates=c.updates,
            failed_updates=c.failed_updates,
            db_reads=c.db_reads,
            db_writes=c.db_writes,
            db_transactions=c.db_transactions,
            coalesced=c.coalesced,
            pending=pending,
            peak_pending=c.peak_pending,
            oldest_pending_age=oldest_pending_age,
            max_queue_wait=c.max_queue_wait,
            evictions=c.evictions,
            expirations=c.expirations,
            retries=c.retries,
            lost_writes=c.lost_writes,
            external_writes=c.external_writes,
            cache_errors=c.cache_errors,
            conflicts=c.conflicts,
            rejections=c.rejections,
            dead_letters=dead_letters,
            discarded=c.discarded,
            unknown_outcomes=c.unknown_outcomes,
            settled_landed=c.settled_landed,
            settled_not_landed=c.settled_not_landed,
            read_p50=c.read_latency.percentile(50),
            read_p95=c.read_latency.percentile(95),
            read_p99=c.read_latency.percentile(99),
            update_p50=c.update_latency.percentile(50),
            update_p95=c.update_latency.percentile(95),
            update_p99=c.update_latency.percentile(99),
        )
