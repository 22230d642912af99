"""The durable write-behind queue's lifecycle, part of the
:class:`~cachetui.engine.engine.Engine` facade: which queue is open (memory, an outbox
file, a Redis Stream), what an earlier process left to replay, and switching live.

The journals themselves: :mod:`cachetui.engine.queue.outbox` (the file) and
:mod:`cachetui.engine.queue.stream` (the stream).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from cachetui.engine.core import EngineCore
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.events import EventKind
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

    def _check_running(self) -> None:
        raise NotImplementedError  # the facade's

    async def _open_outbox(self) -> tuple[int, int]:
        """Open the durable queue ``queue_url`` names, or the default outbox an earlier
        process left beside the database (replayed whatever ``queue_url`` says); put the
        entries of owners that are gone back in the queue, except those whose write had
        landed already (dropped). Returns how many were queued, and dropped."""
        core = self._core
        location = parse_queue_url(core.config.queue_url, core.db.path)
        if location.kind == "sqlite" and not location.path:  # a server's: in the data dir
            location = QueueLocation("sqlite", path=server_outbox_path(core.db.database_id))
        fleet = core.config.fleet and location.kind == "redis"
        if location.durable:
            name = (core.config.instance_name or "") if fleet else None
            journals = [self._journal_at(location, core.config.claim_after, name)]
        else:
            journals = await self._left_behind()
        replay: list[tuple[Profile, int]] = []
        for journal in journals:
            try:
                await journal.open(core.db.database_id)
            except DatabaseUnavailable:
                if location.durable or isinstance(journal, Outbox):
                    raise
                continue  # the --cache server does not answer: the store start says so
            taken = await journal.take_over()
            if not location.durable and not taken:
                await journal.close()
                continue
            if core.outbox is not None:  # replaying two (rare): the second one waits
                await journal.close()
                continue
            core.outbox = journal
            replay = taken
            if fleet:
                from cachetui.engine.fleet.lander import FleetLink  # imports redis

                link = FleetLink(core, self._flusher, journal)  # type: ignore[arg-type]
                link.start()
                core.fleet = link
        core.durable = location.durable
        return await core.requeue(replay)

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

    @staticmethod
    def _journal_at(
        location: QueueLocation, claim_after: float, fleet_name: str | None = None
    ) -> Journal:
        """The journal ``location`` names; with ``fleet_name`` (a Redis URL in a fleet),
        the fleet queue shared by every instance on the database."""
        if location.kind == "redis" and fleet_name is not None:
            from cachetui.engine.fleet.fleet_queue import FleetQueue  # imports redis

            return FleetQueue(location.url, claim_after, fleet_name)
        if location.kind == "redis":
            from cachetui.engine.queue.stream import RedisStreamOutbox  # imports redis

            return RedisStreamOutbox(location.url, claim_after=claim_after)
        return Outbox(location.path)

    async def _left_behind(self) -> list[Journal]:
        """With the memory queue: the durable queues an earlier process may have left
        (the default outbox beside the database; the stream of the --cache server)."""
        db_path = self._core.db.path
        found: list[Journal] = []
        if db_path == ":memory:":
            return found
        path = default_outbox_path(db_path) or server_outbox_path(self._core.db.database_id)
        if await asyncio.to_thread(os.path.exists, path):
            found.append(Outbox(path))
        cache_url = self._core.config.cache_url
        if is_redis_url(cache_url):
            from cachetui.engine.queue.stream import RedisStreamOutbox  # imports redis

            found.append(RedisStreamOutbox(cache_url, claim_after=self._core.config.claim_after))
        return found

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
        """What a Redis Stream queue survives, read from the server at start
        (``CONFIG GET appendonly``, ``save``); '' for the other queues."""
        outbox = self._core.outbox
        return str(getattr(outbox, "persistence", "")) if self._core.durable else ""

    @property
    def recovered_from(self) -> str:
        """The durable queue the writes :attr:`recovered` at start came from, as a
        sentence names it: "the outbox PATH" or "the redis stream KEY at URL"."""
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
        be opened (the old one is kept)."""
        self._check_running()
        core = self._core
        location = parse_queue_url(url, core.db.path)
        if location.kind == "sqlite" and not location.path:
            location = QueueLocation("sqlite", path=server_outbox_path(core.db.database_id))
        async with self._switch_lock:
            if url == core.config.queue_url:
                return
            new: Journal | None = None
            if location.durable:
                new = self._journal_at(location, core.config.claim_after)
                await new.open(core.db.database_id)
            core.gate.clear()
            try:
                await self._flusher.drain(core.deadline(timeout))
                await core.settle_all()  # against the queue being left
            except BaseException:
                core.gate.set()
                if new is not None:
                    await new.close()
                raise
            old, core.outbox = core.outbox, new
            core.durable = new is not None
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
