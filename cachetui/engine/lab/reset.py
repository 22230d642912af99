"""Putting the lab back to its start without restarting (talk mode's ``X``): the
database rows as given, an empty cache, no pending writes (in memory or in a durable
queue), no dead letters, every counter at zero — lost writes too — and a new write
epoch. See :meth:`~cachetui.engine.lab.operations.LabOperations.reset_lab`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from cachetui.engine.core import BACKGROUND_OP, EngineCore
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.events import EventKind
from cachetui.engine.metrics.counters import Counters
from cachetui.engine.profile import Profile
from cachetui.engine.queue.flusher import Flusher
from cachetui.engine.words import plural


async def reset_core(core: EngineCore, flusher: Flusher, rows: Sequence[Profile]) -> int:
    """Reset ``core`` (see the module); returns the new write epoch. Updates in progress
    are let finish first (at most ``flush_timeout``), new ones wait at the gate; an
    update still in progress after that dies as in a crash (not acknowledged)."""
    core.gate.clear()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(core.idle.wait(), core.config.flush_timeout)
        async with flusher.lock:  # no batch in flight: it landed or did not start
            core.epoch += 1  # an update still in progress is interrupted
            core.queue.clear()
            if core.outbox is not None:
                with contextlib.suppress(DatabaseUnavailable):
                    await core.settle_all()
                entries = await core.outbox.mine()
                if entries:
                    await core.outbox.remove(sorted({p.user_id for p, _ in entries}))
            letters = core.dead_letters
            for letter in letters.all():
                letters.pop(letter.user_id)
            error = await core.save_dead_letters()
            if error is not None:
                raise error
            if rows:
                await core.db.restore(list(rows))
            core.cache.backlog.clear()
            await core.store.clear()
            core.set_counters(Counters())
            epoch = core.new_epoch("reset")
    finally:
        core.gate.set()
    core.emit(
        BACKGROUND_OP,
        EventKind.FAULT,
        None,
        None,
        None,
        f"lab reset: {len(rows):,} {plural(len(rows), 'row')} as at the start, "
        "cache and queue empty, no dead "
        f"letters, every counter at 0; write epoch {epoch}",
    )
    return epoch
