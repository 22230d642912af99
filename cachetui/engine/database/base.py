"""The seam between the engine and a database: the few operations the engine needs.

:class:`Database` is what every backend implements (SQLite in
:mod:`cachetui.engine.database.sqlite`, PostgreSQL in
:mod:`cachetui.engine.database.postgres`); the engine, the flusher and the pane views call
only these methods, so the dialect stays inside each backend's modules. Every call the
engine makes goes through :meth:`Faults.before_db_call
<cachetui.engine.lab.faults.Faults.before_db_call>`; the ``peek_*`` calls are the
observer's view for the panes (no faults, no metrics).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetui.engine.errors import DatabaseFileLost
from cachetui.engine.lab.faults import Faults
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter


@dataclass(frozen=True, slots=True)
class RowRejected:
    """The database refused the row (``reason``: its message)."""

    reason: str


@dataclass(frozen=True, slots=True)
class RowConflict:
    """The row's version was not the base the write was built on (None: no such row)."""

    db_version: int | None


@dataclass(frozen=True, slots=True)
class RowLanded:
    """The write had landed before (a durable queue replaying it): its write id is in
    the database already. Nothing was written; it counts as landed, not as a conflict."""


#: Why one row of a guarded write was not written.
RowFailure = RowRejected | RowConflict | RowLanded


def builds_on(profile: Profile, row_write_id: str | None, row_version: int) -> bool:
    """Whether the row holds an earlier write of the same engine instance as ``profile``
    (an older version with the instance part of the write id in common): the engine's
    queue serializes a user's writes, so ``profile`` was built on it (its base is older
    only because the landing's bookkeeping died with a process): not a conflict."""
    if profile.write_id is None or row_write_id is None or row_version >= profile.version:
        return False
    return row_write_id.split(":", 1)[0] == profile.write_id.split(":", 1)[0]


class Database(ABC):
    """A database of profiles (the ``profiles`` and ``dead_letters`` tables, and the
    database's own id in ``cachetui_meta``). Errors that are not about one row raise
    :class:`~cachetui.engine.errors.DatabaseUnavailable`."""

    #: What to show as the database: a file's path, or a server's masked URL.
    path: str
    #: The faults injected into the engine's calls.
    faults: Faults
    #: A random id stored in the database at its first open: a durable queue records it,
    #: so it is never replayed into another database ("" before :meth:`open`).
    database_id: str
    #: How many batches the write-behind flusher may have in flight at once, each on a
    #: connection of its own (distinct users: a user is in one batch at a time).
    write_streams: int = 1

    # -- lifetime ---------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect, create the tables if missing and check they are cachetui's; raise
        DatabaseUnavailable with the reason if not."""

    @abstractmethod
    async def close(self) -> None:
        """Release every connection (idempotent)."""

    def give_up(self, seconds: float | None) -> None:
        """Let no call wait on the database beyond ``seconds`` from now, those in flight
        included (a close giving up; see :mod:`~cachetui.engine.database.giving_up`);
        None: each call has its own timeout again. A database with no network between:
        nothing to do."""
        return None

    def file_error(self) -> DatabaseFileLost | None:
        """Why the database is no longer the one opened (a file deleted or replaced
        under the engine), or None. Only a file can be lost: None by default."""
        return None

    async def rescue(self) -> str:
        """Copy a lost database into a new one and continue there; what is now in use.
        Only a file can be lost: nothing to do by default."""
        return self.path

    # -- the engine's calls (faults apply) ------------------------------------------------
    def read_now(self, user_id: int) -> tuple[bool, Profile | None]:
        """One row read without awaiting, where the backend can (``(True, row or
        None)``); ``(False, None)`` sends the caller through :meth:`fetch_many`."""
        return False, None

    @abstractmethod
    async def fetch_many(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        """The rows of these users (missing users are absent), in one round trip."""

    @abstractmethod
    async def write(
        self, rows: Sequence[tuple[Profile, int]], *, record: bool = False
    ) -> dict[int, RowFailure]:
        """Write each ``(profile, base_version)`` in one transaction, only where the row
        still has ``base_version`` (the version guard), with the profile's write id.
        Returns the rows not written, by user (a write that had landed already is
        :class:`RowLanded`); every other row committed. ``record``: note each landing's
        write id in the same transaction, for :meth:`landed` (a durable queue's
        writes)."""

    @abstractmethod
    async def landed(self, writes: Sequence[tuple[int, str]]) -> set[str]:
        """Which of these ``(user_id, write_id)`` writes are in the database already
        (the row holds the write id, or a recorded landing names it)."""

    async def end_session(self, session: object) -> None:
        """Make sure the session a commit of unknown outcome
        (:class:`~cachetui.engine.errors.OutcomeUnknown`) was sent on is over, so the
        commit cannot land later; DatabaseUnavailable while the database does not
        answer. A backend whose commits always get their reply: nothing to do."""
        return None

    @abstractmethod
    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Read-modify-write of one row that bypasses any cache (version + 1); None if
        there is no such user. WriteRejected if the database refuses it."""

    @abstractmethod
    async def load_dead_letters(self) -> list[DeadLetter]:
        """Every parked write in the ``dead_letters`` table."""

    @abstractmethod
    async def save_dead_letters(
        self, letters: Sequence[DeadLetter], deleted: Sequence[int]
    ) -> None:
        """Upsert these dead letters and delete those of ``deleted`` users, in one
        transaction."""

    @abstractmethod
    async def set_lab_rejection(self, user_id: int, reject: bool) -> None:
        """Install (or drop) a real trigger that refuses every update of the user."""

    @abstractmethod
    async def drop_lab_triggers(self) -> list[str]:
        """Drop every lab trigger (no other trigger is touched); the names dropped."""

    # -- setup and the observer's view (no faults) ---------------------------------------
    @abstractmethod
    async def restore(self, profiles: Sequence[Profile]) -> None:
        """Upsert rows as given, in one transaction (the scenarios' rewind)."""

    @abstractmethod
    async def seed(
        self,
        count: int,
        updated_at: str,
        seed: int = 42,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert demo profiles 1..count if the table is empty, in one transaction; the
        rows inserted. ``progress(rows so far)`` is called on the event loop as they go
        in. Cancelled: the rows so far are rolled back (the table stays empty), within a
        fraction of a second."""

    @abstractmethod
    async def count(self) -> int:
        """Rows in ``profiles``."""

    @abstractmethod
    async def max_user_id(self) -> int:
        """The largest user id (0 in an empty table)."""

    @abstractmethod
    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """These users' rows, for the panes."""

    @abstractmethod
    async def peek_recent(self, limit: int) -> list[Profile]:
        """The most recently updated rows, newest first, for the panes."""
