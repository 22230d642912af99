"""The keys of a link (``--db-rtt`` / ``--cache-rtt``, docs/link.md), when one is present:
``l`` cycles the link's RTT live, ``o`` cycles off → DB outage → link blackhole → link
reset → off. Without a link, ``l`` and ``o`` keep their in-engine meaning (DB latency, DB
outage: :mod:`~cachetui.app.faults_workload`): each key has two bindings, and
:meth:`LinkKeys.check_action` leaves exactly one of them active.

:class:`LinkKeys` is mixed into :class:`~cachetui.app.app.CacheTuiApp`. Every press says
what it did in the Events pane (a ``fault`` line) and in a notification.
"""

from __future__ import annotations

import asyncio
import time

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.app.keys.records import link_stand_ins
from cachetui.app.keys.table import KEYS
from cachetui.app.states import duration
from cachetui.engine import Event, EventKind
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


class LinkKeys(AppPart):
    _link_start_rtt: float | None = None  # the link's RTT when l was first pressed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With a link, ``l`` and ``o`` act on it; without one, on the engine's faults."""
        linked = self.engine.link is not None
        if action in LINK_ACTIONS:
            return linked
        if action in LINK_ACTIONS.values() and linked:
            return False
        return super().check_action(action, parameters)

    def fault_state(self) -> str:
        """Where ``o`` is in :data:`FAULT_CYCLE`, read from the engine (a scenario or a
        script may have changed it): a partition first, then the DB outage."""
        link = self.engine.link
        partition = link.partition if link is not None else None
        if partition == "reset":
            return RESET
        if partition == "blackhole":
            return BLACKHOLE
        return DB_OUTAGE if self.engine.faults.db_down else OFF

    @in_order
    async def action_link_rtt(self) -> None:
        link = self.engine.link
        if link is None:
            return
        if self._link_start_rtt is None:
            self._link_start_rtt = link.rtt
        before = link.rtt
        rtt = next_rtt(self._link_start_rtt, before)
        try:
            await asyncio.to_thread(setattr, link, "rtt", rtt)
        except LinkError as exc:
            self.notify(str(exc), title="Link", severity="error")
            return
        self.narrate(
            f"link to {where(link)}: RTT {duration(before)} → {duration(rtt)} (l; the "
            "header shows it measured within a second)"
        )
        self._notify_setting(f"link RTT {duration(rtt)} (was {duration(before)})")
        self._show_status()

    @in_order
    async def action_link_fault(self) -> None:
        link = self.engine.link
        if link is None:
            return
        state = self.fault_state()
        after = FAULT_CYCLE[(FAULT_CYCLE.index(state) + 1) % len(FAULT_CYCLE)]
        faults = self.engine.faults
        partitions: dict[str, Partition] = {BLACKHOLE: "blackhole", RESET: "reset"}
        partition = partitions.get(after)
        try:
            faults.db_down = after == DB_OUTAGE
            if link.partition != partition:
                await asyncio.to_thread(setattr, link, "partition", partition)
        except LinkError as exc:
            self.notify(str(exc), title="Link", severity="error")
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
        self.narrate(f"{said} (o; next: {following})")
        if after == OFF:
            self.notify(said, title="Faults OFF")
        else:
            self.notify(said, title=f"{after.upper()} ON", severity="error")
        self._show_status()

    def narrate(self, text: str) -> None:
        """A line in the Events pane saying what a key did (the engine has no event for a
        link's change), shown at the next repaint."""
        self._on_event(Event(0, EventKind.FAULT, None, None, None, time.perf_counter(), text))
