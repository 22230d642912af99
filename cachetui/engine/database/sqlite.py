"""The SQLite backend: the profiles in a SQLite file through aiosqlite (WAL mode).

This module alone touches aiosqlite's private calls (a connection's ``_thread``,
``_execute`` and ``_conn``), in :func:`connect` and :func:`call`; the outbox file opens
and runs its connection through them too. Their SQL is in
:mod:`cachetui.engine.database.sqlite_statements`.

Each call is one trip to aiosqlite's thread: a small function that runs the statements
(and the commit) there, instead of one await per execute/fetch/commit. A read is then
one hand-off instead of three, a write one instead of two, and a multi-statement call
is atomic without an asyncio lock (the thread runs one function at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from cachetui.engine.database import sqlite_guarded as guarded
from cachetui.engine.database import sqlite_statements as sql
from cachetui.engine.database.base import Database, RowFailure
from cachetui.engine.database.paths import database_path_problem
from cachetui.engine.errors import DatabaseFileLost, DatabaseUnavailable, WriteRejected
from cachetui.engine.lab.faults import Faults
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter

_T = TypeVar("_T")


async def connect(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection whose worker thread does not keep the process alive: a
    program that ends without closing the engine still exits (SQLite's journal makes an
    interrupted transaction roll back; committed rows are safe)."""
    connection = aiosqlite.connect(path)
    thread = getattr(connection, "_thread", None)
    if thread is not None:
        thread.daemon = True
    return await connection


async def call(conn: aiosqlite.Connection, fn: Callable[..., _T], *args: Any) -> _T:
    """Run ``fn(sqlite3_connection, *args)`` in the connection's thread (one hand-off).

    Cancelling the caller does not stop the thread: so a cancelled call waits for
    the function to finish before it raises, and never returns while a commit is
    still on its way (which would let it land behind the caller's back). SQLite's
    errors become :class:`RowPermanentError` (one row refused for good) or
    DatabaseUnavailable (transient)."""
    future: asyncio.Future[_T] = asyncio.ensure_future(
        conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
    )
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
    except DatabaseUnavailable:
        raise
    except sqlite3.Error as exc:
        if guarded.row_permanent(exc):
            raise sql.RowPermanentError(str(exc)) from exc
        raise DatabaseUnavailable(f"SQLite error: {exc}", transient=True) from exc
    except ValueError as exc:  # the connection is closed
        raise DatabaseUnavailable(f"SQLite error: {exc}", transient=True) from exc


