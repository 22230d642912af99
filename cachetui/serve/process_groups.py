"""The process groups of ``cachetui serve``'s apps: each app is the leader of its own
group (pgid = its pid), so that the app and anything it started go together; on Linux
each also gets SIGKILL when the server dies (a parent-death signal)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - not ours any more
        return False
    return True


def parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the server dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return preexec


PREEXEC = parent_death_signal()


class ProcessGroups:
    """The process groups (one per app, pgid = the app's pid) that are not reaped yet."""

    def __init__(self) -> None:
        self.pgids: set[int] = set()

    def add(self, pgid: int) -> None:
        self.pgids.add(pgid)

    def discard(self, pgid: int) -> None:
        self.pgids.discard(pgid)

    def kill_all(self) -> None:
        """SIGKILL every known group at once: the last resort, synchronous."""
        for pgid in list(self.pgids):
            signal_group(pgid, signal.SIGKILL)
