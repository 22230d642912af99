"""SIGTERM, SIGHUP and SIGINT quit the compare screen like q in a terminal (Textual's
Linux driver handles none of them), so the engines close and the copies are deleted."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from cachetui.app.terminal import detach_from_terminal, guard_hangup, terminal_gone


class QuitSignals:
    """The handlers, installed on the running loop by :meth:`install` and removed by
    :meth:`remove`; each signal calls ``quit`` (after a hangup: with the terminal
    detached, so that nothing hangs drawing on it)."""

    def __init__(self, quit: Callable[[], object]) -> None:
        self._quit = quit
        self._installed: list[int] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        guard_hangup()  # a hangup under tmux/ssh: see Quitting
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal)
            except (NotImplementedError, RuntimeError, ValueError, AttributeError):
                continue
            self._installed.append(signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        while self._installed:
            loop.remove_signal_handler(self._installed.pop())

    def _on_signal(self) -> None:
        if terminal_gone():  # closed under us: draw nowhere instead of hanging on it
            detach_from_terminal()
        self._quit()
