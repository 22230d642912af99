"""Closing the engine, part of the :class:`~cachetui.engine.engine.Engine` facade: flush
what is pending within ``timeout``, then release the database, the store and the link.

``close()`` has a bound of its own: at its deadline it gives up on the database
(:meth:`Database.give_up <cachetui.engine.database.base.Database.give_up>`): a batch
whose reply is still in flight then (a partition holds it) is given up, and stays
pending, at risk, as a write the database would not take. A close that gave up takes
no further step that waits on the database (lab triggers are removed at the next
start; the history's final records leave the database rows unknown).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from typing import TYPE_CHECKING

from cachetui.engine.core import BACKGROUND_OP, CLOSED, RUNNING, EngineCore, perf_counter
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.events import EventKind
from cachetui.engine.fleet.membership import Heartbeat, leave
from cachetui.engine.history.finals import close_history
from cachetui.engine.lab.link.links import EngineLinks
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.queue.outbox import journal_name
from cachetui.engine.unclosed import NotClosedWarning
from cachetui.engine.words import plural


class Closing:
    _core: EngineCore
    _flusher: Flusher
    _at_exit: NotClosedWarning
    links: EngineLinks
    kept_on_close: int
    _fleet: Heartbeat | None

    if TYPE_CHECKING:  # DeadLetterOperations' (a stub here would come first in the MRO)

        async def _save_dead_letters_or_raise(self) -> None: ...

    async def close(
        self, timeout: float | None = None, *, discard: bool = False
    ) -> list[tuple[int, int]]:
        """Flush every pending write, then release the database and the store.

        If the database keeps failing past ``timeout`` seconds (default
        ``flush_timeout``), or a reply has not come by then (a partition: given up, the
        write may have landed), raise :class:`PendingWritesError` and stay open — unless
        ``discard`` is True: then the writes that could not land are dropped and
        returned as ``(user_id, version)``. Likewise DatabaseUnavailable while a write
        never acknowledged may still be in the durable queue and cannot be removed.
        """
        core = self._core
        if core.state != RUNNING:
            core.state = CLOSED
            return []
        discarded: list[tuple[int, int]] = []
        core.gate.clear()
        deadline = core.deadline(timeout)
        core.db.give_up(deadline - perf_counter())
        gave_up = False
        try:
            await self._flusher.drain(deadline)
            if core.fleet is not None:  # the partitions it holds land before it leaves
                await core.fleet.drain(deadline)
            await self._save_dead_letters_or_raise()
        except DatabaseUnavailable as exc:
            gave_up = True
            if core.durable and not core.dead_letters.unsaved:
                # Nothing is lost: the writes stay in the durable queue for the next start.
                kept = len(core.queue)
                where = journal_name(core.outbox) if core.outbox else "the durable queue"
                self.kept_on_close = kept
                core.queue.clear()
                core.emit(
                    BACKGROUND_OP,
                    EventKind.REPLAY,
                    None,
                    None,
                    None,
                    f"{kept} {plural(kept, 'write stays', 'writes stay')} in {where}; "
                    f"replayed on next start ({exc})",
                )
            elif not discard:
                self._stay_open()
                raise
            else:
                discarded = sorted(core.drop_queue() + core.drop_unsaved_dead_letters())
            core.emit(
                BACKGROUND_OP,
                EventKind.ERROR,
                None,
                None,
                None,
                f"closed with {len(discarded)} pending "
                f"{plural(len(discarded), 'write')} discarded: {exc}",
            )
        except BaseException:  # cancelled: still open, and updates may come in again
            self._stay_open()
            raise
        try:  # no entry of a write never acknowledged may stay to be replayed
            await core.settle_all()
        except DatabaseUnavailable as exc:
            if not discard:
                self._stay_open()
                raise
            core.emit(BACKGROUND_OP, EventKind.ERROR, None, None, None, f"closed: {exc}")
        core.state = CLOSED
        core.gate.set()
        atexit.unregister(self._at_exit)
        await self._flusher.stop()
        await core.commits.stop()
        unknown = list(core.commits.unsettled.values())
        if unknown and not gave_up:
            unknown = await core.commits.settle_all()
            gave_up = bool(unknown)  # the database does not answer: no more steps
        if unknown:
            named = ", ".join(f"user {u.user_id} v{u.profile.version}" for u in unknown)
            core.emit(
                BACKGROUND_OP,
                EventKind.ERROR,
                None,
                None,
                None,
                f"closed with {len(unknown)} commit{'s' if len(unknown) > 1 else ''} of "
                f"unknown outcome not settled (each may have landed or not): {named}",
            )
        if not gave_up:
            with contextlib.suppress(DatabaseUnavailable):
                await core.db.drop_lab_triggers()
        await close_history(core, read_database=not gave_up)
        if core.outbox is not None:
            await core.outbox.close()
            core.outbox = None
        await core.cache.stop()
        core.store.set_drop_listener(None)
        core.faults.set_listener(None)
        if core.near_cache is not None:
            await core.near_cache.close()
        await core.store.close()
        await leave(self._fleet, remove=not gave_up)
        await core.db.close()
        await asyncio.to_thread(self.links.stop)
        return discarded

    def _stay_open(self) -> None:
        """A close that raises: the engine runs on, its database calls unbounded again."""
        self._core.gate.set()
        self._core.db.give_up(None)
