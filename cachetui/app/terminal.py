"""The terminal while an app runs in it: SIGTERM, SIGHUP and SIGINT quit like q
(:class:`QuitSignals`), and after a hangup nothing hangs drawing on the closed terminal
(:func:`terminal_gone`, :func:`detach_from_terminal`, :func:`guard_hangup`).

Used by the session of the dashboard and of compare mode (:mod:`cachetui.app.session`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import termios
from collections.abc import Callable
from types import FrameType
from typing import Any

from cachetui.cli.quit_report import QUIT_SIGNALS

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


class QuitSignals:
    """SIGTERM, SIGHUP and SIGINT, each calling ``quit`` with its number (Textual's Linux
    driver handles none of them): installed on the running loop by :meth:`install` with
    the hangup guard, removed (and the SIGCONT handler put back) by :meth:`remove`. After
    a hangup the terminal is detached before ``quit`` runs."""

    def __init__(self, quit: Callable[[int], object]) -> None:
        self._quit = quit
        self._installed: list[int] = []
        self._restore_sigcont: tuple[SignalHandler, SignalHandler] | None = None

    def install(self) -> None:
        if self._installed:
            return
        loop = asyncio.get_running_loop()
        self._restore_sigcont = guard_hangup()
        for signum in QUIT_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # no signals here (Windows, not the main thread)
            self._installed.append(signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        while self._installed:
            loop.remove_signal_handler(self._installed.pop())
        if self._restore_sigcont is not None:
            ours, resume = self._restore_sigcont
            if signal.getsignal(signal.SIGCONT) is ours:
                signal.signal(signal.SIGCONT, resume)
            self._restore_sigcont = None

    def _on_signal(self, signum: int) -> None:
        if terminal_gone():  # closed under us: draw nowhere instead of hanging on it
            detach_from_terminal()
        self._quit(signum)
