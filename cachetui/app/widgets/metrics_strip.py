"""Live metrics: rates over the last second, totals, latency, and three sparklines."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline, Static

from cachetui.app.states import ago, duration
from cachetui.engine import MetricsSnapshot

HISTORY = 60


@dataclass(frozen=True)
class Rates:
    reads: float = 0.0
    updates: float = 0.0
    db_writes: float = 0.0
    db_transactions: float = 0.0


def rates_between(before: MetricsSnapshot, after: MetricsSnapshot, seconds: float) -> Rates:
    if seconds <= 0:
        return Rates()
    return Rates(
        reads=(after.reads - before.reads) / seconds,
        updates=(after.updates - before.updates) / seconds,
        db_writes=(after.db_writes - before.db_writes) / seconds,
        db_transactions=(after.db_transactions - before.db_transactions) / seconds,
    )


class MetricsStrip(Horizontal):
    DEFAULT_CSS = """
    MetricsStrip { height: 6; }
    MetricsStrip > #numbers { width: 1fr; padding: 0 1; }
    MetricsStrip > #sparks { width: 52; padding: 0 1; }
    MetricsStrip .spark-row { height: 1; }
    MetricsStrip .spark-row Label { width: 14; }
    MetricsStrip Sparkline { width: 1fr; height: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ops_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self.hit_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self.queue_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Static(id="numbers")
        with Vertical(id="sparks"):
            with Horizontal(classes="spark-row"):
                yield Label("ops/s", id="ops-label")
                yield Sparkline(list(self.ops_history), id="ops-spark")
            with Horizontal(classes="spark-row"):
                yield Label("hits/s", id="hit-label")
                yield Sparkline(list(self.hit_history), id="hit-spark")
            with Horizontal(classes="spark-row"):
                yield Label("queue", id="queue-label")
                yield Sparkline(list(self.queue_history), id="queue-spark")

    def show(self, m: MetricsSnapshot, rates: Rates, *, timings: bool = True) -> None:
        self.query_one("#numbers", Static).update(_numbers(m, rates, timings))

    def sample(self, m: MetricsSnapshot, rates: Rates, window_hit_ratio: float) -> None:
        """Add one point to each sparkline (called once a second)."""
        points = (
            (
                "ops",
                self.ops_history,
                rates.reads + rates.updates,
                f"ops/s {rates.reads + rates.updates:5.0f}",
            ),
            ("hit", self.hit_history, window_hit_ratio, f"hits/s {window_hit_ratio:5.0%}"),
            ("queue", self.queue_history, float(m.pending), f"queue {m.pending:5d}"),
        )
        for name, history, value, label in points:
            if all(v == value for v in history):
                continue  # a flat line stays a flat line: no repaint
            history.append(value)
            self.query_one(f"#{name}-spark", Sparkline).data = list(history)
            self.query_one(f"#{name}-label", Label).update(label)


def _numbers(m: MetricsSnapshot, r: Rates, timings: bool) -> Table:
    grid = Table.grid(padding=(0, 2), expand=True)
    for width in (26, 27, 24, 18):  # fixed: numbers change, columns stay put
        grid.add_column(no_wrap=True, min_width=width)

    def pair(label: str, value: str, style: str = "bold") -> Text:
        return Text.assemble((label + " ", "dim"), (value, style))

    def lat(p50: float | None, p99: float | None) -> str:
        if not timings:
            return "–"
        return f"{duration(p50) or '–'} / {duration(p99) or '–'}"

    window = ago(m.oldest_pending_age) if (m.pending and timings) else "–"
    grid.add_row(
        pair("reads/s", f"{r.reads:,.0f}"),
        pair("updates/s", f"{r.updates:,.0f}"),
        pair("DB writes/s", f"{r.db_writes:,.0f}"),
        pair("DB tx/s", f"{r.db_transactions:,.0f}"),
    )
    grid.add_row(
        pair("hit ratio", f"{m.hit_ratio:.1%}"),
        pair("pending", f"{m.pending:,}", "bold dark_orange" if m.pending else "bold"),
        pair("oldest pending", window, "bold dark_orange" if m.pending else "bold"),
        pair("coalesced", f"{m.coalesced:,}"),
    )
    grid.add_row(
        pair("reads", f"{m.reads:,}"),
        pair("updates acked", f"{m.updates:,}"),
        pair("evictions", f"{m.evictions:,}"),
        pair("retries", f"{m.retries:,}", "bold red" if m.retries else "bold"),
    )
    grid.add_row(
        pair("read p50/99", lat(m.read_p50, m.read_p99)),
        pair("update p50/99", lat(m.update_p50, m.update_p99)),
        pair("DB writes", f"{m.db_writes:,} in {m.db_transactions:,} tx"),
        pair("lost writes", f"{m.lost_writes:,}", "bold red" if m.lost_writes else "bold"),
    )
    return grid
