"""What an engine that was never closed says at interpreter exit (an exception left
``async with``, ``asyncio.run`` ended): the acknowledged writes that never reached the
database, on stderr. The process still exits: the database threads are daemons."""

from __future__ import annotations

import sys
import time
import weakref

from cachetui.engine.core import RUNNING, EngineCore


class NotClosedWarning:
    """Registered with :mod:`atexit` while the engine runs; holds its core weakly."""

    def __init__(self, ref: weakref.ReferenceType[EngineCore]) -> None:
        self._ref = ref

    def __call__(self) -> None:
        core = self._ref()
        if core is None or core.state != RUNNING:
            return
        lost = [(p.user_id, p.version) for p in core.queue.snapshot(time.perf_counter())]
        letters = core.dead_letters
        lost += [(d.user_id, d.version) for u in sorted(letters.unsaved) if (d := letters.get(u))]
        if not lost:
            return
        named = ", ".join(f"(user {u}, v{v})" for u, v in lost[:50])
        more = f" and {len(lost) - 50} more" if len(lost) > 50 else ""
        if core.durable and not letters.unsaved:
            outbox = core.outbox
            location = outbox.path if outbox is not None else "memory"
            print(
                f"cachetui: the engine was not closed: {len(lost)} acknowledged "
                f"write{'s' if len(lost) != 1 else ''} stay in the outbox "
                f"{location}, replayed at the next start: {named}{more}",
                file=sys.stderr,
            )
            return
        print(
            f"cachetui: the engine was not closed: {len(lost)} acknowledged "
            f"write{'s' if len(lost) != 1 else ''} never reached "
            f"{core.db.path}: {named}{more}",
            file=sys.stderr,
        )
