"""The engine's side of the fleet queue (:mod:`.fleet_queue`): updates through the
sequencer, the ticks that keep the leases and feed the write queue, the landing rule that
tells another instance's landing from another program's write, and the drain at close.

Why order holds although several instances land (docs/fleet.md, "Landing"): a user's
versions come from one sequencer, each entry's row is the whole row after every earlier
write of the user, and every landing is guarded by the row's version in the database
transaction. So a landing can only move a row up: onto its own base, or, when the row
holds an *earlier* version another cachetui instance landed, onto that (the entry's row
includes it); a row at the entry's version or later means the write is in already
(recognised, nothing written). The version is the fencing token: an instance that was
claimed away and wakes up with a batch in hand lands nothing older than the row. Only a
row another program wrote (no write id) is a conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from cachetui.engine.background import stop_if_asked
from cachetui.engine.core import BACKGROUND_OP, EngineCore, perf_counter, wait_event
from cachetui.engine.database.base import RowConflict, RowFailure, RowLanded
from cachetui.engine.errors import DatabaseUnavailable, PendingWritesError, ProfileNotFound
from cachetui.engine.events import EventKind
from cachetui.engine.fleet.fleet_queue import FleetQueue
from cachetui.engine.fleet.status import FleetMember, FleetStatus, PendingEntry
from cachetui.engine.profile import Profile
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.queue.write_queue import PendingWrite

#: Seconds between two ticks at most (leases looked at, partitions fed).
TICK = 0.5
#: Times a landing is moved onto a row another cachetui instance just landed.
REBASES = 3
#: Times an update reads the database's row when the fleet has no head for the user
#: (again only when a read took longer than the sequencer's window).
BASE_READS = 3
HEAD_HIT = "served from the fleet queue's head (a pending write: read-your-writes across instances)"
NO_HEAD = "served without the fleet's pending writes (not cached)"


class FleetLink:
    """The fleet queue wired into one engine (``core.fleet``)."""

    def __init__(self, core: EngineCore, flusher: Flusher, queue: FleetQueue) -> None:
        self._core = core
        self._flusher = flusher
        self.queue = queue
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one tick at a time
        queue.on_park = self._parked
        #: This instance's acknowledged writes not yet fed into its write queue (user →
        #: the newest, when sequenced): pending, as the Write queue pane shows them.
        #: user → (the newest, when the first was sequenced, the versions of all: a user's
        #: newer write sequenced before the older was fed: both count until the feed
        #: coalesces them).
        self._unfed: dict[int, tuple[Profile, float, list[int]]] = {}

    @property
    def claimed(self) -> int:
        """Writes of instances that were gone, fed here to land."""
        return self.queue.claimed

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.queue.tasks.append(self._task)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- updates -------------------------------------------------------------------------------
    async def update(self, op: int, user_id: int, changes: dict[str, Any]) -> Profile:
        """Sequence the update (reading the row first if the fleet has no head for the
        user), set the cache, and return the row with the version the sequencer
        assigned. A failed call may have been queued: the update is not acknowledged,
        and its cache entry is dropped."""
        core = self._core
        write_id = core.write_id(op)
        stamp = core.timestamp()
        try:
            found = await self.queue.sequence(user_id, changes, write_id, stamp)
            for _ in range(BASE_READS):
                if not isinstance(found, int):
                    break
                base = await core.read_db(op, user_id)  # no head: the row, read after it
                found = await self.queue.sequence(user_id, changes, write_id, stamp, (base, found))
            if isinstance(found, int):
                raise DatabaseUnavailable(
                    f"the queue {self.queue.path}: user {user_id}'s row was read too slowly "
                    f"{BASE_READS} times to be numbered on (not queued)",
                    transient=True,
                )
            profile = found
        except BaseException:
            await asyncio.shield(asyncio.ensure_future(core.cache.delete(user_id)))
            raise
        await core.cache.set(profile)
        _, since, versions = self._unfed.get(user_id, (profile, perf_counter(), []))
        self._unfed[user_id] = (profile, since, [*versions, profile.version])
        core.emit(op, EventKind.ENQUEUE, user_id, profile.version, None, "sequenced (fleet queue)")
        if self.queue.partition_of(user_id) in self._held():
            self._wake.set()
        return profile

    # -- reads ---------------------------------------------------------------------------------
    async def fill(self, op: int, user_id: int, local: tuple[Profile, str] | None) -> Profile:
        """A read miss in a fleet: the newest of the user's head (a write another
        instance acknowledged and nobody landed yet), this instance's own unlanded value
        (``local``: the profile and what to say of it) and the database's row, cached.
        The head is read first, then the row: a head that is gone had landed before."""
        core = self._core
        cacheable = True
        try:
            head = await self.queue.head(user_id)
        except DatabaseUnavailable as exc:
            head, cacheable = None, False  # served, not cached: it may be older than a head
            core.emit(op, EventKind.ERROR, user_id, None, None, f"fleet: {exc}: {NO_HEAD}")
        if local is not None and (head is None or local[0].version >= head.version):
            profile = local[0]
            core.emit(op, EventKind.QUEUE_HIT, user_id, profile.version, None, local[1])
        elif head is None:
            profile = await core.read_db(op, user_id)
        else:
            try:
                row: Profile | None = await core.read_db(op, user_id)
            except ProfileNotFound:
                row = None
            if row is not None and row.version >= head.version:
                profile = row
            else:
                profile = head
                core.emit(op, EventKind.QUEUE_HIT, user_id, head.version, None, HEAD_HIT)
        if cacheable and await core.cache.set(profile, fill=True):
            core.emit(op, EventKind.CACHE_FILL, user_id, profile.version, None, "")
        return profile

    # -- landing -------------------------------------------------------------------------------
    async def write(
        self, rows: Sequence[tuple[Profile, int]], record: bool
    ) -> dict[int, RowFailure]:
        """The flusher's guarded write, with the fleet's rule for a row whose version is
        not the base (see the module): landed already, or moved onto the row."""
        db = self._core.db
        rows_in = rows
        failures = await db.write(rows, record=record)
        for _ in range(REBASES):
            conflicted = [p for p, _ in rows if isinstance(failures.get(p.user_id), RowConflict)]
            if not conflicted:
                break
            current = await db.fetch_many([p.user_id for p in conflicted])
            retry = []
            for profile in conflicted:
                row = current.get(profile.user_id)
                if row is None or row.write_id is None:
                    continue  # gone, or another program's write: a conflict
                if row.version >= profile.version:
                    failures[profile.user_id] = RowLanded()  # in already
                else:
                    retry.append((profile, row.version))
            if not retry:
                break
            again = await db.write(retry, record=record)
            for profile, _ in retry:
                uid = profile.user_id
                if uid in again:
                    failures[uid] = again[uid]
                else:
                    del failures[uid]
            rows = retry
        self._forget_landed(rows_in, failures)
        return failures

    def _forget_landed(
        self, rows: Sequence[tuple[Profile, int]], failures: dict[int, RowFailure]
    ) -> None:
        """The writes just landed (or found in) are no longer pending here."""
        for profile, _ in rows:
            failure = failures.get(profile.user_id)
            unfed = self._unfed.get(profile.user_id)
            landed = failure is None or isinstance(failure, RowLanded)
            if landed and unfed is not None and unfed[0].version <= profile.version:
                del self._unfed[profile.user_id]

    # -- ticks -----------------------------------------------------------------------------------
    def _held(self) -> dict[int, str]:
        leases = self.queue.leases
        return {} if leases is None else leases.held

    async def tick(self) -> int:
        """Keep the leases, feed the partitions held into the write queue; entries fed."""
        queue, core = self.queue, self._core
        leases = queue.leases
        if leases is None:
            return 0
        async with self._lock:
            sizes = await queue.sizes()
            lost = leases.lost
            taken = await leases.maintain(lambda k: queue.quiet(k, core.queue), sizes)
            queue.lease_changes(taken)
            for claim in leases.claims[-len(taken) :] if taken else []:
                if claim.at >= time.time() - TICK * 4 and claim.partition in taken:
                    core.emit(
                        BACKGROUND_OP,
                        EventKind.REPLAY,
                        None,
                        None,
                        None,
                        f"claimed partition {claim.partition} from {claim.holder} (gone): "
                        f"{claim.entries} entries, epoch {claim.epoch}",
                    )
            if leases.lost > lost:
                core.emit(
                    BACKGROUND_OP,
                    EventKind.ERROR,
                    None,
                    None,
                    None,
                    "partitions were claimed from this instance (its heartbeat was late): "
                    "its landings in flight are recognised by write id",
                )
            fed = await queue.feed(core.queue, perf_counter(), set(leases.view.live))
            others = {k for k, (owner, _) in leases.view.holders.items() if owner != leases.owner}
            self._forget_fed(others)
        if taken or len(core.queue) >= core.config.batch_size:
            # Claimed entries are overdue: at once; else the flusher's --flush-interval.
            self._flusher.request_flush()
        return fed

    async def _run(self) -> None:
        core = self._core
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except (DatabaseUnavailable, RedisError, OSError) as exc:
                core.emit(BACKGROUND_OP, EventKind.ERROR, None, None, None, f"fleet: {exc}")
            await wait_event(self._wake, min(TICK, core.config.flush_interval))
            self._wake.clear()
            stop_if_asked()

    def unfed(self, now: float) -> list[PendingWrite]:
        """This instance's acknowledged writes that its write queue does not hold yet
        (sequenced, not fed), as pending writes: ``pending_writes()`` adds them."""
        return [
            PendingWrite(
                profile,
                len(versions) - 1,
                now - at,
                0,
                False,
                versions[0] - 1,
            )
            for profile, at, versions in self._unfed.values()
        ]

    @property
    def unfed_versions(self) -> dict[int, list[int]]:
        """user → the versions of its acknowledged writes not fed yet."""
        return {user_id: versions for user_id, (_, _, versions) in self._unfed.items()}

    def _forget_fed(self, elsewhere: set[int]) -> None:
        """Drop the writes the queue now holds (or a newer one of their user's) and those
        of partitions another instance holds (``elsewhere``): those are pending there."""
        entries = self._core.queue.entries
        for user_id, (profile, _, _) in list(self._unfed.items()):
            entry = entries.get(user_id)
            fed = entry is not None and entry.profile.version >= profile.version
            if fed or self.queue.partition_of(user_id) in elsewhere:
                del self._unfed[user_id]

    async def land_own(self, op: int, deadline: float) -> None:
        """``Engine.flush()``: feed the partitions held and land them until none of this
        instance's acknowledged writes is left unfed where it holds the partition (a
        partition another instance holds is that one's to land). PendingWritesError past
        ``deadline``."""
        core = self._core
        while True:
            fed = await self.tick()
            if len(core.queue):
                await self._flusher.flush_all(op, deadline, everything=True)
                continue
            if not fed and not self._unfed:
                return
            if perf_counter() > deadline:
                left = sum(len(versions) for _, _, versions in self._unfed.values())
                raise PendingWritesError(left, f"they stay in the {self.queue.path}")
            await asyncio.sleep(0.01)

    async def drain(self, deadline: float) -> None:
        """At close: land the partitions held (and any left unowned, when it is this
        instance's turn) until they are empty or ``deadline``; the leases are given back
        at the queue's close. What is left stays in Redis for the others."""
        await self.stop()
        core = self._core
        op = next(core.ops)
        while perf_counter() < deadline:
            try:
                fed = await self.tick()
                if len(core.queue):
                    await self._flusher.flush_all(op, deadline, everything=True)
                    continue
                sizes = await self.queue.sizes()
            except (DatabaseUnavailable, RedisError, OSError):
                return
            if not fed and not any(sizes[k] for k in self._held()):
                return
            await asyncio.sleep(0.05)

    def _parked(self, partition: int, reason: str) -> None:
        self._core.emit(
            BACKGROUND_OP,
            EventKind.DEAD_LETTER,
            None,
            None,
            None,
            f"an entry of partition {partition} parked in {self.queue.prefix}:parked: {reason}",
        )

    # -- what the panes show ----------------------------------------------------------------------
    async def status(self) -> FleetStatus:
        """The instances (live or not, heartbeat age, partitions held and their entries)
        and the claims made here, as of the last tick (sizes read now)."""
        queue = self.queue
        leases = queue.leases
        assert leases is not None
        sizes = await queue.sizes()
        view = leases.view
        members = []
        for owner, name in sorted(view.members.items()):
            parts = sorted(k for k, (holder, _) in view.holders.items() if holder == owner)
            members.append(
                FleetMember(
                    owner,
                    name,
                    owner in view.live,
                    view.ages.get(owner, float("inf")),
                    parts,
                    sum(sizes[k] for k in parts),
                )
            )
        return FleetStatus(
            queue.owner,
            queue.partitions,
            members,
            dict(view.holders),
            list(leases.claims),
            queue.claimed,
            queue.parked,
        )

    async def pending(self, limit: int = 200) -> list[PendingEntry]:
        """Writes in the fleet queue, partition by partition, oldest first: who
        acknowledged each, and who holds its partition (who lands it)."""
        queue = self.queue
        holders = queue.leases.view.holders if queue.leases is not None else {}
        found: list[PendingEntry] = []
        for k in range(queue.partitions):
            holder = holders.get(k, ("", 0))[0]
            for entry in await queue.entries(k, limit - len(found)):
                p = entry.profile
                found.append(PendingEntry(p.user_id, p.version, p.write_id, entry.owner, k, holder))
            if len(found) >= limit:
                break
        return found
