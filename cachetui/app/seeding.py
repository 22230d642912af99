"""Start-up that can be stopped: seeding a large empty database shows its progress, and
q, ctrl+c, SIGTERM, SIGHUP and SIGINT stop it at once (the rows so far are rolled back:
the next start seeds afresh).

:class:`Seeding` belongs to the dashboard's session
(:class:`~cachetui.app.dashboard_session.DashboardSession`): it seeds before the dashboard
opens (:meth:`Seeding.run`), and the quit path stops it (:meth:`Seeding.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Label, ProgressBar

from cachetui.engine import Engine

#: From this many profiles to seed on, a screen shows how far the seeding is.
PROGRESS_FROM = 20_000


class SeedingScreen(Screen[None]):
    """The seeding's progress, full screen, until the dashboard can open."""

    DEFAULT_CSS = """
    SeedingScreen { align: center middle; }
    SeedingScreen > Vertical { width: auto; max-width: 90%; height: auto; padding: 1 2;
                               border: round $primary; }
    SeedingScreen Label { width: auto; }
    """
    BINDINGS = [
        Binding("q,ctrl+q,ctrl+c", "stop", "Stop and quit", priority=True),
    ]

    def __init__(self, count: int, where: str, stop: Callable[[], None]) -> None:
        super().__init__()
        self.count = count
        self.where = where
        self._stop = stop

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Seeding {self.count:,} demo profiles into {self.where}", markup=False)
            yield ProgressBar(total=self.count, show_eta=False, id="seeding")
            yield Label("q or ctrl+c stops and quits (nothing is kept)", markup=False)

    def show(self, done: int) -> None:
        with contextlib.suppress(Exception):  # the screen may be leaving already
            self.query_one("#seeding", ProgressBar).update(progress=done)

    def action_stop(self) -> None:
        self._stop()


class Seeding:
    """Seeding ``engine``'s database in ``app``; ``quit`` is what the progress screen's
    q calls (it stops the seeding through the quit path)."""

    def __init__(self, app: App[Any], engine: Engine, quit: Callable[[], None]) -> None:
        self.app = app
        self.engine = engine
        self._quit = quit
        self._seeding: asyncio.Task[int] | None = None
        self._seeding_stopped = False

    async def run(self, count: int) -> bool:
        """Seed ``count`` demo profiles into an empty database, showing the progress of
        a large seeding. False: stopped (the app is quitting)."""
        screen: SeedingScreen | None = None
        if count >= PROGRESS_FROM and await self.engine.db_count() == 0:
            screen = SeedingScreen(count, self.engine.config.db_path, self._quit)
            await self.app.push_screen(screen)
        progress = screen.show if screen is not None else None
        self._seeding = asyncio.ensure_future(self.engine.seed(count, progress=progress))
        try:
            await self._seeding
        except asyncio.CancelledError:
            if not self._seeding_stopped:
                raise  # this worker was cancelled: the seeding with it
            return False
        finally:
            self._seeding = None
            if screen is not None and screen.is_current:
                await screen.dismiss()
        return True

    async def stop(self) -> bool:
        """Stop a seeding under way (its rows are rolled back); False if none was."""
        seeding = self._seeding
        if seeding is None or seeding.done():
            return False
        self._seeding_stopped = True
        seeding.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await seeding
        return True
