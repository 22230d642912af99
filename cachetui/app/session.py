"""An app's engines from start to quit, and the terminal meanwhile: what the dashboard
(:class:`~cachetui.app.dashboard_session.DashboardSession`) and compare mode
(:class:`~cachetui.compare.app.CompareApp`) share.

A :class:`Session` records why the start failed (the app then exits with status 2 and
the command prints :attr:`Session.startup_error`), turns SIGTERM, SIGHUP and SIGINT into a
quit while the app runs in a terminal, and releases the engines when the app ends: each
closed, or, when it cannot flush in time, closed with its pending writes discarded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import App

from cachetui.app.terminal import QuitSignals
from cachetui.engine import CacheTuiError, Engine


class Session:
    """``engines`` (started by the app) for the life of ``app``; ``on_signal(signum)``
    quits the app (see :meth:`attach_terminal`)."""

    def __init__(
        self, app: App[Any], engines: Sequence[Engine], on_signal: Callable[[int], object]
    ) -> None:
        self.app = app
        self.engines = tuple(engines)
        #: Why the engines could not start (None: they did); the app exits with status 2.
        self.startup_error: str | None = None
        self._signals = QuitSignals(on_signal)

    def failed(self, exc: CacheTuiError) -> None:
        """The start failed: say why once the terminal is back, and exit with status 2."""
        self.startup_error = str(exc)
        self.app.exit(return_code=2)

    def attach_terminal(self) -> None:
        """SIGTERM, SIGHUP and SIGINT quit like q while the app runs in a terminal
        (Textual's Linux driver handles none of them; its web driver quits on SIGTERM and
        SIGINT itself; headless tests leave the test runner's handlers alone)."""
        if not (self.app.is_headless or self.app.is_web):
            self._signals.install()

    def detach_terminal(self) -> None:
        self._signals.remove()

    async def release(self, timeout: float = 1) -> None:
        """Close every engine still running, waiting at most ``timeout`` for its flush;
        one that cannot flush in time is closed with its pending writes discarded."""
        for engine in self.engines:
            if engine.running:
                try:
                    await engine.close(timeout=timeout)
                except CacheTuiError:
                    await engine.close(timeout=0, discard=True)
