"""The compare screen's status line: the traffic both sides get, the user followed, and
the faults switched on (on both)."""

from __future__ import annotations

from rich.text import Text

from cachetui.app.faults_workload import skew_name
from cachetui.app.states import Palette
from cachetui.engine import Engine
from cachetui.engine.lab.workload import Workload


def status_line(
    side_a: Engine, workload: Workload | None, followed: int | None, palette: Palette
) -> Text:
    """The faults are switched on both sides alike: side A's are the ones named."""
    faults = side_a.faults
    on = []
    if faults.db_down:
        on.append("DB outage")
    if faults.cache_down:
        on.append("cache outage")
    if faults.db_error_rate:
        on.append(f"DB errors {faults.db_error_rate:.0%}")
    if faults.db_latency:
        on.append(f"DB latency {faults.db_latency * 1000:g} ms")
    if workload is None:
        load = ""
    elif workload.running:
        load = (
            f"workload {workload.rate:,} ops/s to both, {workload.read_ratio:.0%} reads, "
            f"{skew_name(workload.skew)}"
        )
    else:
        load = f"workload off (w: {workload.rate:,} ops/s)"
    shown = f"following user {followed}" if followed else ""
    parts = ["same operations to both sides", load, shown]
    text = Text(" · ".join(p for p in parts if p))
    if on:
        text.append("  ")
        text.append(" ".join(f"⚠ {f}" for f in on), style=f"bold {palette.bad}")
    return text
