"""The lab's knobs: faults (DB outage, cache outage, DB latency) and the background
workload (start/stop, rate, read/write mix, key skew). Keys o O l w + - m k.

:class:`FaultsAndWorkload` is one of the dashboard's knobs: the app's actions for
these keys call it. The workload itself is the session's (made when the lab opens,
stopped at the quit).
"""

from __future__ import annotations

from cachetui.app.dashboard import Dashboard
from cachetui.engine.lab.workload import Workload
from cachetui.engine.words import plural

LATENCIES = (0.0, 0.01, 0.1, 1.0)
READ_RATIOS = (0.8, 0.5, 0.95, 0.2)
SKEWS = (1.1, 0.0, 0.8, 1.5)


class FaultsAndWorkload:
    """The faults and the workload of ``dashboard``'s lab; each change is said in a
    notification and shown in the header."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        self._latency_index = 0  # where l is in LATENCIES

    # -- faults ----------------------------------------------------------------------------
    def toggle_outage(self) -> None:
        """o: every database call fails, or the database answers again."""
        faults = self._dashboard.engine.faults
        faults.db_down = not faults.db_down
        if faults.db_down:
            self._dashboard.notify(
                "every database call now fails", title="DB outage ON", severity="error"
            )
        else:
            self._dashboard.notify("the database answers again", title="DB outage OFF")
        self._dashboard.show_status()

    def toggle_cache_outage(self) -> None:
        """O: the cache is down, or answers again."""
        faults = self._dashboard.engine.faults
        faults.cache_down = not faults.cache_down
        if faults.cache_down:
            self._dashboard.notify(
                "reads go to the database; entries written meanwhile are dropped when it is back",
                title="Cache outage ON",
                severity="error",
            )
        else:
            self._dashboard.notify("the cache answers again", title="Cache outage OFF")
        self._dashboard.show_status()

    def next_latency(self) -> None:
        """l: the database's latency per call, cycling through LATENCIES."""
        self._latency_index = (self._latency_index + 1) % len(LATENCIES)
        latency = LATENCIES[self._latency_index]
        self._dashboard.engine.faults.db_latency = latency
        self._dashboard.notify_setting(f"DB latency {latency * 1000:g} ms per call")
        self._dashboard.show_status()

    # -- workload --------------------------------------------------------------------------
    async def toggle_workload(self) -> None:
        """w: start or stop the background workload."""
        workload = self._dashboard.workload
        assert workload is not None
        if workload.running:
            await workload.stop()
            stats = workload.stats
            self._dashboard.notify(
                f"workload stopped: {stats.reads:,} {plural(stats.reads, 'read')}, "
                f"{stats.updates:,} {plural(stats.updates, 'update')}, "
                f"{stats.errors:,} {plural(stats.errors, 'error')}"
            )
        else:
            workload.start()
            self._dashboard.workload_started()
            self._dashboard.notify(
                f"workload: {workload.rate:,} ops/s target, "
                f"{workload.read_ratio:.0%} reads, {skew_name(workload.skew)}"
            )
        self._dashboard.show_status()

    def step_rate(self, step: int) -> None:
        """+ and -: the workload's target rate, one of Workload.RATES up or down."""
        workload = self._dashboard.workload
        assert workload is not None
        rate = next_rate(workload.rate, step)
        workload.set_rate(rate)
        self._dashboard.notify_setting(
            f"workload rate {rate:,} ops/s" + ("" if workload.running else " (press w to start)")
        )
        self._dashboard.show_status()

    def next_mix(self) -> None:
        """m: the workload's share of reads, cycling through READ_RATIOS."""
        workload = self._dashboard.workload
        assert workload is not None
        ratio = next_in(READ_RATIOS, workload.read_ratio)
        workload.read_ratio = ratio
        self._dashboard.notify_setting(f"workload mix {ratio:.0%} reads / {1 - ratio:.0%} updates")
        self._dashboard.show_status()

    def next_skew(self) -> None:
        """k: how the workload picks its keys, cycling through SKEWS."""
        workload = self._dashboard.workload
        assert workload is not None
        skew = next_in(SKEWS, workload.skew)
        workload.set_skew(skew)
        self._dashboard.notify_setting(f"workload keys {skew_name(skew)}")
        self._dashboard.show_status()


def skew_name(skew: float) -> str:
    """How the workload picks its keys: ``uniform`` (s = 0) or ``zipf s=1.1``."""
    return "uniform" if skew == 0 else f"zipf s={skew:g}"


def next_rate(rate: int, step: int) -> int:
    """The rate of :attr:`Workload.RATES` ``step`` places from the one nearest ``rate``
    (+ and -), never past the ends."""
    rates = Workload.RATES
    index = min(range(len(rates)), key=lambda i: abs(rates[i] - rate))
    return rates[max(0, min(len(rates) - 1, index + step))]


def next_in(choices: tuple[float, ...], current: float) -> float:
    """The choice after ``current`` (cycling), or the first if it is not a choice: what
    l, m and k pick next (the dashboard's and compare's)."""
    if current not in choices:
        return choices[0]
    return choices[(choices.index(current) + 1) % len(choices)]
