"""What the fleet looks like from one instance (the F pane's and the queue pane's
view), and the hooks the engine calls on its fleet link (``core.fleet``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cachetui.engine.database.base import RowFailure
from cachetui.engine.fleet.leases import Claim
from cachetui.engine.profile import Profile
from cachetui.engine.queue.write_queue import PendingWrite


@dataclass(frozen=True, slots=True)
class FleetMember:
    """One instance of the fleet, as this one last saw it."""

    owner: str
    name: str
    live: bool
    heartbeat_age: float  # seconds (inf: no heartbeat at all)
    partitions: list[int]
    pending: int  # entries in the partitions it holds


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """A write in the fleet queue: who acknowledged it, who is to land it."""

    user_id: int
    version: int
    write_id: str | None
    acknowledged_by: str
    partition: int
    holder: str  # the owner holding the partition's lease ('' for none)


@dataclass(frozen=True, slots=True)
class FleetStatus:
    """What the F pane shows (:meth:`FleetLink.status`)."""

    me: str
    partitions: int
    members: list[FleetMember]
    holders: dict[int, tuple[str, int]]  # partition → (owner, epoch)
    claims: list[Claim] = field(default_factory=list)
    claimed_writes: int = 0
    parked_entries: int = 0


class FleetHooks(Protocol):
    """What the engine calls on its fleet link (:class:`~.lander.FleetLink`)."""

    @property
    def claimed(self) -> int: ...
    async def update(self, op: int, user_id: int, changes: dict[str, Any]) -> Profile: ...
    async def fill(self, op: int, user_id: int, local: tuple[Profile, str] | None) -> Profile: ...
    async def write(
        self, rows: Sequence[tuple[Profile, int]], record: bool
    ) -> dict[int, RowFailure]: ...
    async def drain(self, deadline: float) -> None: ...
    def unfed(self, now: float) -> list[PendingWrite]: ...
    async def land_own(self, op: int, deadline: float) -> None: ...
    @property
    def unfed_versions(self) -> dict[int, list[int]]: ...
    async def status(self) -> FleetStatus: ...
    async def pending(self, limit: int = 200) -> list[PendingEntry]: ...
