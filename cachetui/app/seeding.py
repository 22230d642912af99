"""Start-up that can be stopped: seeding a large empty database shows its progress, and
q, ctrl+c, SIGTERM, SIGHUP and SIGINT stop it at once (the rows so far are rolled back:
the next start seeds afresh).

:class:`Seeding` is mixed into :class:`~cachetui.app.app.CacheTuiApp`; it seeds before
the dashboard opens (:meth:`seed_database`), and the quit path stops it
(:meth:`stop_seeding`).
"""

from __future__ import annotations

import asyncio
import contextlib

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Label, ProgressBar

from cachetui.app.app_part import AppPart

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

    def __init__(self, count: int, where: str) -> None:
        super().__init__()
        self.count = count
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Seeding {self.count:,} demo profiles into {self.where}", markup=False)
            yield ProgressBar(total=self.count, show_eta=False, id="seeding")
            yield Label("q or ctrl+c stops and quits (nothing is kept)", markup=False)

    def show(self, done: int) -> None:
        with contextlib.suppress(Exception):  # the screen may be leaving already
            self.query_one("#seeding", ProgressBar).update(progress=done)

    def action_stop(self) -> None:
        app = self.app
        assert isinstance(app, Seeding)
        app.quit_now()


class Seeding(AppPart):
    _seeding: asyncio.Task[int] | None = None
    _seeding_stopped = False

    async def seed_database(self) -> bool:
        """Seed ``seed_profiles`` demo profiles into an empty database, showing the
        progress of a large seeding. False: stopped (the app is quitting)."""
        count = self.seed_profiles
        screen: SeedingScreen | None = None
        if count >= PROGRESS_FROM and await self.engine.db_count() == 0:
            screen = SeedingScreen(count, self.engine.config.db_path)
            await self.push_screen(screen)
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

    async def stop_seeding(self) -> bool:
        """Stop a seeding under way (its rows are rolled back); False if none was."""
        seeding = self._seeding
        if seeding is None or seeding.done():
            return False
        self._seeding_stopped = True
        seeding.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await seeding
        return True
