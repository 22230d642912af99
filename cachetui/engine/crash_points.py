"""Crash points, for tests of what a killed process leaves behind.

``CACHETUI_CRASH_AT=<step>`` in the environment of a process makes its engine kill the
process (SIGKILL, as ``kill -9`` would: no cleanup, no flush) when it reaches that step
of the write-behind path. Read once, at :meth:`Engine.start
<cachetui.engine.engine.Engine.start>`; an unknown step is a ValidationError there.
Documented in docs/development.md only: it is not a feature for users.
"""

from __future__ import annotations

import os
import signal

from cachetui.engine.errors import ValidationError

ENVIRONMENT_VARIABLE = "CACHETUI_CRASH_AT"

#: The steps, in the order a durable write-behind write goes through them.
STEPS: dict[str, str] = {
    "append-committed": "the write's entry is committed to the durable queue, before the "
    "update is acknowledged",
    "flush-taken": "a batch is taken from the queue, before its database transaction",
    "flush-committed": "the batch's transaction committed, before the durable queue hears of it",
    "flush-journaled": "the landed entries are gone from the durable queue, before the dead "
    "letters are saved",
}


def armed_step() -> str | None:
    """The step ``CACHETUI_CRASH_AT`` names (None when unset or empty); ValidationError
    for an unknown one."""
    step = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not step:
        return None
    if step not in STEPS:
        raise ValidationError(
            f"{ENVIRONMENT_VARIABLE}={step!r} is not a crash point; the points are: "
            + ", ".join(STEPS)
        )
    return step


def reached(step: str, armed: str | None) -> None:
    """Kill this process now if ``step`` is the armed one."""
    if step == armed:
        os.kill(os.getpid(), signal.SIGKILL)
