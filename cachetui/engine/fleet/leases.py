"""Who lands which partition of the fleet queue: members, heartbeats and leases.

Every instance is a member (``…:members``, owner → name) and sends a heartbeat each
second (``…:owner:<owner>``, a key whose time to live restarts at each beat; its age is
read from the Redis server's clock, so hosts' clocks need not agree). A member is live
while its last heartbeat is younger than **this** instance's ``claim_after`` and, on this
host, its process still runs (a ``kill -9``ed one is dead at once).

Each partition has a lease (``…:lease:<k>`` = ``"owner epoch"``), held until given back:
it does not expire; its holder's death is what frees it. The live members are sorted and
partition ``k`` goes to member ``k mod n``. Each tick an instance takes a partition that
is free or whose holder is dead, when it is its turn (or after two ticks nobody took it),
and gives back one that is another live member's turn once it has nothing of it in
flight. Taking is a compare-and-set on the holder seen (:data:`ACQUIRE`) that raises the
partition's epoch, so two takers cannot both win.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from cachetui.engine.fleet.scripts import ACQUIRE, RELEASE
from cachetui.engine.queue.outbox import owner_alive

#: Seconds a heartbeat key lasts (longer than the longest claim_after: a key gone is a
#: heartbeat older than any).
HEARTBEAT_TTL = 3660
#: Ticks a partition may stay unowned (free, or its holder dead) before any live member
#: takes it, whoever's turn it is (members whose claim_after differ disagree on who is
#: live: someone must still land it).
UNOWNED_TICKS = 2


@dataclass(frozen=True, slots=True)
class Claim:
    """A partition taken from a holder that was dead."""

    partition: int
    holder: str  # the dead holder's owner name
    epoch: int
    entries: int  # entries in the partition when it was taken
    at: float  # time.time()


@dataclass
class LeaseView:
    """What this instance last saw of the fleet (:meth:`Leases.maintain`)."""

    members: dict[str, str] = field(default_factory=dict)  # owner → name
    live: list[str] = field(default_factory=list)
    ages: dict[str, float] = field(default_factory=dict)  # owner → heartbeat age (s)
    holders: dict[int, tuple[str, int]] = field(default_factory=dict)  # partition → (owner, epoch)


class Leases:
    """This instance's leases on the fleet queue's partitions."""

    def __init__(
        self,
        client: Callable[[], aioredis.Redis],
        prefix: str,
        owner: str,
        claim_after: float,
        partitions: int,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.owner = owner
        self.claim_after = claim_after
        self.partitions = partitions
        #: partition → this instance's lease on it ("owner epoch").
        self.held: dict[int, str] = {}
        self.claims: list[Claim] = []
        self.lost = 0  # leases another member took from this one (it was deemed dead)
        self.view = LeaseView()
        self._unowned: dict[int, int] = {}
        self._acquire_sha = ""
        self._release_sha = ""

    def lease_key(self, partition: int) -> str:
        return f"{self._prefix}:lease:{partition}"

    def owner_key(self, owner: str) -> str:
        return f"{self._prefix}:owner:{owner}"

    @property
    def members_key(self) -> str:
        return f"{self._prefix}:members"

    async def load(self) -> None:
        client = self._client()
        self._acquire_sha = await client.script_load(ACQUIRE)
        self._release_sha = await client.script_load(RELEASE)

    async def beat(self, name: str) -> None:
        client = self._client()
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(self.owner_key(self.owner), "1", ex=HEARTBEAT_TTL)
            pipe.hset(self.members_key, self.owner, name)
            await pipe.execute()

    async def leave(self) -> None:
        """Give every lease back and leave the members (at close)."""
        client = self._client()
        for partition in list(self.held):
            await self.release(partition)
        await client.delete(self.owner_key(self.owner))
        await client.hdel(self.members_key, self.owner)

    async def release(self, partition: int) -> None:
        lease = self.held.pop(partition, None)
        if lease is not None:
            await self._client().evalsha(self._release_sha, 1, self.lease_key(partition), lease)

    async def maintain(self, quiet: Callable[[int], bool], sizes: Mapping[int, int]) -> list[int]:
        """Look at the fleet, take and give back leases (see the module); the
        partitions taken now. ``quiet(k)``: nothing of partition k is in flight here;
        ``sizes[k]``: entries in it (for the claim record)."""
        client = self._client()
        raw = cast(dict[bytes, bytes], await client.hgetall(self.members_key))
        members = {k.decode(): v.decode(errors="replace") for k, v in raw.items()}
        members[self.owner] = members.get(self.owner, self.owner)
        others = sorted(o for o in members if o != self.owner)
        async with client.pipeline(transaction=False) as pipe:
            for other in others:
                pipe.pttl(self.owner_key(other))
            for k in range(self.partitions):
                pipe.get(self.lease_key(k))
            found = await pipe.execute()
        ages = {self.owner: 0.0}
        for other, left_ms in zip(others, found[: len(others)], strict=True):
            ages[other] = self._age(int(left_ms))
        live = sorted(o for o in members if o == self.owner or self._alive(o, ages[o]))
        gone = [o for o in others if ages[o] == float("inf")]
        if gone:  # no heartbeat key at all: a member that left without saying so
            await client.hdel(self.members_key, *gone)
        holders: dict[int, tuple[str, int]] = {}
        for k, value in enumerate(found[len(others) :]):
            if value:
                holder, _, epoch = value.decode().rpartition(" ")
                holders[k] = (holder, int(epoch or 0))
        self.view = LeaseView(members, live, ages, holders)
        taken = []
        for k in range(self.partitions):
            holder, epoch = holders.get(k, ("", 0))
            turn = live[k % len(live)]
            if holder == self.owner:
                self.held[k] = f"{holder} {epoch}"
                if turn != self.owner and quiet(k):
                    await self.release(k)
                continue
            if k in self.held:  # taken from this instance: it was deemed dead
                del self.held[k]
                self.lost += 1
            if holder and holder in live:
                self._unowned.pop(k, None)
                continue
            ticks = self._unowned[k] = self._unowned.get(k, 0) + 1
            if turn != self.owner and ticks <= UNOWNED_TICKS:
                continue
            seen = f"{holder} {epoch}" if holder else ""
            lease = await client.evalsha(
                self._acquire_sha, 2, self.lease_key(k), f"{self.lease_key(k)}:epoch", seen,
                self.owner,
            )  # fmt: skip
            if lease:
                self.held[k] = lease.decode()
                self._unowned.pop(k, None)
                taken.append(k)
                if holder:
                    new_epoch = int(lease.decode().rpartition(" ")[2])
                    self.claims.append(Claim(k, holder, new_epoch, sizes.get(k, 0), time.time()))
                    del self.claims[:-100]
        return taken

    def _age(self, left_ms: int) -> float:
        if left_ms == -1:  # a key without an expiry (not ours): its age is unknown
            return 0.0
        if left_ms < 0:  # -2: no key (older than HEARTBEAT_TTL)
            return float("inf")
        return max(0.0, HEARTBEAT_TTL - left_ms / 1000)

    def _alive(self, owner: str, age: float) -> bool:
        """A heartbeat younger than this instance's claim_after and, on this host, the
        process still running (a stopped one misses its beats and is dead all the same)."""
        if age > self.claim_after:
            return False
        host, _, local = owner.rpartition("/")
        return host != socket.gethostname() or owner_alive(local)
