"""The durable write-behind queue's lifecycle, part of the
:class:`~cachetui.engine.engine.Engine` facade: which queue is open (memory, an outbox
file, the fleet queue), what an earlier process left to replay, and switching live.

The journals themselves: :mod:`cachetui.engine.queue.outbox` (the file) and
:mod:`cachetui.engine.fleet.fleet_queue` (a ``redis://`` queue: the fleet queue, entered
and left through :mod:`cachetui.engine.fleet.joining`).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from cachetui.engine.core import EngineCore
from cachetui.engine.events import EventKind
from cachetui.engine.fleet.membership import Heartbeat, recheck
from cachetui.engine.profile import Profile
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.queue.outbox import Journal, Outbox, journal_name
from cachetui.engine.queue.url import (
    QueueLocation,
    default_outbox_path,
    parse_queue_url,
    server_outbox_path,
)
from cachetui.engine.stores.redis_url import is_redis_url

if TYPE_CHECKING:
    from cachetui.engine.fleet.status import FleetStatus, PendingEntry


class DurableQueueOperations:
    _core: EngineCore
    _flusher: Flusher
    _switch_lock: asyncio.Lock
    recovered: int
    recovered_landed: int
    _fleet: Heartbeat | None

    def _check_running(self) -> None:
        raise NotImplementedError  # the facade's

    async def _open_outbox(self) -> tuple[int, int]:
        """Open the durable queue ``queue_url`` names, or the default outbox an earlier
        process left beside the database (replayed whatever ``queue_url`` says); put the
        entries of owners that are gone back in the queue, except those whose write had
        landed already (dropped). Returns how many were queued, and dropped. A
        ``redis://`` queue is the fleet queue: nothing to replay (the leases hand a
        gone instance's partitions over, while running)."""
        core = self._core
        location = parse_queue_url(core.config.queue_url, core.db.path)
        if location.kind == "sqlite" and not location.path:  # a server's: in the data dir
            location = QueueLocation("sqlite", path=server_outbox_path(core.db.database_id))
        if location.kind == "redis":
            from cachetui.engine.fleet import joining  # imports redis

            joining.link(core, self._flusher, await joining.enter(core, location.url))
            return 0, 0
        await self._refuse_unlanded()
        journals = [Outbox(location.path)] if location.durable else await self._left_behind()
        replay: list[tuple[Profile, int]] = []
        for journal in journals:
            await journal.open(core.db.database_id)
            taken = await journal.take_over()
            if not location.durable and not taken:
                await journal.close()
                continue
            core.outbox = journal
            replay = taken
        core.durable = location.durable
        return await core.requeue(replay)

    async def _refuse_unlanded(self) -> None:
        """Another queue over a Redis cache: refused while that server holds writes of
        this database nobody lands (see :func:`~cachetui.engine.fleet.joining.
        refuse_unlanded`)."""
        core = self._core
        if core.db.path != ":memory:" and is_redis_url(core.config.cache_url):
            from cachetui.engine.fleet import joining  # imports redis

            await joining.refuse_unlanded(core.config.cache_url, core.db.database_id)

    def _recovery(self) -> str:
        """The recovery message: what a durable queue held at start."""
        core = self._core
        replayed, landed = self.recovered, self.recovered_landed
        where = journal_name(core.outbox) if core.outbox else "the durable queue"
        text = f"recovered {replayed} write{'s' if replayed != 1 else ''} from {where}"
        text += ": flushing them" if replayed else ""
        if landed:
            text += f"; {landed} already landed (the same write id is in the database): dropped"
        return text

    async def _left_behind(self) -> list[Journal]:
        """With the memory queue: the default outbox an earlier process may have left
        beside the database."""
        db_path = self._core.db.path
        if db_path == ":memory:":
            return []
        path = default_outbox_path(db_path) or server_outbox_path(self._core.db.database_id)
        return [Outbox(path)] if await asyncio.to_thread(os.path.exists, path) else []

    @property
    def claimed_writes(self) -> int:
        """Writes of other instances taken over: replayed at start, and with the fleet
        queue, fed from the partitions of instances that were gone."""
        fleet = self._core.fleet
        return self.recovered + (fleet.claimed if fleet is not None else 0)

    async def fleet_status(self) -> FleetStatus | None:
        """With the fleet queue: its instances, partitions and claims (the F pane), else
        None. DatabaseUnavailable while Redis does not answer."""
        fleet = self._core.fleet
        return None if fleet is None else await fleet.status()

    async def fleet_pending(self, limit: int = 200) -> list[PendingEntry]:
        """With the fleet queue: its pending writes, with who acknowledged each and who
        holds its partition (the queue pane's owner column); else []."""
        fleet = self._core.fleet
        return [] if fleet is None else await fleet.pending(limit)

    @property
    def queue_durable(self) -> bool:
        """True when acknowledged write-behind writes survive the process (an outbox)."""
        return self._core.durable

    @property
    def queue_persistence(self) -> str:
        """What the fleet queue (Redis) survives, read from the server at start
        (``CONFIG GET appendonly``, ``save``); '' for the other queues."""
        outbox = self._core.outbox
        return str(getattr(outbox, "persistence", "")) if self._core.durable else ""

    @property
    def recovered_from(self) -> str:
        """The durable queue the writes :attr:`recovered` at start came from, as a
        sentence names it: "the outbox PATH" or "the fleet queue KEY at URL"."""
        outbox = self._core.outbox
        return journal_name(outbox) if outbox is not None else "the durable queue"

    @property
    def queue_location(self) -> str:
        """Where the write-behind queue lives: "memory" or the outbox file's path."""
        outbox = self._core.outbox
        return outbox.path if outbox is not None and self._core.durable else "memory"

    async def set_queue(self, url: str, timeout: float | None = None) -> None:
        """Move the write-behind queue to ``url`` (``memory://``, ``sqlite://[/PATH]``,
        ``redis://…``) while running. Pending writes are drained into the database first
        (as when leaving write-behind): if it keeps failing past ``timeout`` seconds
        (default ``flush_timeout``), raise PendingWritesError and keep the queue as it
        was. ValidationError for a bad URL, DatabaseUnavailable if the new queue cannot
        be opened (the old one is kept), FleetMismatch (a ValidationError) if a live
        instance on the database uses another queue kind. ``redis://`` joins the fleet;
        leaving the fleet lands what this instance holds first (see
        :func:`~cachetui.engine.fleet.joining.leave`)."""
        self._check_running()
        core = self._core
        location = parse_queue_url(url, core.db.path)
        if location.kind == "sqlite" and not location.path:
            location = QueueLocation("sqlite", path=server_outbox_path(core.db.database_id))
        async with self._switch_lock:
            if url == core.config.queue_url:
                return
            kind = "fleet" if location.kind == "redis" else location.kind
            await recheck(self._fleet, kind)  # FleetMismatch: another kind is running
            new: Journal | None = None
            if location.kind == "redis":
                from cachetui.engine.fleet import joining  # imports redis

                new = await joining.enter(core, location.url)
            elif location.durable:
                new = Outbox(location.path)
                await new.open(core.db.database_id)
            core.gate.clear()
            deadline = core.deadline(timeout)
            try:
                await self._flusher.drain(deadline)
                await core.settle_all()  # against the queue being left
                if core.fleet is not None:  # what it holds lands (or it stays in)
                    from cachetui.engine.fleet import joining

                    await joining.leave(core, deadline)
            except BaseException:
                core.gate.set()
                if new is not None:
                    await new.close()
                raise
            old, core.outbox = core.outbox, new
            core.durable = new is not None
            if location.kind == "redis":
                from cachetui.engine.fleet import joining
                from cachetui.engine.fleet.fleet_queue import FleetQueue

                assert isinstance(new, FleetQueue)
                joining.link(core, self._flusher, new)  # a member now: takes partitions
            core.config.queue_url = url
            core.history.queue_changed(url)
            core.gate.set()
            if old is not None:
                await old.close()
            core.emit(
                next(core.ops),
                EventKind.POLICY,
                None,
                None,
                None,
                f"write-behind queue → {self.queue_location}"
                + ("" if core.durable else " (lost on a crash)"),
            )
