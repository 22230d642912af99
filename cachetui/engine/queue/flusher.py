"""The write-behind flusher: batches from the write queue land in one transaction each.

It wakes every ``flush_interval`` seconds, or sooner when the queue reaches
``batch_size`` or a caller waits for room (backpressure), and writes the oldest pending
writes in batches of ``batch_size``. A failed batch stays queued and is retried with
capped exponential backoff (``retry_base`` doubling up to ``retry_cap`` seconds).
``flush()`` and draining (leaving write-behind, closing) use the same batches. A database
that allows it (``write_streams``: PostgreSQL) has several batches in flight at once, each
on its own connection; a user is in one batch at a time, and the batches are settled in
the order they were taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cachetui.engine.background import stop_if_asked
from cachetui.engine.core import BACKGROUND_OP, EngineCore, perf_counter, wait_event
from cachetui.engine.crash_points import reached
from cachetui.engine.database.base import RowConflict, RowLanded, RowRejected
from cachetui.engine.errors import DatabaseUnavailable, OutcomeUnknown, PendingWritesError
from cachetui.engine.events import EventKind
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter, DeadLetterKind
from cachetui.engine.queue.lost_replies import LostReplies
from cachetui.engine.queue.write_queue import Batch
from cachetui.engine.words import plural

log = logging.getLogger("cachetui.engine")


class Flusher:
    def __init__(self, core: EngineCore) -> None:
        self._core = core
        #: Held while a batch is in flight: a crash waits for it to land or fail.
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()  # wakes the flusher before its interval
        self._flush_requested = False  # … to flush now
        self._restart_wait = False  # … to start waiting again (the interval changed)
        self._task: asyncio.Task[None] | None = None
        self._lost = LostReplies()  # batches whose reply was lost: counted at the retry

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Cancel the background rounds (pending writes stay queued)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def request_flush(self) -> None:
        """Wake the flusher now (a full batch, a caller waiting for room)."""
        self._flush_requested = True
        self._wake.set()

    def restart_wait(self) -> None:
        """The interval changed: start the next wait at once."""
        self._restart_wait = True
        self._wake.set()

    async def flush_all(self, op: int, deadline: float, *, everything: bool) -> None:
        """Flush until the writes pending now (or, with ``everything``, all writes)
        have landed. Raises PendingWritesError if the database is down, or keeps
        failing past ``deadline`` (a perf_counter time)."""
        core = self._core
        queue = core.queue
        # The users pending now, oldest first (the order batches take them): the first
        # one still queued says whether to go on, so each check is O(1) amortized.
        targets = [] if everything else queue.users_oldest_first()
        first = 0
        delay = core.config.retry_base
        while len(queue):
            if not everything:
                while first < len(targets) and targets[first] not in queue:
                    first += 1
                if first == len(targets):
                    break
            error = await self.flush_batch(op)
            if error is None:
                delay = core.config.retry_base
                continue
            if not error.transient or perf_counter() + delay > deadline:
                raise PendingWritesError(len(queue), str(error)) from error
            await asyncio.sleep(delay)
            delay = min(core.config.retry_cap, delay * 2)

    async def flush_batch(self, op: int) -> DatabaseUnavailable | None:
        """Write the oldest pending writes in one transaction; the error if it failed.

        Each row is guarded by its base version. A row SQLite refuses for good is tried
        again (back to back) until ``max_attempts``, then parked as a dead letter; a row
        whose base is gone is a conflict (parked, or rebased with ``conflict=overwrite``).
        Every other row of the batch lands.

        Cancelling the caller (a ``flush()`` given up, a policy switch or a close
        cancelled) does not cancel the batch: its commit may already be on its way, and
        what landed must be counted as landed. The caller's cancellation goes on once
        the batch and its bookkeeping are done."""
        batch = asyncio.ensure_future(self._flush_batch(op))
        try:
            return await asyncio.shield(batch)
        except asyncio.CancelledError:
            if not batch.done():
                await asyncio.wait([batch])
            if not batch.cancelled():
                batch.exception()  # retrieved: the caller is gone, its cancellation goes on
            raise

    async def _flush_batch(self, op: int) -> DatabaseUnavailable | None:
        """Take up to ``db.write_streams`` batches (distinct users), write them at once,
        each in its own transaction, then settle each in the order taken; the first
        error, if any."""
        core = self._core
        async with self.lock:
            batches: list[Batch] = []
            for _ in range(max(1, core.db.write_streams)):
                batch = core.queue.take_batch(core.config.batch_size)
                if not batch.profiles:
                    break
                batches.append(batch)
            if not batches:
                return None
            reached("flush-taken", core.crash_at)
            start = perf_counter()
            record = core.outbox is not None
            try:
                outcomes = await asyncio.gather(
                    *(self._write(batch, record) for batch in batches), return_exceptions=True
                )
            except BaseException:
                for batch in batches:
                    core.queue.failed(batch)
                raise
            error: DatabaseUnavailable | None = None
            for n, (batch, outcome) in enumerate(zip(batches, outcomes, strict=True)):
                try:
                    if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                        core.queue.failed(batch)
                        raise outcome
                    settled = await self._settle(op, batch, outcome, start)
                except BaseException:
                    for rest in batches[n + 1 :]:  # retried: a landed write is recognised
                        core.queue.failed(rest)
                    raise
                error = error or settled
            return error

    async def _write(
        self, batch: Batch, record: bool
    ) -> dict[int, RowConflict | RowLanded | RowRejected]:
        if self._core.fleet is not None:  # tells another instance's landing from a conflict
            rows = list(zip(batch.profiles, batch.base_versions, strict=True))
            return await self._core.fleet.write(rows, record)
        return await self._core.db.write(
            list(zip(batch.profiles, batch.base_versions, strict=True)), record=record
        )

    async def _settle(
        self,
        op: int,
        batch: Batch,
        outcome: dict[int, RowConflict | RowLanded | RowRejected] | Exception,
        start: float,
    ) -> DatabaseUnavailable | None:
        """The bookkeeping of one batch written (or not): counters, events, the outbox,
        conflicts and refusals."""
        core = self._core
        count = len(batch.profiles)
        if isinstance(outcome, Exception):
            exc = outcome
            if not isinstance(exc, DatabaseUnavailable):  # a bug: kept, retried, told
                log.error("a batch of %d writes failed unexpectedly", count, exc_info=exc)
                exc = DatabaseUnavailable(
                    f"unexpected error while writing ({type(exc).__name__}: {exc}); "
                    "a bug in cachetui, please report it"
                )
            if isinstance(exc, OutcomeUnknown):
                self._lost.lost(batch.profiles)
            core.c.coalesced += core.queue.failed(batch)
            core.c.retries += 1
            core.emit(
                op,
                EventKind.RETRY,
                None,
                None,
                perf_counter() - start,
                f"{count} {plural(count, 'write')} not landed, will retry: {exc}",
            )
            return exc
        failures = outcome
        reached("flush-committed", core.crash_at)
        elapsed = perf_counter() - start
        before = [u for u, f in failures.items() if isinstance(f, RowLanded)]
        for uid in before:  # a replayed write already in the database: not written again
            del failures[uid]
        landed = [p for p in batch.profiles if p.user_id not in failures]
        core.queue.landed(landed)
        core.roll_window()
        c = core.c
        done = set(before)
        # rows a lost batch of ours landed: not counted when sent, counted now, once
        rows, transactions = self._lost.landed(
            [p for p in landed if p.user_id in done], batch.profiles
        )
        c.db_writes += len(landed) - len(before) + rows
        written = [p for p in landed if p.user_id not in done]
        c.db_transactions += bool(written) + transactions  # one that wrote nothing: not counted
        core.history.landed(written)
        if core.near_cache is not None:
            core.near_cache.landed(written)
        if written:
            waited = perf_counter() - min(
                t
                for p, t in zip(batch.profiles, batch.queued_at, strict=True)
                if p.user_id not in failures and p.user_id not in done
            )
            if waited > c.max_queue_wait:
                c.max_queue_wait = waited
        if len(written) == 1:
            p = written[0]
            core.emit(
                op, EventKind.FLUSH, p.user_id, p.version, elapsed, "1 write in 1 transaction"
            )
        elif written:
            core.emit(
                op,
                EventKind.FLUSH,
                None,
                None,
                elapsed,
                f"{len(written)} {plural(len(written), 'write')} in 1 transaction",
            )
        if before:
            core.emit(
                op,
                EventKind.REPLAY,
                None,
                None,
                None,
                f"{len(before)} replayed write{'s' if len(before) > 1 else ''} had "
                "landed already (the same write id is in the database): not written again",
            )
        # After the counters: a reader between the two awaits sees a consistent account.
        await core.journal_landed(landed)
        reached("flush-journaled", core.crash_at)
        for profile in batch.profiles:
            failure = failures.get(profile.user_id)
            if isinstance(failure, RowRejected):
                await self._rejected(op, profile, failure.reason)
            elif isinstance(failure, RowConflict):
                await self._conflict(op, profile, failure.db_version)
        parked = [u for u in failures if u in core.dead_letters and u not in core.queue]
        if core.dead_letters.unsaved or core.dead_letters.undeleted:
            await core.save_dead_letters()
        # A parked write leaves the outbox once its dead letter is in the database.
        await core.journal_removed([u for u in parked if u not in core.dead_letters.unsaved])
        return None

    async def _rejected(self, op: int, sent: Profile, reason: str) -> None:
        """SQLite refused this row for good: count the attempt; park it at the last."""
        core = self._core
        core.c.rejections += 1
        entry = core.queue.entry_of(sent.user_id)
        if entry is None:  # pragma: no cover - a crash takes the flush lock first
            return
        now = core.timestamp()
        entry.attempts += 1
        entry.error = reason
        entry.first_failed_at = entry.first_failed_at or now
        if entry.attempts < core.config.max_attempts:
            core.c.coalesced += core.queue.failed([sent], retry=False)
            core.emit(
                op,
                EventKind.RETRY,
                sent.user_id,
                sent.version,
                None,
                f"rejected by the database (attempt {entry.attempts} of "
                f"{core.config.max_attempts}): {reason}",
            )
            return
        self.park(op, sent.user_id, "rejected", None, reason)

    async def _conflict(self, op: int, sent: Profile, db_version: int | None) -> None:
        """The row's version was not this write's base: another writer changed it."""
        core = self._core
        core.c.conflicts += 1
        entry = core.queue.entry_of(sent.user_id)
        if entry is None:  # pragma: no cover - a crash takes the flush lock first
            return
        uid = sent.user_id
        base = entry.base_version
        found = "the row is gone" if db_version is None else f"the database has v{db_version}"
        if core.config.conflict == "overwrite" and db_version is not None:
            core.queue.failed([sent], retry=False)
            newest = entry.profile
            rebased = newest._replace(version=db_version + 1)
            core.queue.rebase(uid, rebased, db_version)
            await core.journal_rebased(rebased, db_version)
            cached = await core.cache.peek_many([uid])
            if uid in cached and cached[uid].version == newest.version:
                await core.cache.set(rebased)
            core.emit(
                op,
                EventKind.CONFLICT,
                uid,
                rebased.version,
                None,
                f"v{newest.version} was built on v{base} but {found}: overwriting v{db_version} "
                f"(the other writer's changes are lost) as v{rebased.version}",
            )
            return
        core.emit(
            op,
            EventKind.CONFLICT,
            uid,
            entry.profile.version,
            None,
            f"v{entry.profile.version} was built on v{base} but {found}: parked, not applied",
        )
        self.park(op, uid, "conflict", db_version, f"conflict: built on v{base} but {found}")
        await core.cache.delete(uid)  # reads see the database, not the parked write

    def park(
        self, op: int, user_id: int, kind: DeadLetterKind, db_version: int | None, error: str
    ) -> None:
        """Take the user's pending write out of the queue as a dead letter (saved to the
        ``dead_letters`` table by the caller, or later while the database is down)."""
        core = self._core
        entry = core.queue.entry_of(user_id)
        if entry is None:  # pragma: no cover - callers hold an entry
            return
        now = core.timestamp()
        letter = DeadLetter(
            kind=kind,
            profile=entry.profile,
            base_version=entry.base_version,
            db_version=db_version,
            error=error,
            attempts=max(1, entry.attempts),
            first_failed_at=entry.first_failed_at or now,
            last_failed_at=now,
        )
        core.queue.remove(user_id)
        if user_id in core.dead_letters:
            core.c.coalesced += 1  # the newer parked write supersedes the older (one per user)
        core.dead_letters.put(letter)
        core.emit(
            op,
            EventKind.DEAD_LETTER,
            user_id,
            letter.version,
            None,
            f"parked as a dead letter ({kind}): {error}",
        )

    async def _run(self) -> None:
        """Flush every ``flush_interval``, or sooner at ``batch_size``; back off on failure."""
        delay = 0.0
        core = self._core
        config = core.config
        while True:
            try:
                if delay:
                    await asyncio.sleep(delay)
                else:
                    await wait_event(self._wake, config.flush_interval)
                self._wake.clear()
                if self._restart_wait and not self._flush_requested:
                    self._restart_wait = False  # a new interval: start waiting again
                    continue
                self._restart_wait = self._flush_requested = False
                if not len(core.queue):
                    # nothing left to retry (a caller's flush landed it): back to the
                    # interval, not on polling at the backoff delay for ever
                    delay = 0.0
                    continue
                op = next(core.ops)
                while len(core.queue):
                    if await self.flush_batch(op) is not None:
                        delay = min(config.retry_cap, max(config.retry_base, delay * 2))
                        break
                else:
                    delay = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the flusher must survive anything
                core.emit(
                    BACKGROUND_OP, EventKind.ERROR, None, None, None, f"flusher error: {exc!r}"
                )
                delay = config.retry_cap
            stop_if_asked()  # a driver may have swallowed the close's cancel

    async def drain(self, deadline: float) -> None:
        """With the gate closed: wait out updates in progress and flush everything."""
        core = self._core
        op = next(core.ops)
        while True:
            if len(core.queue):
                await self.flush_all(op, deadline, everything=True)
            if core.active_updates == 0 and not len(core.queue):
                return
            remaining = deadline - perf_counter()
            if remaining <= 0:
                raise PendingWritesError(
                    len(core.queue),
                    f"{core.active_updates} "
                    f"{plural(core.active_updates, 'update')} still in progress",
                )
            await wait_event(core.idle, min(remaining, 0.05))
