"""What an engine that was never closed says at interpreter exit (an exception left
``async with``, ``asyncio.run`` ended): the acknowledged writes that never reached the
database, on stderr. The process still exits: the database threads are daemons."""

from __future__ import annotations

import sys
import time
import weakref

from cachetui.engine.core import RUNNING, EngineCore
from cachetui.engine.queue.outbox import journal_name
from cachetui.engine.words import plural


class NotClosedWarning:
    """Registered with :mod:`atexit` while the engine runs; holds its core weakly."""

    def __init__(self, ref: weakref.ReferenceType[EngineCore]) -> None:
        self._ref = ref

    def __call__(self) -> None:
        core = self._ref()
        if core is None or core.state != RUNNING:
            return
        pending = [(p.user_id, p.version) for p in core.queue.snapshot(time.perf_counter())]
        letters = core.dead_letters
        unsaved = [(d.user_id, d.version) for u in sorted(letters.unsaved) if (d := letters.get(u))]
        if pending and core.durable and core.outbox is not None:
            # the queue's writes are journaled: not lost (its own name: an outbox file,
            # or a Redis Stream, never "the outbox memory")
            print(
                f"cachetui: the engine was not closed: {_writes(pending)} "
                f"{plural(len(pending), 'stays', 'stay')} in {journal_name(core.outbox)}, "
                f"replayed at the next start: {_named(pending)}",
                file=sys.stderr,
            )
            pending = []
        lost = pending + unsaved
        if lost:
            print(
                f"cachetui: the engine was not closed: {_writes(lost)} never reached "
                f"{core.db.path}: {_named(lost)}",
                file=sys.stderr,
            )


def _writes(writes: list[tuple[int, int]]) -> str:
    return f"{len(writes)} acknowledged {plural(len(writes), 'write')}"


def _named(writes: list[tuple[int, int]]) -> str:
    """``(user 3, v2), (user 9, v4)``: the first 50, then how many more."""
    named = ", ".join(f"(user {u}, v{v})" for u, v in writes[:50])
    return named + (f" and {len(writes) - 50} more" if len(writes) > 50 else "")
