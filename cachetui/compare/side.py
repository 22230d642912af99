"""One half of the compare screen: a badge naming the policy (and queue), the side's
windowed metrics, compact Cache / Write queue / Database panes and its last outcome."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from cachetui.app.pane_contents import Look, compare_contents
from cachetui.app.states import Palette
from cachetui.app.widgets.panes import CachePane, DatabasePane, QueuePane
from cachetui.app.widgets.verdict_line import verdict_line
from cachetui.compare.mirror import Lane
from cachetui.engine import Engine, PaneSnapshot, WritePolicy
from cachetui.literal import literal, printable_text

PANE_ROWS = 40
DB_ROWS = 20


def side_label(engine: Engine, other: Engine) -> str:
    """The policy, and the queue too when both sides run the same policy."""
    if engine.policy is other.policy:
        return f"{engine.policy} ({engine.config.queue_url})"
    return str(engine.policy)


def badge_text(side: str, engine: Engine) -> str:
    """``A · write-behind · queue sqlite://`` (the queue only where it matters)."""
    text = f"{side} · {engine.policy}"
    if engine.policy is WritePolicy.WRITE_BEHIND:
        text += f" · queue {engine.config.queue_url}"
    return text


def _us(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}s"
    if value >= 1000:
        return f"{value / 1000:.1f}ms"
    return f"{value:.0f}µs"


#: The metrics' labels, long and short: a line takes the short ones when the long ones
#: do not fit its width, and is cut with an ellipsis if even those do not.
LABELS = {
    "latency": ("p50/p99 update", "upd"),
    "read": ("read", "read"),
    "updates": ("updates", "upd"),
    "reads": ("reads", "reads"),
    "hit": ("hit ratio", "hit"),
    "writes": ("DB writes", "DB wr"),
    "tx": ("transactions", "tx"),
    "pending": ("pending", "pend"),
    "lost": ("lost", "lost"),
    "failed": ("failed", "fail"),
    "behind": ("behind", "behind"),
    "dropped": ("dropped", "drop"),
}


def metrics_text(
    engine: Engine,
    lane: Lane,
    palette: Palette,
    timings: bool,
    width: int = 0,
    snapshot: PaneSnapshot | None = None,
) -> Text:
    """Three lines over the last 5 s: latencies, the cache and the DB, the queue; each
    fitted to ``width`` cells (0: no limit). ``snapshot``: the side's pane snapshot, whose
    totals are shown (so that its pending count is the one its queue pane and the
    difference line show); the engine's totals now if not given."""
    window = engine.metrics_window().current
    m = engine.metrics if snapshot is None else snapshot.metrics
    lines: list[list[tuple[str, str, str]]] = [[], [], []]  # (label key, value, style)
    if timings:
        update = f"{_us(window.update_p50_us)}/{_us(window.update_p99_us)}"
        lines[0] += [("latency", update, "bold")]
        lines[0] += [("read", f"{_us(window.read_p50_us)}/{_us(window.read_p99_us)}", "bold")]
    else:
        lines[0] += [("updates", f"{window.updates:,}", "bold")]
        lines[0] += [("reads", f"{window.reads:,}", "bold")]
    ratio = "–" if window.hit_ratio is None else f"{window.hit_ratio:.0%}"
    lines[1] += [
        ("hit", ratio, "bold"),
        ("writes", f"{window.db_writes:,}", "bold"),
        ("tx", f"{window.db_transactions:,}", "bold"),
    ]
    failed = lane.stats.failed
    lines[2] += [
        ("pending", f"{m.pending:,}", f"bold {palette.pending}" if m.pending else "bold"),
        ("lost", f"{m.lost_writes:,}", f"bold {palette.bad}" if m.lost_writes else "bold"),
        ("failed", f"{failed:,}", f"bold {palette.bad}" if failed else "bold"),
    ]
    if lane.backlog or lane.stats.dropped:
        lines[2] += [("behind", f"{lane.backlog:,}", "bold")]
    if lane.stats.dropped:
        lines[2] += [("dropped", f"{lane.stats.dropped:,}", f"bold {palette.bad}")]

    def render(pairs: list[tuple[str, str, str]], form: int) -> Text:
        line = Text()
        for index, (key, value, style) in enumerate(pairs):
            if index:
                line.append("  ")
            line.append(f"{LABELS[key][form]} ")
            line.append(value, style=style)
        return line

    out = []
    for pairs in lines:
        line = render(pairs, 0)
        if width and line.cell_len > width:
            line = render(pairs, 1)
            line.truncate(width, overflow="ellipsis")
        out.append(line)
    return Text("\n").join(out)


class SidePanel(Vertical):
    """The widgets of one side; :meth:`repaint` reads its engine and redraws them."""

    def __init__(self, side: str, engine: Engine, lane: Lane, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.side = side
        self.engine = engine
        self.lane = lane
        self.outcome = ""
        self.total_rows = 0
        self._shown: tuple[Palette, bool] | None = None  # the metrics' last palette, timings
        #: What the side shows, from one call: its panes, its pending count and what the
        #: difference line says of it (writes at risk) come from this one snapshot (the
        #: sides repaint in turn, and a workload changes the queue between awaits).
        self.snapshot: PaneSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Static(literal(badge_text(self.side, self.engine)), classes="badge")
        yield Static("", classes="side-metrics")
        yield Static("", classes="verdict")
        with Horizontal(classes="side-panes"):
            yield CachePane(ttl=self.engine.config.ttl is not None, classes="cache")
            yield QueuePane(classes="queue")
            yield DatabasePane(classes="database")
        yield Static("", classes="outcome")

    def show_outcome(self, text: Text | str) -> None:
        """An outcome may quote a server's error: shown as it is, never as markup."""
        shown = printable_text(text) if isinstance(text, Text) else literal(text)
        self.query_one(".outcome", Static).update(shown)

    async def repaint(self, followed: int | None, palette: Palette, timings: bool) -> None:
        engine = self.engine
        if not engine.running:
            return
        snapshot = await engine.pane_snapshot(
            cache_limit=PANE_ROWS,
            pending_limit=PANE_ROWS,
            db_limit=DB_ROWS,
            users=() if followed is None else (followed,),
        )
        cache_pane = self.query_one(CachePane)
        contents = compare_contents(
            snapshot,
            Look(followed, timings, palette, cache_pane.show_ttl),
            listed=PANE_ROWS,
            db_rows=DB_ROWS,
            total_rows=self.total_rows,
        )
        cache_pane.show(contents.cache)
        self.query_one(QueuePane).show(contents.queue)
        self.query_one(DatabasePane).show(contents.database)
        self.query_one(".badge", Static).update(literal(badge_text(self.side, engine)))
        self._shown = (palette, timings)
        self.snapshot = snapshot
        self._show_metrics()
        # this side's verdict (judged incrementally: the records since the last repaint)
        line = verdict_line(engine.verdicts(), engine.policy.value, self.size.width - 2, palette)
        self.query_one(".verdict", Static).update(line)

    def _show_metrics(self) -> None:
        if self._shown is None or not self.engine.running:
            return
        palette, timings = self._shown
        width = max(0, self.size.width - 2)
        self.query_one(".side-metrics", Static).update(
            metrics_text(self.engine, self.lane, palette, timings, width, self.snapshot)
        )

    def on_resize(self, event: events.Resize) -> None:
        """A narrower half (a panel opened beside it): the metrics refit at once."""
        self._show_metrics()
