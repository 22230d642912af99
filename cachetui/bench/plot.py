"""A sweep of ``cachetui bench --sweep`` drawn as PNG or SVG (matplotlib, Agg backend),
large enough to read when projected.

For ``flush-interval``: DB writes/s and transactions/s against the unflushed window (the
longest an acknowledged write waited before it landed), with the update p99 below: the
write-behind trade between consistency and database load. For the other knobs: the
metrics that knob moves, one panel each, against the knob.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXTENSIONS = (".png", ".svg")
INSTALL = "pip install 'cachetui[plot]'"

Row = dict[str, Any]


class PlotError(Exception):
    """The plot cannot be written (the message names the path and the problem)."""


def check_path(text: str) -> Path:
    """The path ``--plot`` names, if a PNG or SVG can be written there. Raises PlotError
    for another extension, a missing or unwritable folder, or a folder in the way."""
    path = Path(text).expanduser()
    if path.suffix.lower() not in EXTENSIONS:
        raise PlotError(f"--plot {text}: the file name must end in .png or .svg")
    folder = path.parent
    if not folder.is_dir():
        raise PlotError(f"--plot {text}: no such folder {str(folder)!r}")
    if path.is_dir():
        raise PlotError(f"--plot {text}: is a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise PlotError(f"--plot {text}: the file is not writable")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlotError(f"--plot {text}: cannot write in {str(folder)!r}")
    return path


def require_matplotlib() -> None:
    """Raises PlotError naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotError(f"--plot needs matplotlib: {INSTALL}") from None


@dataclass(frozen=True, slots=True)
class Metric:
    label: str
    value: Callable[[Row], float | None]


@dataclass(frozen=True, slots=True)
class Panel:
    axis: str  # the y axis label, with its unit
    metrics: tuple[Metric, ...]
    write_behind_only: bool = False  # the other policies have nothing to show here


def _per_second(field: str) -> Callable[[Row], float | None]:
    return lambda r: r[field] / r["seconds"] if r["seconds"] else None


DB_LOAD = Panel(
    "database load (per second)",
    (
        Metric("DB writes/s", _per_second("db_writes")),
        Metric("DB transactions/s", _per_second("db_transactions")),
    ),
)
UPDATE_P99 = Panel("update p99 (µs)", (Metric("update p99", lambda r: r["update_p99_us"]),))
UPDATES = Panel(
    "update latency (µs)",
    (
        Metric("update p50", lambda r: r["update_p50_us"]),
        Metric("update p99", lambda r: r["update_p99_us"]),
    ),
)
READS = Panel(
    "read latency (µs)",
    (
        Metric("read p50", lambda r: r["read_p50_us"]),
        Metric("read p99", lambda r: r["read_p99_us"]),
    ),
)
HITS = Panel("hit ratio (%)", (Metric("hit ratio", lambda r: 100 * r["hit_ratio"]),))
DB_READS = Panel("DB reads/s", (Metric("DB reads/s", _per_second("db_reads")),))
WAIT = Panel(
    "unflushed window (ms)",
    (Metric("longest wait", lambda r: r["max_queue_wait_ms"]),),
    write_behind_only=True,
)
PEAK = Panel(
    "peak pending writes",
    (Metric("peak pending", lambda r: r["peak_pending"]),),
    write_behind_only=True,
)

#: The metrics each knob moves, top to bottom.
PANELS: dict[str, tuple[Panel, ...]] = {
    "flush-interval": (DB_LOAD, UPDATES),
    "batch-size": (DB_LOAD, WAIT, UPDATE_P99),
    "max-pending": (UPDATE_P99, PEAK, DB_LOAD),
    "capacity": (HITS, DB_READS, READS),
    "zipf": (HITS, DB_READS, DB_LOAD),
    "read-ratio": (DB_LOAD, DB_READS, HITS),
}

