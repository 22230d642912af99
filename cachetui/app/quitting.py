"""The quit path (q, ctrl+q, ctrl+c, and SIGTERM, SIGHUP, SIGINT): stop the workload,
flush what is pending, close the engine.

If the database will not take the pending writes, q asks before losing them. A signal
cannot ask: the writes that could not land are named (user, version) in
``cachetui.log`` beside the default database and, once the terminal is restored, on
stderr (:mod:`cachetui.cli.command` prints :attr:`Quitting.signal_report`); the exit status is 1.

:class:`Quitting` is mixed into :class:`~cachetui.app.app.CacheTuiApp`, whose
``on_unmount`` still releases the engine when the app ends another way.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from textual import work

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.app.screens.dialogs import ChoiceScreen, ConfirmScreen
from cachetui.app.terminal import SignalHandler, detach_from_terminal, guard_hangup, terminal_gone
from cachetui.cli.quit_report import (
    QUIT_SIGNALS,
    Parked,
    SignalReport,
    Unknown,
    default_log_path,
    parked_sentence,
    unknown_outcomes,
)
from cachetui.engine import CacheTuiError, PendingWritesError
from cachetui.literal import printable


class Quitting(AppPart):
    def __init__(self) -> None:
        super().__init__()
        self._quitting = False
        self._quit_dialog: ConfirmScreen | None = None
        self._signals_installed: list[int] = []
        self._restore_sigcont: tuple[SignalHandler, SignalHandler] | None = None
        #: Set when a signal made the app quit; cli prints it once the terminal is back.
        self.signal_report: SignalReport | None = None
        #: Where a quit on a signal is logged (None: beside the default database).
        self.log_path: Path | None = None
        #: The dead letters left in the database when the engine closed (cli names them).
        self.parked_on_exit: list[Parked] = []
        #: (writes a durable queue keeps for the next start, where) after the quit.
        self.kept_on_exit: tuple[int, str] = (0, "")
        #: The commits of unknown outcome close could not settle (user, version, write id).
        self.unknown_on_exit: list[Unknown] = []

    # -- signals -------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM, SIGHUP and SIGINT quit like q while the app runs in a terminal
        (Textual's Linux driver handles none of them; its web driver quits on SIGTERM
        and SIGINT itself; headless tests leave the test runner's handlers alone)."""
        if self.is_headless or self.is_web or self._signals_installed:
            return
        loop = asyncio.get_running_loop()
        self._restore_sigcont = guard_hangup()
        for signum in QUIT_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # no signals here (Windows, not the main thread)
            self._signals_installed.append(signum)

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        while self._signals_installed:
            loop.remove_signal_handler(self._signals_installed.pop())
        if self._restore_sigcont is not None:
            ours, resume = self._restore_sigcont
            if signal.getsignal(signal.SIGCONT) is ours:
                signal.signal(signal.SIGCONT, resume)
            self._restore_sigcont = None

    def _on_signal(self, signum: int) -> None:
        if self.signal_report is not None:
            return  # already quitting on a signal: the flush is bounded by flush_timeout
        self.signal_report = SignalReport(signum)
        if terminal_gone():
            detach_from_terminal()
        dialog = self._quit_dialog
        if dialog is not None:
            # q is asking whether to lose the pending writes: a signal cannot wait for an
            # answer; the quit goes on, naming them (see _quit)
            dialog.dismiss(True)  # the answer reaches q at once, whatever screen is on top
        elif not self._quitting:
            self.quit_now()  # at once: not after the keys typed before
        # else q is flushing: it sees signal_report when the flush ends

    # -- q, ctrl+q, ctrl+c -----------------------------------------------------------------
    def action_help_quit(self) -> None:
        """ctrl+c quits like q (Textual only shows a toast saying how to quit)."""
        self.action_quit()

    # Textual's App.action_quit is a coroutine; this one takes its turn after the keys
    # typed before it (U then q: the burst's writes are flushed too). One quit at a time:
    # a second q (or ctrl+c, or a signal) while one is flushing does not cancel it.
    @in_order
    async def action_quit(self) -> None:  # type: ignore[override]
        await self._quit_once()

    def quit_now(self) -> None:
        """Quit at once, not after the keys typed before (a signal; q while seeding)."""
        self._quit_worker()

    @work(group="quit")
    async def _quit_worker(self) -> None:
        await self._quit_once()

    async def _quit_once(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        try:
            await self._quit()
        finally:
            self._quitting = False

    async def _quit(self) -> None:
        if await self.stop_seeding() and self.signal_report is not None:
            self.signal_report.seeding_stopped = True
        if self.workload is not None:
            await self.workload.stop()
        if not self.engine.running:
            self._exit_after_signal()
            return
        pending = len(self.engine.pending_writes())
        letters = len(self.engine.dead_letters())
        queue = self.engine.queue_location  # (gone with the engine once it is closed)
        if pending or letters:
            notice = [f"Flushing {pending} pending writes before quitting…"] if pending else []
            if letters:
                notice.append(parked_sentence(letters) + ".")
            self.notify(" ".join(notice), title="Quitting", timeout=10)
        try:
            await self.engine.close()  # waits at most flush_timeout
        except PendingWritesError as exc:
            answer = "ask"
            if self.engine.database_file_error:
                answer = await self._rescue_or_stay(exc)
                if answer == "stay":
                    return
            if answer != "ask":
                pass  # rescued and closed, or discard chosen already
            elif self.signal_report is None:
                letters = len(self.engine.dead_letters())
                parked = f"\n\n{parked_sentence(letters)}." if letters else ""
                self._quit_dialog = ConfirmScreen(
                    "The database is not taking writes",
                    f"{exc}.{parked}\n\nQuit anyway and lose {exc.pending} "
                    f"{'write' if exc.pending == 1 else 'writes'}?",
                    yes=f"Quit and lose {exc.pending}",
                    no="Stay",
                )
                try:
                    discard = await self.push_screen_wait(self._quit_dialog)
                finally:
                    self._quit_dialog = None
                if not discard:
                    self.notify(
                        "still running; switch the outage off (o) and quit again",
                        severity="warning",
                    )
                    return
            # (user, newest version) of each write dropped: the queue as the engine left it
            if self.engine.running:
                lost = await self.engine.close(timeout=0, discard=True)
                if self.signal_report is not None:
                    self.signal_report.lost = lost
                    self.signal_report.reason = str(exc.__cause__ or exc)
        self.kept_on_exit = (self.engine.kept_on_close, queue)
        if self.engine.kept_on_close and self.signal_report is not None:
            self.signal_report.kept = self.kept_on_exit
        self.parked_on_exit = [(d.user_id, d.version, d.kind) for d in self.engine.dead_letters()]
        self.unknown_on_exit = unknown_outcomes(self.engine.unsettled_commits())
        if self.signal_report is not None:
            self.signal_report.flushed = max(0, pending - len(self.signal_report.lost))
            self.signal_report.parked = self.parked_on_exit
            self.signal_report.unknown = self.unknown_on_exit
            self.signal_report.db_path = self.engine.config.db_path
        self._exit_after_signal()

    async def _rescue_or_stay(self, exc: PendingWritesError) -> str:
        """The database file was deleted or replaced while open: offer to write the
        pending writes (and every row the engine still holds) into a new file, or to
        discard them. A signal cannot wait for an answer: it writes the new file.
        Returns "rescued" (closed), "discard", or "stay" (chosen, or the rescue failed)."""
        engine = self.engine
        choice: str | None = "rescue"
        if self.signal_report is None:
            choice = await self.push_screen_wait(
                ChoiceScreen(
                    "The database file is gone",
                    f"{engine.database_file_error}.\n\n{exc.pending} acknowledged "
                    f"{'write is' if exc.pending == 1 else 'writes are'} pending. Write "
                    f"them, with every row the engine still holds, into a new file at "
                    f"{engine.db.path} (beside it, if another file took its place), or "
                    "discard them?",
                    {"rescue": "Write a new file", "discard": "Discard them", "stay": "Stay"},
                )
            )
        if choice in (None, "stay"):
            self.notify("still running: nothing written, nothing discarded", severity="warning")
            return "stay"
        if choice == "discard":
            return "discard"
        try:
            path = await engine.rescue_database()
            await engine.close()
        except CacheTuiError as err:
            self.notify(f"could not write a new file: {err}", severity="error", timeout=10)
            return "stay"
        self.notify(f"wrote every row and the pending writes into {path}", title="Quitting")
        return "rescued"

    def _exit_after_signal(self) -> None:
        report = self.signal_report
        if report is None:
            self.exit()
            return
        report.write_log(self.log_path or default_log_path())
        self.exit(return_code=report.exit_code)


def print_signal_report(report: SignalReport) -> None:
    """The report on stderr (the terminal is restored by now; gone after a hangup)."""
    try:
        for line in report.stderr_lines():  # they may quote the database's error
            print(printable(line), file=sys.stderr)
        sys.stderr.flush()
    except OSError:
        detach_from_terminal()
