"""Background loops that stop when asked, even when a library swallowed the cancellation.

The engine's background loops (the Redis store's upkeep, the durable queue's heartbeat,
the flusher) are stopped by cancelling their task. redis-py has been seen to catch that
``CancelledError`` on its way up under load (redis-py issues #2028 and #2551: a cancel
that lands at the wrong moment of a command disappears): the loop then went back to
sleep, for ever, and the ``close()`` that awaited it never returned (a benchmark hung
at exit about once in 20 runs on a loaded machine). Each loop calls
:func:`stop_if_asked` after the work a library may swallow a cancellation in.
"""

from __future__ import annotations

import asyncio


def stop_if_asked() -> None:
    """Raise ``CancelledError`` if this task was asked to stop.

    ``Task.cancelling()`` counts the cancellations requested and not yet undone by
    ``uncancel()``; a library that caught the ``CancelledError`` does not undo it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