class SQLiteDatabase(Database):
    """The profiles in a SQLite file (WAL mode) or ``:memory:``, through aiosqlite."""

    def __init__(self, path: str, faults: Faults | None = None) -> None:
        self.path = path
        self.faults = faults or Faults()
        self._conn: aiosqlite.Connection | None = None
        # The observer (the panes) reads through its own connection, so that it never
        # waits behind the engine's queue of calls (WAL lets readers run beside writers).
        self._observer: aiosqlite.Connection | None = None
        # The file's identity (device, inode) when opened: a file deleted or replaced
        # under the engine is detected before each write (None: ``:memory:``).
        self._identity: tuple[int, int] | None = None
        #: A random id stored in the database (``cachetui_meta``) at its first open: an
        #: outbox records it, so it is never replayed into another database.
        self.database_id = ""
        # Point reads of the engine on the event loop's thread (see read_now).
        self._reader: sqlite3.Connection | None = None
        #: False: every engine read takes aiosqlite's thread (to compare the two paths,
        #: or to test the awaits of that path).
        self.read_on_thread = True
        self._recorded = 0  # landings recorded since ``landed_writes`` was last pruned

    async def open(self) -> None:
        try:
            self._conn = await connect(self.path)
            self.database_id = await call(self._conn, sql.setup, self.path != ":memory:")
            if self.path != ":memory:":
                self._observer = await connect(self.path)
                stat = os.stat(self.path)
                self._identity = (stat.st_dev, stat.st_ino)
                self._open_reader()
        except Exception as exc:  # sqlite3.Error, OSError, ForeignDatabase
            await self.close()
            reason = database_path_problem(self.path) or str(exc)  # SQLite's words are vague
            raise DatabaseUnavailable(f"cannot open database {self.path}: {reason}") from exc

    def file_error(self) -> DatabaseFileLost | None:
        """Why the file at :attr:`path` is no longer the one this database opened
        (deleted, or another file put in its place), or None if it still is. One
        ``stat`` call (a few µs)."""
        if self._identity is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return DatabaseFileLost(self.path, "deleted")
        except OSError as exc:
            return DatabaseFileLost(self.path, f"unreadable ({exc.strerror})")
        if (stat.st_dev, stat.st_ino) != self._identity:
            return DatabaseFileLost(self.path, "replaced by another file")
        return None

    def _check_file(self) -> None:
        error = self.file_error()
        if error is not None:
            raise error

    async def rescue(self) -> str:
        """Copy the database this object still holds open (every row and dead letter,
        even if its file was deleted) into a new file at :attr:`path` — or, if another
        file now sits there, beside it as ``<path>.rescued-<UTC time>`` — and continue on
        the copy. Returns the path written. Raises DatabaseUnavailable if the copy fails
        (the old connection is then kept)."""
        lost = self.file_error()
        if lost is None:
            return self.path
        target = self.path
        if lost.how != "deleted":
            target = f"{self.path}.rescued-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        scratch = f"{target}.part"
        try:
            await call(self.conn, sql.backup, scratch)
        except DatabaseUnavailable:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
            raise
        await self.close()
        # Closing the last connection of the lost file removed its -wal/-shm files by
        # name; if any remain (another process has the lost file open), a new file at
        # this path must not pick them up.
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target + suffix)
        os.replace(scratch, target)
        self.path = target
        await self.open()
        return target

    async def close(self) -> None:
        self._close_reader()
        for conn in (self._observer, self._conn):
            if conn is not None:
                await conn.close()
        self._conn = self._observer = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseUnavailable(f"database {self.path} is not open")
        return self._conn

    # -- point reads on the calling thread -------------------------------------------------
    def _open_reader(self) -> None:
        """A read-only sqlite3 connection for :meth:`read_now`, in WAL mode only (its
        readers never wait for a writer); none otherwise. Its busy timeout is 0: a read
        that would wait falls back to aiosqlite instead of blocking the event loop."""
        uri = Path(self.path).absolute().as_uri() + "?mode=ro"
        reader = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
        try:
            (mode,) = reader.execute("PRAGMA journal_mode").fetchone()
            reader.execute("PRAGMA query_only = 1")
        except sqlite3.Error:
            reader.close()
            return
        if str(mode).lower() != "wal":
            reader.close()
            return
        self._reader = reader

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def read_now(self, user_id: int) -> tuple[bool, Profile | None]:
        """One user's row read on the calling thread (a primary-key read: a few µs, where a
        trip to aiosqlite's thread costs tens): ``(True, row or None)``. ``(False, None)``
        when it cannot be read so — no reader (``:memory:``, not WAL, ``read_on_thread``
        False), a database fault is injected (the awaited path applies it), or SQLite would
        have to wait or fails:
        then the caller reads through :meth:`fetch_many`, which words the errors."""
        reader = self._reader
        if reader is None or not self.read_on_thread or self.faults.db_faulty:
            return False, None
        try:
            # fetchall: the statement runs to its end, so no read transaction stays open
            rows = reader.execute(sql.SELECT_ONE, (user_id,)).fetchall()
        except sqlite3.Error:
            return False, None
        return True, (Profile(*rows[0]) if rows else None)

    # -- the engine's calls (faults apply) --------------------------------------------
    async def fetch_many(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        """The rows of these users (missing users are absent), in one query."""
        await self.faults.before_db_call()
        rows = await call(self.conn, sql.select, user_ids)
        return {row[0]: Profile(*row) for row in rows}

    async def write(
        self, rows: Sequence[tuple[Profile, int]], *, record: bool = False
    ) -> dict[int, RowFailure]:
        """Write each ``(profile, base_version)`` in one transaction, only where the row
        still has ``base_version`` (the version guard: a row's version never goes down).
        Returns the rows not written, by user: :class:`RowRejected` (SQLite refused
        that row for good), :class:`RowConflict` or :class:`RowLanded`; every other row
        committed. ``record``: their write ids go into ``landed_writes`` in the same
        transaction. Raises DatabaseUnavailable (nothing written) for errors that are
        not about one row, and DatabaseFileLost if the file was deleted or replaced
        since it was opened."""
        await self.faults.before_db_call()
        self._check_file()
        failures = await call(self.conn, guarded.guarded_write, list(rows), record)
        if record:
            self._recorded += len(rows) - len(failures)
            if self._recorded >= guarded.PRUNE_EVERY:
                self._recorded = 0
                await call(self.conn, guarded.prune_landings)
        return failures

    async def landed(self, writes: Sequence[tuple[int, str]]) -> set[str]:
        """Which of these ``(user_id, write_id)`` writes are in the database already."""
        if not writes:
            return set()
        await self.faults.before_db_call()
        return await call(self.conn, guarded.landed_ids, list(writes))

    async def set_lab_rejection(self, user_id: int, reject: bool) -> None:
        """Install (or drop) the real trigger ``cachetui_lab_reject_<id>`` that makes
        SQLite refuse every update of the user, past any injected fault."""
        await call(self.conn, sql.lab_trigger, user_id, reject)

    async def drop_lab_triggers(self) -> list[str]:
        """Drop every ``cachetui_lab_reject_*`` trigger (other triggers are never
        touched); the names dropped."""
        return await call(self.conn, sql.drop_lab_triggers)

    async def load_dead_letters(self) -> list[DeadLetter]:
        rows = await call(
            self.conn, sql.fetch_all, f"SELECT {sql.DEAD_LETTER_COLUMNS} FROM dead_letters"
        )
        return [DeadLetter.from_row(tuple(row)) for row in rows]

    async def save_dead_letters(
        self, letters: Sequence[DeadLetter], deleted: Sequence[int]
    ) -> None:
        """Upsert these dead letters and delete those of ``deleted`` users, in one
        transaction (faults apply: while the database is down they stay in memory)."""
        await self.faults.before_db_call()
        self._check_file()
        await call(self.conn, sql.save_dead_letters, [d.as_row() for d in letters], list(deleted))

    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Read-modify-write of one row that bypasses any cache; version + 1."""
        await self.faults.before_db_call()
        self._check_file()
        try:
            return await call(self.conn, sql.external_write, user_id, changes, updated_at)
        except sql.RowPermanentError as exc:
            raise WriteRejected(user_id, 0, str(exc)) from exc

    # -- setup and the observer's view (no faults) -------------------------------------
    async def restore(self, profiles: Sequence[Profile]) -> None:
        """Upsert rows exactly as given (versions and write ids too), in one
        transaction, with no fault applied."""
        try:
            await call(self.conn, sql.restore, [p.as_row() for p in profiles])
        except sql.RowPermanentError as exc:  # a constraint of the user's own refuses a row
            raise DatabaseUnavailable(f"cannot restore the rows: {exc}") from exc

    async def seed(
        self,
        count: int,
        updated_at: str,
        seed: int = 42,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert demo profiles 1..count if the table is empty; returns rows inserted.
        Cancelled: the thread stops after its current chunk and rolls back."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def report(done: int) -> None:  # in the connection's thread
            if progress is not None:
                loop.call_soon_threadsafe(progress, done)

        seeding = asyncio.ensure_future(
            call(self.conn, sql.seed, count, updated_at, seed, report, stop)
        )
        try:
            return await asyncio.shield(seeding)
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait([seeding])
            if not seeding.cancelled():
                seeding.exception()  # SeedStopped (rolled back), or it had finished: seen
            raise

    async def count(self) -> int:
        return await call(self._observer_conn(), sql.scalar, "SELECT count(*) FROM profiles")

    async def max_user_id(self) -> int:
        return await call(self.conn, sql.scalar, "SELECT max(user_id) FROM profiles")

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        rows = await self._peek(sql.select, list(user_ids))
        return {row[0]: Profile(*row) for row in rows}

    async def peek_recent(self, limit: int) -> list[Profile]:
        """The most recently updated rows, newest first."""
        rows = await self._peek(sql.recent, limit)
        return [Profile(*row) for row in rows]

    async def _peek(self, fn: Callable[..., _T], *args: Any) -> _T:
        """A read for the panes (past any injected fault): on the calling thread with the
        read-only reader when there is one (a pane's few hundred rows by key or by the
        ``updated_at`` index take well under a millisecond, where each trip to a thread
        waits behind whatever the event loop is doing), else on the observer's thread."""
        reader = self._reader
        if reader is not None and self.read_on_thread:
            with contextlib.suppress(sqlite3.Error):  # it would wait: the thread words errors
                return fn(reader, *args)
        return await call(self._observer_conn(), fn, *args)

    def _observer_conn(self) -> aiosqlite.Connection:
        return self._observer if self._observer is not None else self.conn
