"""The keys of a link (``--db-rtt`` / ``--cache-rtt``, docs/link.md), when one is present:
``l`` cycles the link's RTT live, ``o`` cycles off → DB outage → link blackhole → link
reset → off. Without a link, ``l`` and ``o`` keep their in-engine meaning (DB latency, DB
outage: :mod:`~cachetui.app.faults_workload`): each key has two bindings, and
:meth:`LinkKeys.allows` leaves exactly one of them active.

:class:`LinkKeys` is one of the dashboard's knobs: the app's actions for these keys call
it. Every press says what it did in the Events pane (a ``fault`` line) and in a
notification.
"""

from __future__ import annotations

import asyncio

from cachetui.app.dashboard import Dashboard
from cachetui.app.keys.records import link_stand_ins
from cachetui.app.keys.table import KEYS
from cachetui.app.states import duration
from cachetui.engine.lab.link import Link, LinkError, Partition

#: The RTTs ``l`` cycles through after the link's RTT at start: a LAN, a region away,
#: another continent, and back to a rack (0.3 ms).
LINK_RTTS = (0.01, 0.05, 0.0003)
#: ``o`` with a link: the states in the order it cycles them.
OFF, DB_OUTAGE, BLACKHOLE, RESET = "off", "DB outage", "link blackhole", "link reset"
FAULT_CYCLE = (OFF, DB_OUTAGE, BLACKHOLE, RESET)
#: The actions that only exist with a link, and the ones they stand in for (the key
#: table's: {"link_rtt": "latency", "link_fault": "outage"}).
LINK_ACTIONS = link_stand_ins(KEYS)


def rtt_cycle(start: float) -> tuple[float, ...]:
    """What ``l`` cycles through: the link's RTT at start, then :data:`LINK_RTTS` (each
    once)."""
    return (start, *(rtt for rtt in LINK_RTTS if rtt != start))


def next_rtt(start: float, current: float) -> float:
    """The RTT after ``current`` in :func:`rtt_cycle` (an RTT set elsewhere, say by a
    scenario: back to the start value)."""
    cycle = rtt_cycle(start)
    if current not in cycle:
        return start
    return cycle[(cycle.index(current) + 1) % len(cycle)]


def where(link: Link) -> str:
    host, port = link.target
    return f"{host}:{port}"


class LinkKeys:
    """``l`` and ``o`` on the link of ``dashboard``'s engine, when it has one."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        self._start_rtt: float | None = None  # the link's RTT when l was first pressed

    def allows(self, action: str) -> bool | None:
        """With a link, ``l`` and ``o`` act on it; without one, on the engine's faults.
        None: ``action`` is none of theirs."""
        linked = self._dashboard.engine.link is not None
        if action in LINK_ACTIONS:
            return linked
        if action in LINK_ACTIONS.values() and linked:
            return False
        return None

    def fault_state(self) -> str:
        """Where ``o`` is in :data:`FAULT_CYCLE`, read from the engine (a scenario or a
        script may have changed it): a partition first, then the DB outage."""
        engine = self._dashboard.engine
        link = engine.link
        partition = link.partition if link is not None else None
        if partition == "reset":
            return RESET
        if partition == "blackhole":
            return BLACKHOLE
        return DB_OUTAGE if engine.faults.db_down else OFF

    async def cycle_rtt(self) -> None:
        """l: the link's next RTT in :func:`rtt_cycle`."""
        dashboard = self._dashboard
        link = dashboard.engine.link
        if link is None:
            return
        if self._start_rtt is None:
            self._start_rtt = link.rtt
        before = link.rtt
        rtt = next_rtt(self._start_rtt, before)
        try:
            await asyncio.to_thread(setattr, link, "rtt", rtt)
        except LinkError as exc:
            dashboard.notify(str(exc), title="Link", severity="error")
            return
        dashboard.narrate(
            f"link to {where(link)}: RTT {duration(before)} → {duration(rtt)} (l; the "
            "header shows it measured within a second)"
        )
        dashboard.notify_setting(f"link RTT {duration(rtt)} (was {duration(before)})")
        dashboard.show_status()

    async def cycle_fault(self) -> None:
        """o: the next state in :data:`FAULT_CYCLE`."""
        dashboard = self._dashboard
        link = dashboard.engine.link
        if link is None:
            return
        state = self.fault_state()
        after = FAULT_CYCLE[(FAULT_CYCLE.index(state) + 1) % len(FAULT_CYCLE)]
        faults = dashboard.engine.faults
        partitions: dict[str, Partition] = {BLACKHOLE: "blackhole", RESET: "reset"}
        partition = partitions.get(after)
        try:
            faults.db_down = after == DB_OUTAGE
            if link.partition != partition:
                await asyncio.to_thread(setattr, link, "partition", partition)
        except LinkError as exc:
            dashboard.notify(str(exc), title="Link", severity="error")
            return
        server = where(link)
        said = {
            DB_OUTAGE: "DB outage: every database call fails at once (in the engine)",
            BLACKHOLE: f"link blackhole: every byte to and from {server} is held; calls "
            "wait for their timeout, then fail",
            RESET: f"link reset: connections to {server} are reset, new ones refused",
            OFF: f"faults off: the database answers, the link to {server} carries again",
        }[after]
        following = FAULT_CYCLE[(FAULT_CYCLE.index(after) + 1) % len(FAULT_CYCLE)]
        dashboard.narrate(f"{said} (o; next: {following})")
        if after == OFF:
            dashboard.notify(said, title="Faults OFF")
        else:
            dashboard.notify(said, title=f"{after.upper()} ON", severity="error")
        dashboard.show_status()
