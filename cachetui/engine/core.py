"""What every room of the engine shares: the stores, the database, the write queue,
the counters and the event log, and the few helpers they all use.

The :class:`~cachetui.engine.engine.Engine` facade owns one :class:`EngineCore`; the
write policies (:mod:`cachetui.engine.policies`), the flusher, the cache-health
tracker, the lab operations and the pane views each hold a reference to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import secrets
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from cachetui.engine.config import EngineConfig, WritePolicy
from cachetui.engine.database.base import Database, RowConflict, RowLanded, RowRejected
from cachetui.engine.database.batching import BatchLoader, GroupCommit
from cachetui.engine.database.factory import make_database
from cachetui.engine.errors import (
    DatabaseUnavailable,
    Interrupted,
    ProfileNotFound,
    WriteConflict,
    WriteRejected,
)
from cachetui.engine.events import EventKind, EventLog
from cachetui.engine.gate import Gate
from cachetui.engine.history.recorder import HistoryRecorder
from cachetui.engine.key_locks import KeyLocks
from cachetui.engine.lab.faults import Faults
from cachetui.engine.metrics.counters import Counters
from cachetui.engine.metrics.window import WindowTracker
from cachetui.engine.profile import Profile, utc_timestamp, write_id_prefix
from cachetui.engine.queue.dead_letters import DeadLetters
from cachetui.engine.queue.outbox import Journal
from cachetui.engine.queue.write_queue import WriteQueue
from cachetui.engine.settling import CommitSettler
from cachetui.engine.stores.base import CacheStore
from cachetui.engine.stores.health import CacheHealth

if TYPE_CHECKING:
    from cachetui.engine.fleet.status import FleetHooks
    from cachetui.engine.stores.near_cache import NearCache

#: The op id of the last operation started in the current asyncio context: after
#: ``await engine.read(42)`` the caller finds its op id here, to show its trace.
last_op_id: contextvars.ContextVar[int] = contextvars.ContextVar("last_op_id", default=0)
BACKGROUND_OP = 0  # op id of events no caller started (flusher rounds get their own)

#: The engine's one clock: event times, latencies and queue ages (seconds).
perf_counter = time.perf_counter

NEW, RUNNING, CLOSED = "new", "running", "closed"


class EngineCore:
    """The engine's shared state. Not public API: scripts use the Engine facade."""

    def __init__(self, config: EngineConfig, store: CacheStore, db_url: str | None = None) -> None:
        self.config = config
        self.faults = Faults(config.fault_seed)
        self.db: Database = make_database(config, self.faults, db_url)
        self.store = store
        self.events = EventLog(config.event_buffer)
        self.history = HistoryRecorder(
            config.history_ring, config.history_path, config.history_max_bytes
        )
        self.queue = WriteQueue(config.max_pending)
        self.dead_letters = DeadLetters()
        self.policy = WritePolicy.parse(config.policy)
        #: The live counters; ``Engine.reset_metrics`` replaces them, so read them
        #: through the core each time instead of keeping a reference.
        self.c = Counters()
        #: The windowed view of ``c`` (Engine.metrics_window); an operation whose start
        #: reaches ``window.due`` calls ``window.roll()`` before counting.
        self.window = WindowTracker(self.c, self.policy, config.metrics_clock)
        self.locks = KeyLocks()
        self.loader = BatchLoader(self._fetch_rows)
        self.committer = GroupCommit(self._write_rows)
        self.cache = CacheHealth(store, self.faults, self.emit, self._count_cache_error)
        self.ops = itertools.count(1)
        self.state = NEW
        # Draining (leaving write-behind, closing) closes the gate: updates wait there.
        self.gate = Gate()
        self.gate.set()
        self.idle = asyncio.Event()  # set when no update is in progress
        self.idle.set()
        self.active_updates = 0
        self.epoch = 0  # crashes so far: an update that sees it change was interrupted
        #: This engine's random id, the first part of its write ids (unique across
        #: instances and restarts), and the write epoch: it grows at each crash and at
        #: each rewind of the rows (a lab going back), so a write id says which era of
        #: the lab it is of. ``write_prefix`` is ``instance:epoch:``.
        self.instance = secrets.token_hex(6)
        self.write_epoch = 0
        self.write_prefix = write_id_prefix(self.instance, 0)
        #: The durable outbox that journals the queue (None: the queue is memory only),
        #: and whether acknowledgements wait for it (False while an outbox left by an
        #: earlier process is only being replayed into a memory queue).
        self.outbox: Journal | None = None
        self.durable = False
        self.journal = GroupCommit(self._append_outbox)
        #: The fleet queue's link (``outbox`` is then a FleetQueue), or None.
        self.fleet: FleetHooks | None = None
        #: Per user, a write whose append to the durable queue has an unknown outcome
        #: (cancelled, timed out, the connection reset) and whose entry, if any, is not
        #: removed yet: the user's next acknowledgement waits for :meth:`settle`.
        self.unsettled: dict[int, Unsettled] = {}
        self._settling: dict[int, asyncio.Task[None]] = {}
        #: Write-through/-around/no-cache commits whose reply was lost (settling.py).
        self.commits = CommitSettler(
            self.db, self.emit, lambda: self.c, (config.retry_base, config.retry_cap)
        )
        #: The crash point ``CACHETUI_CRASH_AT`` arms (read at start), or None.
        self.crash_at: str | None = None
        #: With ``invalidate_url``: what announces changed users to the other instances.
        self.near_cache: NearCache | None = None

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def next_op(self) -> int:
        """A new op id, remembered as this context's last operation."""
        op = next(self.ops)
        last_op_id.set(op)
        return op

    def write_id(self, op: int) -> str:
        """The id of the write the update ``op`` makes."""
        return f"{self.write_prefix}{op}"

    def new_epoch(self, reason: str) -> int:
        """Start a new write epoch (a "crash", a "rewind"); its number."""
        self.write_epoch += 1
        self.write_prefix = write_id_prefix(self.instance, self.write_epoch)
        self.history.epoch(self.write_epoch, reason)
        return self.write_epoch

    def timestamp(self) -> str:
        return utc_timestamp(self.config.clock())

    def emit(
        self,
        op: int,
        kind: EventKind,
        user_id: int | None,
        version: int | None,
        duration: float | None,
        detail: str,
    ) -> None:
        self.events.add((op, kind, user_id, version, duration, perf_counter(), detail))

    def check_epoch(self, epoch: int) -> None:
        """A crash happened while this update awaited: it dies with the process."""
        if epoch != self.epoch:
            raise Interrupted("interrupted by a crash: not acknowledged")

    def deadline(self, timeout: float | None) -> float:
        """The perf_counter time ``timeout`` seconds from now (default flush_timeout)."""
        return perf_counter() + (self.config.flush_timeout if timeout is None else timeout)

    async def read_db(self, op: int, user_id: int) -> Profile:
        """The user's row; ProfileNotFound if none. Read on this thread when the database
        allows it (:meth:`Database.read_now`), else through aiosqlite, where concurrent
        callers share one query."""
        if user_id in self.commits.unsettled:  # its row may be about to change
            await self.commits.settle(user_id)
        start = perf_counter()
        read, profile = self.db.read_now(user_id)  # no thread hop when it can
        if read:
            self.c.db_reads += profile is not None
        else:
            profile = await self.loader.load(user_id)
        if profile is None:
            raise ProfileNotFound(user_id)
        self.emit(op, EventKind.DB_READ, user_id, profile.version, perf_counter() - start, "")
        return profile

    def set_counters(self, counters: Counters) -> None:
        """Replace the live counters (a reset); the window starts again from them."""
        self.c = counters
        self.window.reset(counters)

    def roll_window(self) -> None:
        """For the paths that count outside an operation (the flusher, group commits,
        batched reads): let the window turn its second first."""
        window = self.window
        if perf_counter() >= window.due:
            window.roll()

    def drop_queue(self) -> list[tuple[int, int]]:
        """Drop every pending write (a crash, a discarding close); the lost
        ``(user_id, version)`` pairs. The ``lost_writes`` metric counts the acknowledged
        updates they carried (see :meth:`count_lost`)."""
        updates = self.queue.updates_by_user()
        lost = sorted((p.user_id, p.version) for p in self.queue.clear())
        self.count_lost(lost, updates)
        return lost

    def count_lost(self, lost: Sequence[tuple[int, int]], updates: dict[int, int]) -> int:
        """Count these lost writes once: ``lost_writes`` grows by the acknowledged updates
        they carried (``updates``: per user, 1 + those coalesced into it), and those
        coalesced leave ``coalesced`` (they saved no database write). Returns the count."""
        lost_updates = sum(updates.get(uid, 1) for uid, _ in lost)
        self.c.lost_writes += lost_updates
        self.c.coalesced -= lost_updates - len(lost)
        return lost_updates

    def drop_unsaved_dead_letters(self) -> list[tuple[int, int]]:
        """Forget the dead letters the database never saved (a discarding close while it
        is down); the lost ``(user_id, version)`` pairs, counted as lost writes."""
        lost = [(d.user_id, d.version) for d in self.dead_letters.drop_unsaved()]
        self.c.lost_writes += len(lost)
        return lost

    async def _append_outbox(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]:
        if self.outbox is None:
            raise DatabaseUnavailable("the outbox is closed")
        return await self.outbox.append_many(rows)

    async def journal_landed(self, profiles: Sequence[Profile]) -> None:
        """Bookkeeping of the outbox after a flush (its failure loses nothing: a replayed
        write already in the database is recognised by its write id and dropped)."""
        if self.outbox is not None and profiles:
            await self._outbox_call(self.outbox.landed(profiles))

    async def journal_removed(self, user_ids: Sequence[int]) -> None:
        """Parked as dead letters (saved in the database) or dropped on request."""
        if self.outbox is not None and user_ids:
            await self._outbox_call(self.outbox.remove(user_ids))

    async def journal_rebased(self, profile: Profile, base_version: int) -> None:
        if self.outbox is not None:
            await self._outbox_call(self.outbox.rebase(profile, base_version))

    async def _outbox_call(self, call: Awaitable[None]) -> None:
        try:
            await call
        except DatabaseUnavailable as exc:
            self.emit(BACKGROUND_OP, EventKind.ERROR, None, None, None, f"outbox: {exc}")

    async def _fetch_rows(self, user_ids: list[int]) -> dict[int, Profile]:
        rows = await self.db.fetch_many(user_ids)
        self.roll_window()
        self.c.db_reads += len(rows)
        return rows

    async def _write_rows(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]:
        """A group commit of write-through/-around callers: each failed row's error."""
        failures = await self.db.write(rows)
        self.roll_window()
        c = self.c
        for uid in [u for u, f in failures.items() if isinstance(f, RowLanded)]:
            del failures[uid]  # cannot happen to a new write (its id is new): landed
        c.db_writes += len(rows) - len(failures)
        c.db_transactions += len(rows) > len(failures)  # one that wrote nothing: not counted
        self.history.landed([p for p, _ in rows if p.user_id not in failures])
        errors: dict[int, Exception] = {}
        for profile, _base in rows:
            failure = failures.get(profile.user_id)
            if isinstance(failure, RowConflict):
                c.conflicts += 1
                errors[profile.user_id] = WriteConflict(
                    profile.user_id, profile.version, failure.db_version
                )
            elif isinstance(failure, RowRejected):
                c.rejections += 1
                errors[profile.user_id] = WriteRejected(
                    profile.user_id, profile.version, failure.reason
                )
        return errors

    def settle_soon(
        self, user_id: int, write: Profile, previous: tuple[Profile, int] | None
    ) -> None:
        """``write``'s append has an unknown outcome: remove its entry, if any, in the
        background (its caller, cancelled or failed, does not wait for that); the user's
        next acknowledgement waits for it (:meth:`settle`). ``previous``: the user's
        pending write before it, if any (what its entry goes back to)."""
        self.unsettled[user_id] = Unsettled(write, previous)
        task = asyncio.get_running_loop().create_task(self._settle_quietly(user_id))
        self._settling[user_id] = task
        task.add_done_callback(lambda _: self._settling.pop(user_id, None))

    async def _settle_quietly(self, user_id: int) -> None:
        with contextlib.suppress(DatabaseUnavailable):
            await self._withdraw(user_id)

    async def settle(self, user_id: int) -> None:
        """Make sure no entry of the user's write whose append had an unknown outcome is
        left in the durable queue: wait for the background removal, then try again if it
        failed. DatabaseUnavailable if the queue does not answer: the write stays
        unsettled (and the caller's update is not acknowledged)."""
        task = self._settling.get(user_id)
        if task is not None:
            await asyncio.shield(task)
        if user_id in self.unsettled:
            await asyncio.shield(asyncio.ensure_future(self._withdraw(user_id)))

    async def _withdraw(self, user_id: int) -> None:
        """Remove the unsettled write's entry, by its write id (the user's pending write
        before it, if one is queued, takes its place again in the outbox file)."""
        unsettled = self.unsettled.get(user_id)
        if unsettled is None:
            return
        write = unsettled.write
        outbox = self.outbox
        if outbox is not None:
            entry = self.queue.entry_of(user_id)
            previous = unsettled.previous if entry is None else (entry.profile, entry.base_version)
            try:
                await outbox.withdraw(write, previous)
            except DatabaseUnavailable as exc:
                raise DatabaseUnavailable(
                    f"an earlier update of user {user_id} (write {write.write_id}) may be "
                    f"in the queue (its append's outcome is unknown) and cannot be removed "
                    f"yet: {exc}",
                    transient=True,
                ) from exc
        if self.unsettled.get(user_id) is unsettled:
            del self.unsettled[user_id]
        self.emit(
            BACKGROUND_OP,
            EventKind.REPLAY,
            user_id,
            write.version,
            None,
            f"write {write.write_id} was never acknowledged: its entry, if it reached the "
            "queue, is removed",
        )

    async def settle_all(self) -> None:
        """:meth:`settle` every user (before the queue is closed or left);
        DatabaseUnavailable saying how many it could not, while the queue does not
        answer."""
        errors = []
        for user_id in list(self.unsettled):
            try:
                await self.settle(user_id)
            except DatabaseUnavailable as exc:
                errors.append(exc)
        if errors:
            raise DatabaseUnavailable(
                f"{len(errors)} write{'s' if len(errors) > 1 else ''} never acknowledged may "
                f"still be in the durable queue (an append's outcome is unknown) and cannot "
                f"be removed yet: {errors[0]}",
                transient=True,
            ) from errors[0]

    def without_unsettled(self, entries: list[tuple[Profile, int]]) -> list[tuple[Profile, int]]:
        """A durable queue's entries to replay after a crash, with each write whose append
        had an unknown outcome replaced by the user's pending write before it (or left
        out): it was never acknowledged. Its entry is removed in the background."""
        void = {u.write.write_id: u for u in self.unsettled.values()}
        kept = []
        for profile, base in entries:
            unsettled = void.get(profile.write_id)
            if unsettled is None:
                kept.append((profile, base))
                continue
            if unsettled.previous is not None:
                kept.append(unsettled.previous)
            self.settle_soon(profile.user_id, unsettled.write, unsettled.previous)
        return kept

    async def requeue(self, entries: list[tuple[Profile, int]]) -> tuple[int, int]:
        """Put a durable queue's entries to replay back in the queue, except those whose
        write had landed already (:meth:`drop_landed`); how many were queued, dropped."""
        entries, landed = await self.drop_landed(entries)
        now = perf_counter()
        for profile, base in entries:
            self.queue.put(profile, now, base_version=base)
        return len(entries), landed

    async def drop_landed(
        self, entries: list[tuple[Profile, int]]
    ) -> tuple[list[tuple[Profile, int]], int]:
        """Of a durable queue's entries to replay, those whose write had landed already
        (decided by write id, never by version: the database holds it, or recorded its
        landing) leave the durable queue; the others are returned to be queued, with how
        many were dropped. Asked in one query; while the database does not answer, all
        are returned (the flush's guarded write asks again, row by row)."""
        writes = [(p.user_id, p.write_id) for p, _ in entries if p.write_id is not None]
        try:
            landed = await self.db.landed(writes) if writes else set()
        except DatabaseUnavailable:
            return entries, 0
        if not landed:
            return entries, 0
        done = [p.user_id for p, _ in entries if p.write_id in landed]
        self.history.landed([p for p, _ in entries if p.write_id in landed], found=True)
        await self.journal_removed(done)
        return [(p, base) for p, base in entries if p.write_id not in landed], len(done)

    async def save_dead_letters(self) -> DatabaseUnavailable | None:
        """Write the dead letters changed in memory to the ``dead_letters`` table (they
        stay in memory, to be saved later, while the database is down: then the error)."""
        letters = self.dead_letters
        if not letters.unsaved and not letters.undeleted:
            return None
        changed = [d for uid in sorted(letters.unsaved) if (d := letters.get(uid)) is not None]
        deleted = sorted(letters.undeleted)
        try:
            await self.db.save_dead_letters(changed, deleted)
        except DatabaseUnavailable as exc:
            return exc
        for letter in changed:
            if letters.get(letter.user_id) is letter:
                letters.unsaved.discard(letter.user_id)
        letters.undeleted.difference_update(deleted)
        return None

    def _count_cache_error(self) -> None:
        self.c.cache_errors += 1


class Unsettled(NamedTuple):
    """A write whose append to the durable queue has an unknown outcome, and the user's
    pending write before it (``(profile, base_version)``, or None)."""

    write: Profile
    previous: tuple[Profile, int] | None


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` seconds pass. (Not ``asyncio.wait_for``:
    on Python 3.11 it can swallow a cancellation that races with the event.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
