"""``cachetui worker --metrics-port P``: the engine's metrics in Prometheus' text format
at ``/metrics``, served by ``prometheus_client``'s own HTTP server (a thread).

Every name starts with ``cachetui_``; every sample has the labels ``instance`` (the
worker's ``--name``) and ``policy``. The server's thread never touches the engine: the
worker hands over a :class:`Reading` (frozen) once a second, with its status line, and a
scrape reads the latest one (so a value is at most a second old).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from cachetui.engine.metrics.counters import MetricsSnapshot

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

#: (name without ``cachetui_`` and ``_total``, help, the snapshot's field)
COUNTERS = (
    ("reads", "Reads finished (hits and misses).", "reads"),
    ("cache_hits", "Reads the cache served.", "hits"),
    ("cache_misses", "Reads the cache did not serve.", "misses"),
    ("updates", "Updates acknowledged.", "updates"),
    ("failed_updates", "Updates that failed (not acknowledged).", "failed_updates"),
    ("db_reads", "Rows read from the database.", "db_reads"),
    ("landed_writes", "Rows written to the database (writes landed).", "db_writes"),
    ("db_transactions", "Database transactions that wrote at least one row.", "db_transactions"),
    ("coalesced_writes", "Write-behind writes folded into a newer one of their user.", "coalesced"),
    ("retries", "Write-behind batches retried after a failure.", "retries"),
    ("conflicts", "Writes whose base version another writer had replaced.", "conflicts"),
    ("lost_writes", "Acknowledged writes lost (a crash, a discard).", "lost_writes"),
    ("cache_errors", "Cache store calls that failed.", "cache_errors"),
    (
        "unknown_outcomes",
        "Commits whose reply was lost (they may have landed).",
        "unknown_outcomes",
    ),
    ("evictions", "Cache entries evicted.", "evictions"),
)
#: (name without ``cachetui_``, help, the snapshot's field)
GAUGES = (
    ("pending", "Write-behind writes acknowledged and not yet landed.", "pending"),
    (
        "oldest_pending_age_seconds",
        "Age of the oldest pending write-behind write (0: none pending).",
        "oldest_pending_age",
    ),
    ("dead_letters", "Writes parked as dead letters.", "dead_letters"),
    ("hit_ratio", "Cache hits over reads, since the start (0 to 1).", "hit_ratio"),
)
QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


@dataclass(frozen=True, slots=True)
class Reading:
    """What one scrape shows: the engine's metrics and the worker's own counts."""

    snapshot: MetricsSnapshot
    policy: str
    ops_per_second: float  # the workload's operations finished over the last second
    workload_errors: int
    claimed: int  # writes of other instances this one took over


class EngineCollector(Collector):
    """A ``prometheus_client`` collector over the latest :class:`Reading`."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._lock = threading.Lock()
        self._reading: Reading | None = None

    def update(self, reading: Reading) -> None:
        with self._lock:
            self._reading = reading

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            reading = self._reading
        if reading is None:  # scraped before the engine started
            return
        labels = ["instance", "policy"]
        values = [self.instance, reading.policy]
        snap = reading.snapshot
        for name, doc, field in COUNTERS:
            counter = CounterMetricFamily(f"cachetui_{name}", doc, labels=labels)
            counter.add_metric(values, float(getattr(snap, field)))
            yield counter
        claims = CounterMetricFamily(
            "cachetui_claimed_writes", "Writes of other instances taken over.", labels=labels
        )
        claims.add_metric(values, float(reading.claimed))
        yield claims
        errors = CounterMetricFamily(
            "cachetui_workload_errors", "Workload operations that failed.", labels=labels
        )
        errors.add_metric(values, float(reading.workload_errors))
        yield errors
        for name, doc, field in GAUGES:
            gauge = GaugeMetricFamily(f"cachetui_{name}", doc, labels=labels)
            gauge.add_metric(values, float(getattr(snap, field)))
            yield gauge
        rate = GaugeMetricFamily(
            "cachetui_ops_per_second",
            "Workload operations finished per second, over the last second.",
            labels=labels,
        )
        rate.add_metric(values, reading.ops_per_second)
        yield rate
        for op in ("read", "update"):
            latency = GaugeMetricFamily(
                f"cachetui_{op}_latency_seconds",
                f"{op.capitalize()} latency percentiles since the start.",
                labels=[*labels, "quantile"],
            )
            for quantile, suffix in QUANTILES:
                seconds = getattr(snap, f"{op}_{suffix}")
                if seconds is not None:
                    latency.add_metric([*values, quantile], seconds)
            yield latency


class MetricsServer:
    """``/metrics`` on ``host:port`` (OSError at :meth:`start` if it cannot bind)."""

    def __init__(self, instance: str, port: int, host: str = "127.0.0.1") -> None:
        self.collector = EngineCollector(instance)
        self.port = port
        self.host = host
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from prometheus_client import start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        self._server, self._thread = start_http_server(self.port, self.host, registry)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
