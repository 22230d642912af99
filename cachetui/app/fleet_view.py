"""What the fleet pane (``F``) and the Write queue pane's owner column show, made from the
engine's fleet snapshots (``engine.fleet_status()``, ``engine.fleet_pending()``), and what
the dashboard has seen of the fleet between two of them (:class:`FleetWatch`): who died,
who took its partitions, and when its writes have all landed. No Textual here."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from cachetui.app.states import DARK, Palette
from cachetui.literal import literal, printable

if TYPE_CHECKING:  # importing the fleet's modules imports redis
    from cachetui.engine.fleet.status import FleetMember, FleetStatus, PendingEntry

#: What F shows without a fleet queue: how to start one.
NO_FLEET = (
    "Not in a fleet: start this dashboard and `cachetui worker` on one database with "
    "--queue redis://HOST:6379/0 (docs/fleet.md)"
)
#: At most this many pending entries are read to follow a dead instance's writes.
WATCH_LIMIT = 5000


def name_of(owner: str, names: Mapping[str, str]) -> str:
    """An instance's ``--name`` (its owner id if it never said one), printable."""
    return printable(names.get(owner) or owner or "–", newlines=False)


@dataclass(slots=True)
class Gone:
    """An instance seen dead: the partitions it held, and its writes still pending."""

    name: str
    partitions: list[int]
    waiting: int | None = None  # its acknowledged writes still in the queue (None: unread)
    most: int = 0  # the most seen waiting
    landed: bool = False  # all of them landed (said once)


@dataclass(slots=True)
class FleetWatch:
    """The fleet as the dashboard saw it at each look: :meth:`observe` says what changed
    (for the Events pane); :meth:`count` follows each dead instance's writes."""

    names: dict[str, str] = field(default_factory=dict)  # owner → name
    holders: dict[int, tuple[str, int]] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    gone: dict[str, Gone] = field(default_factory=dict)  # owner → what it left
    #: owner → the partitions it took from dead holders, each (partition, from owner)
    took: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def observe(self, status: FleetStatus) -> list[str]:
        """Take ``status`` in; the lines saying what happened since the last look."""
        said: list[str] = []
        for member in status.members:
            self.names[member.owner] = member.name
        live = {m.owner for m in status.members if m.live}
        for member in status.members:
            if not member.live and member.owner not in self.gone:
                held = sorted(k for k, (h, _) in self.holders.items() if h == member.owner)
                self.gone[member.owner] = Gone(member.name, held or list(member.partitions))
                age = "no heartbeat" if math.isinf(member.heartbeat_age) else "its heartbeat"
                said.append(
                    f"fleet: {name_of(member.owner, self.names)} is gone ({age} stopped): "
                    "its partitions are claimed by the live instances"
                )
        for k, (holder, epoch) in sorted(status.holders.items()):
            before = self.holders.get(k)
            if before is None or before[0] == holder or before[0] in live:
                continue
            self.took.setdefault(holder, []).append((k, before[0]))
            said.append(
                f"fleet: {name_of(holder, self.names)} claimed partition {k} from "
                f"{name_of(before[0], self.names)} (epoch {epoch})"
            )
        for owner in live:
            self.gone.pop(owner, None)  # back (a stopped process woke up)
        self.holders, self.live = dict(status.holders), live
        return said

    @property
    def following(self) -> bool:
        """True while a dead instance's writes are still to be counted landed."""
        return any(not g.landed for g in self.gone.values())

    def count(self, pending: Sequence[PendingEntry], complete: bool) -> list[str]:
        """Count each dead instance's writes in ``pending`` (``complete``: the whole
        queue was read); the lines saying that all of one's have landed."""
        waiting: dict[str, int] = {}
        for entry in pending:
            waiting[entry.acknowledged_by] = waiting.get(entry.acknowledged_by, 0) + 1
        said = []
        for owner, gone in self.gone.items():
            if gone.landed:
                continue
            gone.waiting = waiting.get(owner, 0)
            gone.most = max(gone.most, gone.waiting)
            if gone.waiting == 0 and complete:
                gone.landed = True
                if gone.most:
                    said.append(
                        f"fleet: every write {gone.name} acknowledged has landed "
                        f"({gone.most} claimed from the queue by the survivors)"
                    )
        return said


