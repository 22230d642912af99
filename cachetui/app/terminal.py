"""The terminal after a hangup: whether it is gone, and how to stop drawing on it.

Used by the quit path (:mod:`cachetui.app.quitting`) and by the compare screen's signal
handlers (:mod:`cachetui.compare.quit_signals`) when a signal or a SIGCONT comes after the
terminal closed.
"""

from __future__ import annotations

import errno
import os
import termios


def terminal_gone() -> bool:
    """The terminal was closed (a hangup): its files answer every call with EIO."""
    for fd in (0, 2):  # Textual reads stdin and draws on stderr
        try:
            termios.tcgetattr(fd)
        except (termios.error, OSError) as exc:
            if exc.args and exc.args[0] in (errno.EIO, errno.ENXIO):
                return True
    return False


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: Textual's restore writes and our
    report then go nowhere instead of failing on the closed terminal."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
