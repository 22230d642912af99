"""What a quit on a signal reports (the app's, :mod:`cachetui.app.dashboard_session`, and
``cachetui worker``'s): the writes that landed, those that could not (named, user and
version, on stderr and in ``cachetui.log``), the commits of unknown outcome close could
not settle (named, user, version and write id), the dead letters left parked. No
Textual."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cachetui.cli.driver_logs import log_path
from cachetui.engine.words import plural

#: The signals that quit like q (SIGHUP: the terminal was closed). Not on Windows.
QUIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


def default_log_path() -> Path:
    """``cachetui.log`` in the user's data directory, beside the default database."""
    return log_path()


#: A dead letter as the quit path names it: (user_id, version, kind).
Parked = tuple[int, int, str]


def stderr_width() -> int | None:
    """The width the report at exit is wrapped to: the terminal's when stderr is one;
    None (not wrapped: one line each, for a log or a pipe) otherwise."""
    try:
        if not sys.stderr.isatty():
            return None
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):  # closed, redirected, gone (a hangup)
        return None


def wrapped(line: str, width: int | None, indent: str = "", more: str = "  ") -> list[str]:
    """``line`` after ``indent``, wrapped to ``width`` columns (None: not wrapped), each
    further line indented by ``more``; a no-break space joins words never cut apart."""
    if width is None:
        lines = [indent + line]
    else:
        lines = textwrap.wrap(
            line,
            width=max(width, 20),
            initial_indent=indent,
            subsequent_indent=indent + more,
            break_long_words=False,
            break_on_hyphens=False,
        )
    return [text.replace("\N{NO-BREAK SPACE}", " ") for text in lines]


def parked_sentence(count: int) -> str:
    """How many dead letters stay parked, for the quit dialog and notice."""
    letters = plural(count, "dead letter stays", "dead letters stay")
    return (
        f"{count} {letters} parked in the database (not lost: the next start lists them, "
        "d, to retry or discard)"
    )


def parked_lines(parked: list[Parked], db_path: str, width: int | None = None) -> list[str]:
    """The dead letters left parked at exit, named (user, version, kind), for stderr,
    wrapped to ``width`` (:func:`stderr_width`; None: not wrapped)."""
    if not parked:
        return []
    count = len(parked)
    letters = plural(count, "dead letter stays", "dead letters stay")
    named = [f"user\N{NO-BREAK SPACE}{u} v{v} ({kind})" for u, v, kind in parked]
    return [
        *wrapped(
            f"cachetui: {count} {letters} parked in {db_path} (table dead_letters): "
            "cachetui lists them at the next start (d) to retry or discard",
            width,
        ),
        *wrapped("parked: " + ", ".join(named), width, indent="  "),
    ]


#: A commit of unknown outcome as the quit path names it: (user_id, version, write_id).
Unknown = tuple[int, int, str]


def unknown_outcomes(commits: Iterable[Any]) -> list[Unknown]:
    """The engine's ``unsettled_commits()`` after its close, as the quit path names them."""
    return [(c.user_id, c.profile.version, str(c.write_id)) for c in commits]


def unknown_lines(unknown: list[Unknown], width: int | None = None) -> list[str]:
    """The commits of unknown outcome close could not settle, named, for stderr, wrapped
    to ``width`` (:func:`stderr_width`; None: not wrapped): each may have landed or not
    (its reply was lost and the database did not answer since)."""
    if not unknown:
        return []
    count = len(unknown)
    commits = plural(count, "commit")
    named = [f"user\N{NO-BREAK SPACE}{u} v{v} ({w})" for u, v, w in unknown]
    return [
        *wrapped(
            f"cachetui: {count} {commits} of unknown outcome not settled: the reply was lost "
            "and the database did not answer since, so each may have landed or not (a row "
            "holding that write id landed it)",
            width,
        ),
        *wrapped("unknown (user, version, write id): " + ", ".join(named), width, "  "),
    ]


@dataclass
class SignalReport:
    """How a quit on a signal went: what landed, what could not, what stays parked."""

    signal: int
    flushed: int = 0  # writes pending when the signal came that landed
    lost: list[tuple[int, int]] = field(default_factory=list)  # (user_id, version)
    reason: str = ""  # why the lost writes could not land
    log: Path | None = None  # where the report was written (None: it could not be)
    parked: list[Parked] = field(default_factory=list)  # dead letters left in the database
    db_path: str = ""
    #: (writes a durable queue keeps for the next start, where): nothing lost
    kept: tuple[int, str] = (0, "")
    seeding_stopped: bool = False  # it came while the database was being seeded
    #: commits of unknown outcome close could not settle (:func:`unknown_outcomes`)
    unknown: list[Unknown] = field(default_factory=list)

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name

    @property
    def exit_code(self) -> int:
        return 1 if self.lost or self.unknown else 0

    def summary(self) -> str:
        if self.seeding_stopped:
            return (
                f"quit on {self.name} while seeding: no profile was kept (the next start "
                "seeds afresh)"
            )
        if self.kept[0]:
            kept, where = self.kept
            stay = plural(kept, "write stays", "writes stay")
            return (
                f"quit on {self.name}: {kept} pending {stay} in the durable queue {where}; "
                "replayed on next start"
            )
        if not self.lost:
            writes = plural(self.flushed, "write")
            return f"quit on {self.name}: {self.flushed} pending {writes} flushed"
        count = len(self.lost)
        writes = plural(count, "write")
        return (
            f"quit on {self.name}: {count} pending {writes} could not be written "
            f"and {plural(count, 'is', 'are')} lost ({self.reason})"
        )

    def stderr_lines(self, width: int | None = None) -> list[str]:
        """The report, wrapped to ``width`` (:func:`stderr_width`; None: not wrapped)."""
        lines = wrapped(f"cachetui: {self.summary()}", width)
        if self.lost:
            # one pending write per user: its newest acknowledged version
            named = [f"user\N{NO-BREAK SPACE}{u} v{v}" for u, v in self.lost]
            lines += wrapped("lost (user, newest version): " + ", ".join(named), width, "  ")
        lines += unknown_lines(self.unknown, width)
        lines += parked_lines(self.parked, self.db_path, width)
        if self.log is not None and (self.lost or self.unknown):
            lines += wrapped(f"cachetui: written to {self.log}", width)
        return lines

    def write_log(self, path: Path) -> None:
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        lines = [f"{stamp} pid {os.getpid()} {self.summary()}"]
        lines += [f"{stamp}   lost: user {u} version {v}" for u, v in self.lost]
        lines += [
            f"{stamp}   unknown outcome: user {u} version {v} write id {w}"
            for u, v, w in self.unknown
        ]
        lines += [f"{stamp}   parked: user {u} version {v} ({k})" for u, v, k in self.parked]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write("".join(f"{line}\n" for line in lines))
        except OSError:
            return
        self.log = path
