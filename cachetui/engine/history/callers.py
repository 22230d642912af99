"""Who called: the logical client an operation is recorded under (a caller).

A caller is the app's keyboard, one workload or bench slot, a scenario, one side of a
comparison, the lab's external writer… It travels in a context variable, so the engine's
API needs no new argument: ``with calling("workload-3"): await engine.read(42)``, or
``set_caller("bench-0")`` at the top of a task (a task copies the context it was created
in, so setting it inside a task names only that task's operations).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

#: The caller of operations started in this context ("api" when nobody said).
current_caller: contextvars.ContextVar[str] = contextvars.ContextVar(
    "cachetui_caller", default="api"
)
#: The caller name under which ``external_update`` (the lab's external writer) is recorded.
EXTERNAL_CALLER = "external"


def set_caller(name: str) -> None:
    """Name the caller of every operation this task (or context) starts from now on."""
    current_caller.set(name)


@contextlib.contextmanager
def calling(name: str) -> Iterator[None]:
    """Name the caller of the operations started inside the block."""
    token = current_caller.set(name)
    try:
        yield
    finally:
        current_caller.reset(token)
