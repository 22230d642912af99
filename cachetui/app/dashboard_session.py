"""The dashboard's session: its engine from start to quit, the lab's workload, and the
quit path (q, ctrl+q, ctrl+c, and SIGTERM, SIGHUP, SIGINT): stop the workload, flush what
is pending, close the engine.

At the start the engine is started (the lab triggers a killed run left behind are
reported) and an empty database is seeded, with its progress when large
(:mod:`cachetui.app.seeding`). If the database will not take the pending writes at the
quit, q asks before losing them. A signal cannot ask: the writes that could not land are
named (user, version) in ``cachetui.log`` beside the default database and, once the
terminal is restored, on stderr (:mod:`cachetui.cli.command` prints
:attr:`DashboardSession.signal_report`); the exit status is 1.

The app's ``on_unmount`` still releases the engine when the app ends another way.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from textual.app import App

from cachetui.app.screens.dialogs import ChoiceScreen, ConfirmScreen
from cachetui.app.seeding import Seeding
from cachetui.app.session import Session
from cachetui.app.talk_mode import TalkMode
from cachetui.app.terminal import detach_from_terminal
from cachetui.cli.quit_report import (
    Parked,
    SignalReport,
    Unknown,
    default_log_path,
    parked_sentence,
    stderr_width,
    unknown_outcomes,
)
from cachetui.engine import CacheTuiError, Engine, Event, EventKind, PendingWritesError
from cachetui.engine.lab.workload import Workload
from cachetui.engine.words import plural
from cachetui.literal import printable


class DashboardSession(Session):
    """``engine`` for the life of the dashboard ``app``: started and seeded with
    ``seed_profiles`` on mount, closed by :meth:`quit` (or released on unmount)."""

    def __init__(self, app: App[Any], engine: Engine, *, seed_profiles: int) -> None:
        super().__init__(app, (engine,), self._on_signal)
        self.engine = engine
        self.seed_profiles = seed_profiles
        #: The background workload (w), made once the lab is open; stopped by the quit.
        self.workload: Workload | None = None
        self._seeding = Seeding(app, engine, self.quit_now)
        self._quitting = False
        self._quit_dialog: ConfirmScreen | None = None
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

    # -- the start -------------------------------------------------------------------------
    async def start(self) -> list[Event] | None:
        """Start the engine. Returns the FAULT events it emitted meanwhile (lab triggers
        left over by a killed run, which it removed); None: it failed (the app exits)."""
        at_start: list[Event] = []
        unsubscribe = self.engine.subscribe(
            lambda event: at_start.append(event) if event.kind is EventKind.FAULT else None
        )
        try:
            await self.engine.start()
        except CacheTuiError as exc:
            self.failed(exc)
            return None
        finally:
            unsubscribe()
        return at_start

    async def open_lab(self, talk: TalkMode, rng: random.Random) -> int | None:
        """Once started: seed an empty database (see :class:`~cachetui.app.seeding.Seeding`),
        set talk mode's preset, and make the background workload over every row (stopped
        until w). Returns the database's rows; None: stopped by q or a signal, or failed
        (the app is quitting)."""
        try:
            if not await self._seeding.run(self.seed_profiles):
                return None
            rows = await self.engine.db_count()
            if talk.on:
                await talk.open(rows)
        except CacheTuiError as exc:
            self.failed(exc)
            return None
        # a float: Workload hands it to random.Random, which takes one (typed int there)
        seed = rng.random()
        self.workload = Workload(self.engine, keys=max(1, rows), seed=seed)  # type: ignore[arg-type]
        return rows

    def notify_recovered(self) -> None:
        """Say what the engine recovered from a durable queue at its start."""
        count, landed = self.engine.recovered, self.engine.recovered_landed
        if count or landed:
            self.app.notify(
                f"recovered {count} write{'s' if count != 1 else ''} from "
                f"{self.engine.recovered_from} "
                "(acknowledged before the last run ended)"
                + (": flushing them" if count else "")
                + (f"; {landed} had landed already: dropped, not written twice" if landed else ""),
                title="Durable queue",
                timeout=8,
            )

    async def release(self, timeout: float = 1) -> None:
        """The app ends without the quit path (tests, an error): stop the workload and
        release the engine."""
        self.detach_terminal()
        if self.workload is not None:
            await self.workload.stop()
        await super().release(timeout)

    # -- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum: int) -> None:
        if self.signal_report is not None:
            return  # already quitting on a signal: the flush is bounded by flush_timeout
        self.signal_report = SignalReport(signum)
        dialog = self._quit_dialog
        if dialog is not None:
            # q is asking whether to lose the pending writes: a signal cannot wait for an
            # answer; the quit goes on, naming them (see _quit)
            dialog.dismiss(True)  # the answer reaches q at once, whatever screen is on top
        elif not self._quitting:
            self.quit_now()  # at once: not after the keys typed before
        # else q is flushing: it sees signal_report when the flush ends

    # -- q, ctrl+q, ctrl+c -----------------------------------------------------------------
    def quit_now(self) -> None:
        """Quit at once, not after the keys typed before (a signal; q while seeding)."""
        self.app.run_worker(self.quit(), group="quit")

    async def quit(self) -> None:
        """Stop the seeding and the workload, flush, close the engine and exit; asks
        before losing pending writes the database will not take. One quit at a time: a
        second q (or ctrl+c, or a signal) while one is flushing does not cancel it."""
        if self._quitting:
            return
        self._quitting = True
        try:
            await self._quit()
        finally:
            self._quitting = False

    async def _quit(self) -> None:
        if await self._seeding.stop() and self.signal_report is not None:
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
            writes = plural(pending, "write")
            notice = [f"Flushing {pending} pending {writes} before quitting…"] if pending else []
            if letters:
                notice.append(parked_sentence(letters) + ".")
            self.app.notify(" ".join(notice), title="Quitting", timeout=10)
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
                    f"{plural(exc.pending, 'write')}?",
                    yes=f"Quit and lose {exc.pending}",
                    no="Stay",
                )
                try:
                    discard = await self.app.push_screen_wait(self._quit_dialog)
                finally:
                    self._quit_dialog = None
                if not discard:
                    self.app.notify(
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
            choice = await self.app.push_screen_wait(
                ChoiceScreen(
                    "The database file is gone",
                    f"{engine.database_file_error}.\n\n{exc.pending} acknowledged "
                    f"{plural(exc.pending, 'write is', 'writes are')} pending. Write "
                    f"them, with every row the engine still holds, into a new file at "
                    f"{engine.db.path} (beside it, if another file took its place), or "
                    "discard them?",
                    {"rescue": "Write a new file", "discard": "Discard them", "stay": "Stay"},
                )
            )
        if choice in (None, "stay"):
            self.app.notify("still running: nothing written, nothing discarded", severity="warning")
            return "stay"
        if choice == "discard":
            return "discard"
        try:
            path = await engine.rescue_database()
            await engine.close()
        except CacheTuiError as err:
            self.app.notify(f"could not write a new file: {err}", severity="error", timeout=10)
            return "stay"
        self.app.notify(f"wrote every row and the pending writes into {path}", title="Quitting")
        return "rescued"

    def _exit_after_signal(self) -> None:
        report = self.signal_report
        if report is None:
            self.app.exit()
            return
        report.write_log(self.log_path or default_log_path())
        self.app.exit(return_code=report.exit_code)


def print_signal_report(report: SignalReport) -> None:
    """The report on stderr (the terminal is restored by now; gone after a hangup)."""
    try:
        for line in report.stderr_lines(stderr_width()):  # may quote the database's error
            print(printable(line), file=sys.stderr)
        sys.stderr.flush()
    except OSError:
        detach_from_terminal()
