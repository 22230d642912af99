"""Live metrics: rates, hit ratio and latency over the engine's 5 s window beside the
totals since start (or the last reset, M), a per-policy breakdown, and three sparklines.

The numbers are laid out to fit: all of them in five columns when the strip is wide and
four lines high, fewer (the ones a talk needs most) when it is narrower or lower. The
windowed numbers (``engine.metrics_window()``) come first; the border's subtitle sets the
policies side by side ("update p50 5s: write-through 520µs · write-behind 6µs")."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline, Static

from cachetui.app.states import DARK, Palette, ago, compact, duration
from cachetui.app.widgets.verdict_line import verdict_line
from cachetui.engine import MetricsSnapshot, MetricsWindow, Verdicts, WindowStats

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
    MetricsStrip > #numbers { width: 1fr; height: 1fr; padding: 0 1; }
    MetricsStrip > #sparks { width: 52; padding: 0 1; }
    MetricsStrip .spark-row { height: 1; }
    MetricsStrip .spark-row Label { width: 14; }
    MetricsStrip Sparkline { width: 1fr; height: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[MetricsSnapshot, Rates, bool, Palette, MetricsWindow | None] | None = (
            None
        )
        self.ops_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self.hit_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self.queue_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self._labels: dict[str, str] = {}  # what each sparkline's label shows
        self._undrawn: set[str] = set()  # sparklines with points kept but not drawn yet

    def compose(self) -> ComposeResult:
        yield Static(id="numbers")
        with Vertical(id="sparks"):
            with Horizontal(classes="spark-row", id="ops-row"):
                yield Label("ops/s", id="ops-label")
                yield Sparkline(list(self.ops_history), id="ops-spark")
            with Horizontal(classes="spark-row", id="hit-row"):
                yield Label("hit %", id="hit-label")
                yield Sparkline(list(self.hit_history), id="hit-spark")
            with Horizontal(classes="spark-row", id="queue-row"):
                yield Label("queue", id="queue-label")
                yield Sparkline(list(self.queue_history), id="queue-spark")

    def show(
        self,
        m: MetricsSnapshot,
        rates: Rates,
        *,
        timings: bool = True,
        palette: Palette = DARK,
        window: MetricsWindow | None = None,
    ) -> None:
        """``rates``: over the last second (shown when there is no ``window``, or when
        ``timings`` is off: the window's numbers depend on the time they are read at)."""
        self._shown = (m, rates, timings, palette, window)
        found = self.query("#numbers").results(Static)
        numbers = next(found, None)
        if numbers is None:
            return  # not composed yet, or being removed: on_resize shows it
        width, height = numbers.size
        live = window if timings else None
        # its size is the strip's, whatever it shows: no layout of the screen
        numbers.update(_numbers(m, rates, timings, palette, width, height, live), layout=False)
        self.border_subtitle = by_policy(live) if live is not None else ""

    def show_verdicts(self, verdicts: Verdicts, current: str, palette: Palette = DARK) -> None:
        """The title: "Metrics", then each policy's verdict (:mod:`.verdict_line`)."""
        room = max(0, self.size.width - 16)
        line = verdict_line(verdicts, current, room, palette)
        title = Text("Metrics", "bold")
        if line.cell_len:
            title.append("  ")
            title.append_text(line)
        if title.markup != self.border_title:
            self.border_title = title

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None:
            m, rates, timings, palette, window = self._shown
            self.call_after_refresh(
                self.show, m, rates, timings=timings, palette=palette, window=window
            )

    def sample(
        self, m: MetricsSnapshot, rates: Rates, window_hit_ratio: float, *, draw: bool = True
    ) -> None:
        """Add one point to each sparkline (called once a second); ``draw``: False keeps
        the points without drawing them (the next sample that draws shows them all)."""
        points = (
            (
                "ops",
                self.ops_history,
                rates.reads + rates.updates,
                f"ops/s {rates.reads + rates.updates:5.0f}",
            ),
            (
                "hit",
                self.hit_history,
                window_hit_ratio,
                # no reads in that second: no ratio to show
                f"hit % {window_hit_ratio:6.0%}" if rates.reads else f"hit % {'–':>6}",
            ),
            ("queue", self.queue_history, float(m.pending), f"queue {m.pending:5d}"),
        )
        for name, history, value, label in points:
            if draw and self._labels.get(name) != label:
                self._labels[name] = label
                # 14 cells wide whatever it says (the CSS): no layout of the screen
                self.query_one(f"#{name}-label", Label).update(label, layout=False)
            if all(v == value for v in history) and name not in self._undrawn:
                continue  # a flat line stays a flat line: no repaint
            history.append(value)
            if not draw:
                self._undrawn.add(name)
                continue
            self._undrawn.discard(name)
            self.query_one(f"#{name}-spark", Sparkline).data = list(history)


#: Layouts of the numbers, richest first: (lines, the pairs per column). The first whose
#: lines and columns fit is shown; four lines by four columns is all of them: a column per
#: kind (rates, the queue, totals, latencies), a line per subject (reads, updates, …).
LAYOUTS: tuple[tuple[int, tuple[tuple[str, ...], ...]], ...] = (
    (
        4,
        (
            ("reads/s", "updates/s", "DB writes/s", "DB tx/s"),
            ("hit 5s", "hit ratio", "pending", "oldest pending"),
            ("read 5s", "update 5s", "read p50/99", "update p50/99"),
            ("reads", "updates acked", "DB writes", "lost writes"),
            ("coalesced", "evictions", "retries"),
        ),
    ),
    (
        4,
        (
            ("reads/s", "updates/s", "DB writes/s", "hit 5s"),
            ("hit ratio", "pending", "oldest pending", "coalesced"),
            ("read 5s", "update 5s", "read p50/99", "update p50/99"),
            ("reads", "updates acked", "DB writes", "lost writes"),
        ),
    ),
    (
        4,
        (
            ("reads/s", "updates/s", "DB writes/s", "hit 5s"),
            ("pending", "oldest pending", "coalesced", "lost writes"),
            ("read 5s", "update 5s", "read p50/99", "update p50/99"),
        ),
    ),
    (
        4,
        (
            ("reads/s", "updates/s", "DB writes/s", "DB tx/s"),
            ("hit ratio", "pending", "oldest pending", "coalesced"),
            ("reads", "updates acked", "evictions", "retries"),
            ("read p50/99", "update p50/99", "DB writes", "lost writes"),
        ),
    ),
    (
        4,
        (
            ("reads/s", "updates/s", "DB writes/s", "DB tx/s"),
            ("hit ratio", "pending", "oldest pending", "coalesced"),
            ("read p50/99", "update p50/99", "DB writes", "lost writes"),
        ),
    ),
    (
        4,
        (
            ("reads/s", "hit ratio", "updates/s", "pending"),
            ("DB writes", "coalesced", "oldest pending", "lost writes"),
        ),
    ),
    (4, (("hit ratio", "pending", "DB writes", "lost writes"),)),
    (
        2,
        (
            ("hit ratio", "reads/s"),
            ("pending", "updates/s"),
            ("DB writes", "coalesced"),
            ("oldest pending", "lost writes"),
        ),
    ),
    (2, (("hit ratio", "reads/s"), ("pending", "updates/s"), ("DB writes", "lost writes"))),
    (2, (("hit ratio", "pending"), ("DB writes", "lost writes"))),
    (
        1,
        (
            ("hit ratio",),
            ("pending",),
            ("DB writes",),
            ("coalesced",),
            ("lost writes",),
            ("oldest pending",),
        ),
    ),
    (1, (("hit ratio",), ("pending",), ("DB writes",), ("lost writes",))),
    (1, (("hit ratio",), ("pending",), ("DB writes",))),
    (1, (("hit ratio",), ("pending",))),
    (2, (("hit ratio", "pending"),)),  # narrower than all of these (60×15): one column
)
#: The room each value gets (cells): a column is as wide as its widest label plus room, so
#: columns stay put while numbers grow; a value wider still widens its column (or picks a
#: smaller layout), never gets cut.
ROOM: dict[str, int] = {
    "reads/s": 6,  # 99,999
    "updates/s": 6,
    "DB writes/s": 6,
    "DB tx/s": 6,
    "hit ratio": 6,  # 100.0%
    "hit 5s": 6,
    "read 5s": 17,
    "update 5s": 17,
    "pending": 6,  # 10,000
    "oldest pending": 5,  # 4m05s
    "coalesced": 7,
    "reads": 9,  # 9,999,999
    "updates acked": 9,
    "evictions": 9,
    "retries": 6,
    "lost writes": 6,
    "read p50/99": 17,  # 999.9ms / 999.9ms
    "update p50/99": 17,
    "DB writes": 18,  # 99,999 in 9,999 tx
}
GAP = 2
Layout = tuple[int, tuple[tuple[str, ...], ...], tuple[int, ...]]


def choose_layout(width: int, height: int, shown: dict[str, int] | None = None) -> Layout:
    """The richest layout that fits ``width`` × ``height`` cells, with its column widths
    (all of it when the size is not known yet; when nothing fits, the smallest with its
    last columns dropped until it fits: a number is left out whole, never cut short).
    ``shown``: each pair's width now (label and value), where wider than its room."""
    shown = shown or {}

    def widths_of(columns: tuple[tuple[str, ...], ...]) -> tuple[int, ...]:
        return tuple(
            max(max(len(name) + 1 + ROOM[name], shown.get(name, 0)) for name in column)
            for column in columns
        )

    for lines, columns in LAYOUTS:
        widths = widths_of(columns)
        if width <= 0 or height <= 0:
            return lines, columns, widths
        if lines <= height and sum(widths) + GAP * (len(widths) - 1) <= width:
            return lines, columns, widths
    lines, columns = [(n, c) for n, c in LAYOUTS if n <= height][-1]
    widths = widths_of(columns)
    while len(columns) > 1 and sum(widths) + GAP * (len(widths) - 1) > width:
        columns, widths = columns[:-1], widths[:-1]
    return lines, columns, widths


def _numbers(
    m: MetricsSnapshot,
    r: Rates,
    timings: bool,
    palette: Palette = DARK,
    width: int = 0,
    height: int = 0,
    live: MetricsWindow | None = None,
) -> Table:
    """The numbers: the rates, ``hit 5s``, ``read 5s`` and ``update 5s`` from ``live``
    (rates over the whole window, latencies of the current policy's window; "–" without
    a window), the rest since start or the last reset."""

    def pair(label: str, value: str, style: str = "bold") -> Text:
        return Text.assemble((label + " ", "dim"), (value, style))

    def lat(p50: float | None, p99: float | None) -> str:
        if not timings:
            return "–"
        return f"{duration(p50) or '–'} / {duration(p99) or '–'}"

    def alarm(count: int) -> str:
        return f"bold {palette.bad}" if count else "bold"

    def lat_us(p50: float | None, p99: float | None) -> str:
        return lat(None if p50 is None else p50 / 1e6, None if p99 is None else p99 / 1e6)

    if live is not None:
        w = live.overall
        r = Rates(w.reads_per_s, w.updates_per_s, w.db_writes_per_s, w.db_transactions_per_s)
        now = live.current
        hit_5s = "–" if w.hit_ratio is None else f"{w.hit_ratio:.1%}"
        read_5s = lat_us(now.read_p50_us, now.read_p99_us)
        update_5s = lat_us(now.update_p50_us, now.update_p99_us)
    else:
        hit_5s = read_5s = update_5s = "–"
    warn = f"bold {palette.pending}" if m.pending else "bold"
    window = ago(m.oldest_pending_age) if (m.pending and timings) else "–"
    pairs = {
        "reads/s": pair("reads/s", f"{r.reads:,.0f}"),
        "updates/s": pair("updates/s", f"{r.updates:,.0f}"),
        "DB writes/s": pair("DB writes/s", f"{r.db_writes:,.0f}"),
        "DB tx/s": pair("DB tx/s", f"{r.db_transactions:,.0f}"),
        "hit ratio": pair("hit ratio", f"{m.hit_ratio:.1%}"),
        "hit 5s": pair("hit 5s", hit_5s),
        "read 5s": pair("read 5s", read_5s),
        "update 5s": pair("update 5s", update_5s),
        "pending": pair("pending", f"{m.pending:,}", warn),
        "oldest pending": pair("oldest pending", window, warn),
        "coalesced": pair("coalesced", f"{m.coalesced:,}"),
        "reads": pair("reads", f"{m.reads:,}"),
        "updates acked": pair("updates acked", f"{m.updates:,}"),
        "evictions": pair("evictions", f"{m.evictions:,}"),
        "retries": pair("retries", f"{m.retries:,}", alarm(m.retries)),
        "read p50/99": pair("read p50/99", lat(m.read_p50, m.read_p99)),
        "update p50/99": pair("update p50/99", lat(m.update_p50, m.update_p99)),
        "DB writes": pair("DB writes", f"{m.db_writes:,} in {m.db_transactions:,} tx"),
        "lost writes": pair("lost writes", f"{m.lost_writes:,}", alarm(m.lost_writes)),
    }
    full = {name: text.cell_len for name, text in pairs.items()}
    lines, columns, widths = choose_layout(width, height, full)
    if (lines, columns) != choose_layout(width, height)[:2]:
        # a total outgrew its room and would push columns off: abbreviate the totals
        # wider than their room (87k in 18k tx), and only those
        counts = {
            "reads": (m.reads,),
            "updates acked": (m.updates,),
            "coalesced": (m.coalesced,),
            "evictions": (m.evictions,),
            "retries": (m.retries,),
            "DB writes": (m.db_writes, m.db_transactions),
        }
        for name, values in counts.items():
            if full[name] > len(name) + 1 + ROOM[name]:
                short = compact(values[0]) + (
                    f" in {compact(values[1])} tx" if name == "DB writes" else ""
                )
                style = pairs[name].spans[-1].style if pairs[name].spans else "bold"
                pairs[name] = pair(name, short, str(style))
        lines, columns, widths = choose_layout(
            width, height, {name: text.cell_len for name, text in pairs.items()}
        )
    # spare cells are shared in proportion to these widths, which change only when a
    # value outgrows its room: numbers change, columns stay put
    grid = Table.grid(padding=(0, GAP), expand=True)
    for column_width in widths:
        grid.add_column(no_wrap=True, min_width=column_width, overflow="ellipsis")
    for line in range(lines):
        grid.add_row(*(pairs[column[line]] if line < len(column) else "" for column in columns))
    return grid


def by_policy(window: MetricsWindow) -> str:
    """Each policy's update p50 over its last 5 s, side by side, the current one first
    ("update p50 5s: write-through 520µs · write-behind 6µs 3s ago"); "" when fewer than
    two policies have one (the numbers already show the current policy's)."""
    shown: list[str] = []
    stats: list[WindowStats] = sorted(
        window.by_policy.values(), key=lambda s: (s.policy is not window.policy, s.ended_ago)
    )
    for s in stats:
        if s.update_p50_us is None or s.policy is None:
            continue
        p50 = duration(s.update_p50_us / 1e6)
        ago = f" {s.ended_ago:.0f}s ago" if s.ended_ago >= 0.5 else ""
        shown.append(f"{s.policy.value} {p50}{ago}")
    if len(shown) < 2:
        return ""
    return "update p50 5s: " + " · ".join(shown)