COLOURS = {
    "write-through": "#1f77b4",
    "write-behind": "#d62728",
    "write-around": "#2ca02c",
    "no-cache": "#7f7f7f",
}
STYLES = ("-", "--", ":")
MARKERS = ("o", "s", "^")
FONTS: Any = {  # matplotlib rcParams (its stubs want literal keys)
    "font.size": 17,
    "axes.titlesize": 19,
    "axes.labelsize": 18,
    "xtick.labelsize": 16,
    "ytick.labelsize": 16,
    "legend.fontsize": 15,
    "figure.titlesize": 22,
    "lines.linewidth": 3,
    "lines.markersize": 9,
}


def draw_sweep(
    rows: list[Row], *, knob: str, knob_label: str, title: str, workload: str, path: Path
) -> None:
    """Write the sweep's figure to ``path`` (PNG or SVG, by its extension).

    ``rows`` are ``bench --sweep`` rows (``value``, ``policy`` and the metrics); ``title``
    names the sweep, ``workload`` the traffic and the settings held still."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = PANELS[knob]
    several = len({row["policy"] for row in rows}) > 1
    with matplotlib.rc_context(FONTS):
        figure, axes = pyplot.subplots(
            len(panels),
            1,
            figsize=(16 if several else 13, 2.2 + 3.6 * len(panels)),
            sharex=True,
            squeeze=False,
            layout="constrained",
        )
        column = [ax for (ax,) in axes]
        if knob == "flush-interval":
            x_label = "unflushed window: the longest an acknowledged write waited (s)"
            _draw_window(column[0], column[1], rows)
        else:
            x_label = knob_label
            for ax, panel in zip(column, panels, strict=True):
                _draw_panel(ax, panel, rows, knob)
        for index, (ax, panel) in enumerate(zip(column, panels, strict=True)):
            if ax.get_yscale() == "linear":
                # from 0: a 10 % wobble must not look like a cliff
                ax.set_ylim(0, ax.get_ylim()[1] * 1.1)
            ax.margins(x=0.08)
            _readable_ticks(ax)
            # a legend where it tells something: the metrics' line styles, or (once, on
            # the top panel) the policies' colours
            if len(ax.get_legend_handles_labels()[0]) > 1 and (
                index == 0 or len(panel.metrics) > 1
            ):
                if several:  # a long legend: beside the plot, not over it
                    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
                else:
                    ax.legend(loc="best")
        column[-1].set_xlabel(x_label)
        figure.suptitle(
            title, x=0.01, ha="left", fontsize=FONTS["figure.titlesize"], fontweight="bold"
        )
        column[0].set_title("\n".join(textwrap.wrap(workload, 90)), loc="left", fontsize=16, pad=12)
        figure.align_ylabels(column)
        kind = path.suffix.lower().lstrip(".")
        figure.savefig(path, format=kind, dpi=100, metadata=_metadata(kind))
        pyplot.close(figure)


def _readable_ticks(ax: Any) -> None:
    """Ticks labelled 0.01, 0.1, 1, 1,000 (not 10⁻², 10³, 1000)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis, scale, limits in (
        (ax.xaxis, ax.get_xscale(), ax.get_xlim()),
        (ax.yaxis, ax.get_yscale(), ax.get_ylim()),
    ):
        if scale == "log":
            if limits[1] / limits[0] < 1000:  # a few decades: label 1, 2, 5, 10, 20, 50…
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_minor_formatter(NullFormatter())
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))


def _metadata(kind: str) -> dict[str, Any]:
    # No creation date: the same sweep draws the same file.
    return {"Date": None} if kind == "svg" else {}


def _by_policy(rows: list[Row]) -> dict[str, list[Row]]:
    policies: dict[str, list[Row]] = {}
    for row in rows:
        policies.setdefault(row["policy"], []).append(row)
    return {p: sorted(rs, key=lambda r: r["value"]) for p, rs in policies.items()}


