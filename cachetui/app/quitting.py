"""The quit path (q): stop the workload, flush what is pending, close the engine; if the
database will not take the pending writes, ask before losing them.

:class:`Quitting` is mixed into :class:`~cachetui.app.app.CacheTuiApp`, whose
``on_unmount`` still releases the engine when the app ends another way.
"""

from __future__ import annotations

from textual import work

from cachetui.app.app_part import AppPart
from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.engine import PendingWritesError


class Quitting(AppPart):
    def __init__(self) -> None:
        super().__init__()
        self._quitting = False

    # Textual's App.action_quit is a coroutine; this one is a worker (one quit at a time).
    @work(group="quit", exclusive=True)
    async def action_quit(self) -> None:  # type: ignore[override]
        if self._quitting:
            return
        self._quitting = True
        try:
            if self.workload is not None:
                await self.workload.stop()
            if not self.engine.running:
                self.exit()
                return
            pending = len(self.engine.pending_writes())
            if pending:
                self.notify(
                    f"Flushing {pending} pending writes before quitting…",
                    title="Quitting",
                    timeout=10,
                )
            try:
                await self.engine.close(timeout=3)
            except PendingWritesError as exc:
                discard = await self.push_screen_wait(
                    ConfirmScreen(
                        "The database is not taking writes",
                        f"{exc}.\n\nQuit anyway and lose {exc.pending} "
                        f"{'write' if exc.pending == 1 else 'writes'}?",
                        yes=f"Quit and lose {exc.pending}",
                        no="Stay",
                    )
                )
                if not discard:
                    self.notify(
                        "still running; switch the outage off (o) and quit again",
                        severity="warning",
                    )
                    return
                await self.engine.close(timeout=0, discard=True)
            self.exit()
        finally:
            self._quitting = False