# -- the F pane ----------------------------------------------------------------------------
def _claimed(member: FleetMember, status: FleetStatus, watch: FleetWatch) -> str:
    """What ``member`` took from dead instances: ``p2 p5 ← a (40 writes)``."""
    if member.owner == status.me and status.claims:
        by_holder: dict[str, list[str]] = {}
        entries: dict[str, int] = {}
        for claim in status.claims:
            by_holder.setdefault(claim.holder, []).append(f"p{claim.partition}")
            entries[claim.holder] = entries.get(claim.holder, 0) + claim.entries
        return "; ".join(
            f"{' '.join(parts)} ← {name_of(holder, watch.names)} ({entries[holder]} writes)"
            for holder, parts in by_holder.items()
        )
    took = watch.took.get(member.owner, [])
    by_from: dict[str, list[str]] = {}
    for k, holder in took:
        by_from.setdefault(holder, []).append(f"p{k}")
    return "; ".join(
        f"{' '.join(parts)} ← {name_of(holder, watch.names)}" for holder, parts in by_from.items()
    )


def _state(member: FleetMember, watch: FleetWatch, palette: Palette) -> Text:
    """Live, dead (its partitions not yet taken), or claimed away (and its writes: how
    many are left to land, or all landed)."""
    if member.live:
        return Text("● live", style=palette.ok)
    gone = watch.gone.get(member.owner)
    if member.partitions or gone is None:
        return Text("✖ dead", style=f"bold {palette.bad}")
    if gone.landed:
        return Text("✖ claimed away: landed", style=palette.muted)
    left = f": {gone.waiting} to land" if gone.waiting else ""
    return Text(f"✖ claimed away{left}", style=f"bold {palette.pending}")


def fleet_table(
    status: FleetStatus,
    watch: FleetWatch,
    policy: str,
    *,
    timings: bool = True,
    palette: Palette = DARK,
) -> Table:
    """One row per instance: name, policy, pending, last heartbeat, partitions held, what
    it claimed, live or dead. ``policy``: this instance's (the others' are not known)."""
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for label, justify in (
        ("instance", "left"),
        ("policy", "left"),
        ("pending", "right"),
        ("heartbeat", "right"),
        ("partitions", "left"),
        ("claimed", "left"),
        ("state", "left"),
    ):
        table.add_column(label, justify=justify, no_wrap=True, header_style="bold")  # type: ignore[arg-type]
    for member in status.members:
        mine = member.owner == status.me
        name = literal(member.name, "bold" if mine else "", newlines=False)
        if mine:
            name.append(" (this)", style=palette.muted)
        if math.isinf(member.heartbeat_age):
            beat = "never"
        else:
            beat = f"{member.heartbeat_age:.1f}s ago" if timings else "–"
        table.add_row(
            name,
            policy if mine else "–",
            f"{member.pending:,}",
            beat,
            ",".join(str(k) for k in member.partitions) or "–",
            literal(_claimed(member, status, watch), newlines=False),
            _state(member, watch, palette),
        )
    return table


def fleet_titles(status: FleetStatus) -> tuple[str, str]:
    """The pane's title and subtitle."""
    live = sum(m.live for m in status.members)
    title = f"Fleet: {live} live of {len(status.members)} instances"
    parked = f" · {status.parked_entries} parked" if status.parked_entries else ""
    claimed = f"claimed here {status.claimed_writes:,} writes"
    return title, f"{status.partitions} partitions · {claimed}{parked}"


# -- the Write queue pane's owner column ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FleetQueue:
    """The fleet's pending writes, by user: who lands each (its partition's holder) and
    who acknowledged it; ``more``: users with entries only in others' partitions."""

    owners: dict[int, str]  # user → the owner cell
    more: list[tuple[int, int, int]]  # (user, newest version, entries) not in this queue
    entries: int  # fleet entries read


def fleet_queue(
    pending: Iterable[PendingEntry], names: Mapping[str, str], local: Iterable[int]
) -> FleetQueue:
    """``pending`` (oldest first) by user: the owner cell (``b``, or ``a→b`` when ``a``
    acknowledged it and ``b`` lands it; ``?`` for a partition nobody holds), and the users
    not in this instance's queue (``local``)."""
    owners: dict[int, str] = {}
    newest: dict[int, tuple[int, int]] = {}
    count = 0
    for entry in pending:
        count += 1
        lands = name_of(entry.holder, names) if entry.holder else "?"
        acked = name_of(entry.acknowledged_by, names)
        owners[entry.user_id] = lands if acked == lands else f"{acked}→{lands}"
        version, entries = newest.get(entry.user_id, (0, 0))
        newest[entry.user_id] = (max(version, entry.version), entries + 1)
    mine = set(local)
    more = [(u, v, n) for u, (v, n) in newest.items() if u not in mine]
    return FleetQueue(owners, more, count)