def _draw_panel(ax: Any, panel: Panel, rows: list[Row], knob: str) -> None:
    policies = _by_policy(rows)
    several = len(policies) > 1
    scale = 100 if knob == "read-ratio" else 1  # drawn as a percentage
    xs_drawn: list[float] = []
    ys_drawn: list[float] = []
    for policy, series in policies.items():
        if panel.write_behind_only and policy != "write-behind":
            continue
        for i, metric in enumerate(panel.metrics):
            points = [(r["value"] * scale, metric.value(r)) for r in series]
            xs = [x for x, y in points if y is not None]
            ys = [y for _, y in points if y is not None]
            if not xs:
                continue
            if len(panel.metrics) == 1:
                label = policy
            else:
                label = f"{policy}: {metric.label}" if several else metric.label
            ax.plot(
                xs,
                ys,
                STYLES[i % len(STYLES)],
                marker=MARKERS[i % len(MARKERS)],
                color=COLOURS.get(policy),
                label=label,
            )
            xs_drawn += xs
            ys_drawn += ys
    ax.set_ylabel(panel.axis)
    _log_if_wide(ax.set_xscale, xs_drawn)
    _log_if_wide(ax.set_yscale, ys_drawn)
    ax.grid(True, which="both", alpha=0.3)


def _draw_window(load: Any, latency: Any, rows: list[Row]) -> None:
    """Write-behind's flush intervals as points (window, load) labelled with the interval;
    any other policy (no unflushed window) as a dashed reference line."""
    policies = _by_policy(rows)
    behind = policies.pop("write-behind", [])
    xs = [r["max_queue_wait_ms"] / 1000 for r in behind]
    loads: list[float] = []
    for i, metric in enumerate(DB_LOAD.metrics):
        ys = [metric.value(r) or 0.0 for r in behind]
        loads += ys
        load.plot(
            xs,
            ys,
            STYLES[i],
            marker=MARKERS[i],
            color=COLOURS["write-behind"] if i == 0 else "#ff7f0e",
            label=f"write-behind: {metric.label}",
        )
    for i, (x, r) in enumerate(zip(xs, behind, strict=True)):
        load.annotate(
            f"every {r['value']:g} s",
            (x, DB_LOAD.metrics[0].value(r) or 0.0),
            textcoords="offset points",
            xytext=(0, -14 - 22 * (i % 2)),  # staggered: neighbours may sit close
            ha="center",
            va="top",
            fontsize=14,
        )
    latencies: list[float] = []
    p50, p99 = UPDATES.metrics
    for metric, style, marker, colour in (
        (p99, "-", "o", COLOURS["write-behind"]),
        (p50, "--", "s", "#ff7f0e"),
    ):
        points = [(x, metric.value(r)) for x, r in zip(xs, behind, strict=True)]
        ys = [y for _, y in points if y is not None]
        latencies += ys
        latency.plot(
            [x for x, y in points if y is not None],
            ys,
            style,
            marker=marker,
            color=colour,
            label=f"write-behind: {metric.label}",
        )
    for policy, series in policies.items():  # no unflushed window: a reference line
        reference = COLOURS.get(policy)
        for i, metric in enumerate((*DB_LOAD.metrics, p99)):
            values = [v for v in map(metric.value, series) if v is not None]
            if not values:
                continue
            mean = sum(values) / len(values)
            (latencies if metric is p99 else loads).append(mean)
            (latency if metric is p99 else load).axhline(
                mean,
                linestyle=STYLES[i % 2],
                linewidth=2,
                color=reference,
                label=f"{policy}: {metric.label}",
            )
    load.set_ylabel(DB_LOAD.axis)
    latency.set_ylabel(UPDATES.axis)
    _log_if_wide(load.set_xscale, xs)
    _log_if_wide(load.set_yscale, loads)
    _log_if_wide(latency.set_yscale, latencies)
    for ax in (load, latency):
        ax.grid(True, which="both", alpha=0.3)


def _log_if_wide(set_scale: Callable[[str], Any], values: list[float]) -> None:
    """A log scale when the values span 10× or more and are all positive."""
    if values and min(values) > 0 and max(values) / min(values) >= 10:
        set_scale("log")
