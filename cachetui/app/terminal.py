"""The terminal after a hangup: whether it is gone, how to stop drawing on it, and the
SIGCONT handler that does so when a hangup comes.

Used by the quit path (:mod:`cachetui.app.quitting`) and by the compare screen's signal
handlers (:mod:`cachetui.compare.quit_signals`) when a signal or a SIGCONT comes after the
terminal closed.
"""

from __future__ import annotations

import errno
import os
import signal
import termios
from types import FrameType
from typing import Any

SignalHandler = Any  # what signal.getsignal returns: a callable, SIG_DFL, SIG_IGN or None


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


def guard_hangup() -> tuple[SignalHandler, SignalHandler] | None:
    """Install a SIGCONT handler for a hangup: it comes with SIGCONT when the terminal was
    ours as session leader (tmux, ssh, script), and Textual's driver would then restart
    its application mode on the dead terminal and hang at exit writing to it. Returns
    (ours, the previous handler) to restore later; None without SIGCONT."""
    if not hasattr(signal, "SIGCONT"):
        return None
    resume = signal.getsignal(signal.SIGCONT)

    def on_continue(signum: int, frame: FrameType | None) -> None:
        if terminal_gone():
            detach_from_terminal()
        elif callable(resume):
            resume(signum, frame)

    signal.signal(signal.SIGCONT, on_continue)
    return on_continue, resume
