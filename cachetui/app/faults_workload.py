"""The lab's knobs: faults (DB outage, cache outage, DB latency) and the background
workload (start/stop, rate, read/write mix, key skew). Keys o O l w + - m k.

:class:`FaultsAndWorkload` is mixed into :class:`~cachetui.app.app.CacheTuiApp`.
"""

from __future__ import annotations

import time

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.engine.lab.workload import Workload

LATENCIES = (0.0, 0.01, 0.1, 1.0)
READ_RATIOS = (0.8, 0.5, 0.95, 0.2)
SKEWS = (1.1, 0.0, 0.8, 1.5)
SETTING_TITLE = "Setting"


class FaultsAndWorkload(AppPart):
    def __init__(self) -> None:
        super().__init__()
        self._latency_index = 0

    # -- faults ----------------------------------------------------------------------------
    @in_order
    def action_outage(self) -> None:
        faults = self.engine.faults
        faults.db_down = not faults.db_down
        if faults.db_down:
            self.notify("every database call now fails", title="DB outage ON", severity="error")
        else:
            self.notify("the database answers again", title="DB outage OFF")
        self._show_status()

    @in_order
    def action_cache_outage(self) -> None:
        faults = self.engine.faults
        faults.cache_down = not faults.cache_down
        if faults.cache_down:
            self.notify(
                "reads go to the database; entries written meanwhile are dropped when it is back",
                title="Cache outage ON",
                severity="error",
            )
        else:
            self.notify("the cache answers again", title="Cache outage OFF")
        self._show_status()

    @in_order
    def action_latency(self) -> None:
        self._latency_index = (self._latency_index + 1) % len(LATENCIES)
        latency = LATENCIES[self._latency_index]
        self.engine.faults.db_latency = latency
        self._notify_setting(f"DB latency {latency * 1000:g} ms per call")
        self._show_status()

    # -- workload --------------------------------------------------------------------------
    @in_order
    async def action_workload(self) -> None:
        assert self.workload is not None
        if self.workload.running:
            await self.workload.stop()
            stats = self.workload.stats
            self.notify(
                f"workload stopped: {stats.reads:,} {'read' if stats.reads == 1 else 'reads'}, "
                f"{stats.updates:,} {'update' if stats.updates == 1 else 'updates'}, "
                f"{stats.errors:,} {'error' if stats.errors == 1 else 'errors'}"
            )
        else:
            self.workload.start()
            self._workload_rate = None  # measured from the next sample on
            self._workload_mark = (time.monotonic(), self._workload_done())
            self.notify(
                f"workload: {self.workload.rate:,} ops/s target, "
                f"{self.workload.read_ratio:.0%} reads, {skew_name(self.workload.skew)}"
            )
        self._show_status()

    @in_order
    def action_rate(self, step: int) -> None:
        workload = self.workload
        assert workload is not None
        rates = Workload.RATES
        index = min(range(len(rates)), key=lambda i: abs(rates[i] - workload.rate))
        index = max(0, min(len(rates) - 1, index + step))
        workload.set_rate(rates[index])
        self._notify_setting(
            f"workload rate {rates[index]:,} ops/s"
            + ("" if workload.running else " (press w to start)")
        )
        self._show_status()

    @in_order
    def action_mix(self) -> None:
        assert self.workload is not None
        ratio = _next_in(READ_RATIOS, self.workload.read_ratio)
        self.workload.read_ratio = ratio
        self._notify_setting(f"workload mix {ratio:.0%} reads / {1 - ratio:.0%} updates")
        self._show_status()

    @in_order
    def action_skew(self) -> None:
        assert self.workload is not None
        skew = _next_in(SKEWS, self.workload.skew)
        self.workload.set_skew(skew)
        self._notify_setting(f"workload keys {skew_name(skew)}")
        self._show_status()

    def _notify_setting(self, message: str) -> None:
        """A knob's new value: replaces the previous knob notice instead of stacking
        (pressing + twelve times shows one toast, not twelve)."""
        for notification in list(self._notifications):
            if notification.title == SETTING_TITLE:
                self._unnotify(notification, refresh=False)
        self.notify(message, title=SETTING_TITLE, timeout=3)


def skew_name(skew: float) -> str:
    """How the workload picks its keys: ``uniform`` (s = 0) or ``zipf s=1.1``."""
    return "uniform" if skew == 0 else f"zipf s={skew:g}"


def _next_in(choices: tuple[float, ...], current: float) -> float:
    """The choice after ``current`` (cycling), or the first if it is not a choice."""
    if current not in choices:
        return choices[0]
    return choices[(choices.index(current) + 1) % len(choices)]
