"""The real SQLite database of profiles, through aiosqlite (WAL mode).

Every call the engine makes goes through :meth:`Faults.before_db_call`; the ``peek_*``
calls are the observer's view for the panes (no faults, no metrics).

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
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from cachetui.engine.database_path import database_path_problem
from cachetui.engine.dead_letters import DeadLetter
from cachetui.engine.demo_data import demo_profiles
from cachetui.engine.errors import DatabaseFileLost, DatabaseUnavailable, WriteRejected
from cachetui.engine.faults import Faults
from cachetui.engine.profile import Profile

SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    user_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    bio TEXT NOT NULL,
    location TEXT NOT NULL,
    followers INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
DROP INDEX IF EXISTS profiles_updated_at;
CREATE INDEX IF NOT EXISTS profiles_recent ON profiles (updated_at DESC, user_id);
CREATE TABLE IF NOT EXISTS dead_letters (
    user_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- rejected | conflict
    version INTEGER NOT NULL,
    base_version INTEGER NOT NULL,
    db_version INTEGER,
    profile TEXT NOT NULL,         -- JSON
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_failed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cachetui_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: ``PRAGMA user_version`` of the schema above: later schema changes migrate from it
#: (2 added ``cachetui_meta``, which holds the database's id: an outbox names it; 3 put
#: the ``updated_at`` index in the order the Database pane reads it, newest first then by
#: id: the pane's 60 rows come off the index, where 100,000 rows seeded at one instant
#: had to be sorted, ~100 ms, at every repaint).
SCHEMA_VERSION = 3
DEAD_LETTER_COLUMNS = (
    "user_id, kind, version, base_version, db_version, profile, error, attempts, "
    "first_failed_at, last_failed_at"
)
COLUMNS = "user_id, name, bio, location, followers, version, updated_at"
UPSERT = (
    f"INSERT INTO profiles ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, bio = excluded.bio, "
    "location = excluded.location, followers = excluded.followers, "
    "version = excluded.version, updated_at = excluded.updated_at"
)
_SELECT_ONE = f"SELECT {COLUMNS} FROM profiles WHERE user_id = ?"
#: SQLite's default limit of host parameters per statement is 999 on old builds.
_MAX_IN = 500
_T = TypeVar("_T")


async def _connect(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection whose worker thread does not keep the process alive: a
    program that ends without closing the engine still exits (SQLite's journal makes an
    interrupted transaction roll back; committed rows are safe)."""
    connection = aiosqlite.connect(path)
    thread = getattr(connection, "_thread", None)
    if thread is not None:
        thread.daemon = True
    return await connection


class RowPermanentError(Exception):
    """SQLite refused one row for good (see :func:`row_permanent`); internal."""


class Database:
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

    async def open(self) -> None:
        try:
            self._conn = await _connect(self.path)
            self.database_id = await self._run(self._conn, _setup, self.path != ":memory:")
            if self.path != ":memory:":
                self._observer = await _connect(self.path)
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
            await self._run(self.conn, _backup, scratch)
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
            rows = reader.execute(_SELECT_ONE, (user_id,)).fetchall()
        except sqlite3.Error:
            return False, None
        return True, (Profile(*rows[0]) if rows else None)

    # -- the engine's calls (faults apply) --------------------------------------------
    async def fetch_many(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        """The rows of these users (missing users are absent), in one query."""
        await self.faults.before_db_call()
        rows = await self._run(self.conn, _select, user_ids)
        return {row[0]: Profile(*row) for row in rows}

    async def write(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, RowFailure]:
        """Write each ``(profile, base_version)`` in one transaction, only where the row
        still has ``base_version`` (the version guard: a row's version never goes down).
        Returns the rows that did not land, by user: :class:`RowRejected` (SQLite refused
        that row for good) or :class:`RowConflict`; every other row committed. Raises
        DatabaseUnavailable (nothing written) for errors that are not about one row, and
        DatabaseFileLost if the file was deleted or replaced since it was opened."""
        await self.faults.before_db_call()
        self._check_file()
        return await self._run(self.conn, _guarded_write, list(rows))

    async def set_lab_rejection(self, user_id: int, reject: bool) -> None:
        """Install (or drop) the real trigger ``cachetui_lab_reject_<id>`` that makes
        SQLite refuse every update of the user, past any injected fault."""
        await self._run(self.conn, _lab_trigger, user_id, reject)

    async def drop_lab_triggers(self) -> list[str]:
        """Drop every ``cachetui_lab_reject_*`` trigger (other triggers are never
        touched); the names dropped."""
        return await self._run(self.conn, _drop_lab_triggers)

    async def load_dead_letters(self) -> list[DeadLetter]:
        rows = await self._run(
            self.conn, _fetch_all, f"SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters"
        )
        return [DeadLetter.from_row(tuple(row)) for row in rows]

    async def save_dead_letters(
        self, letters: Sequence[DeadLetter], deleted: Sequence[int]
    ) -> None:
        """Upsert these dead letters and delete those of ``deleted`` users, in one
        transaction (faults apply: while the database is down they stay in memory)."""
        await self.faults.before_db_call()
        self._check_file()
        await self._run(self.conn, _save_dead_letters, [d.as_row() for d in letters], list(deleted))

    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Read-modify-write of one row that bypasses any cache; version + 1."""
        await self.faults.before_db_call()
        self._check_file()
        try:
            return await self._run(self.conn, _read_modify_write, user_id, changes, updated_at)
        except RowPermanentError as exc:
            raise WriteRejected(user_id, 0, str(exc)) from exc

    # -- setup and the observer's view (no faults) -------------------------------------
    async def restore(self, profiles: Sequence[Profile]) -> None:
        """Upsert rows as given, in one transaction, with no fault applied."""
        await self._run(self.conn, _upsert, [p.as_row() for p in profiles])

    async def seed(self, count: int, updated_at: str, seed: int = 42) -> int:
        """Insert demo profiles 1..count if the table is empty; returns rows inserted."""
        return await self._run(self.conn, _seed, count, updated_at, seed)

    async def count(self) -> int:
        return await self._run(self._observer_conn(), _scalar, "SELECT count(*) FROM profiles")

    async def max_user_id(self) -> int:
        return await self._run(self.conn, _scalar, "SELECT max(user_id) FROM profiles")

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        rows = await self._peek(_select, list(user_ids))
        return {row[0]: Profile(*row) for row in rows}

    async def peek_recent(self, limit: int) -> list[Profile]:
        """The most recently updated rows, newest first."""
        rows = await self._peek(_recent, limit)
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
        return await self._run(self._observer_conn(), fn, *args)

    def _observer_conn(self) -> aiosqlite.Connection:
        return self._observer if self._observer is not None else self.conn

    @staticmethod
    async def _run(conn: aiosqlite.Connection, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(sqlite3_connection, *args)`` in the connection's thread.

        Cancelling the caller does not stop the thread: so a cancelled call waits for
        the function to finish before it raises, and never returns while a commit is
        still on its way (which would let it land behind the caller's back)."""
        call: asyncio.Future[_T] = asyncio.ensure_future(
            conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            await asyncio.wait([call])
            raise
        except DatabaseUnavailable:
            raise
        except sqlite3.Error as exc:
            if row_permanent(exc):
                raise RowPermanentError(str(exc)) from exc
            raise DatabaseUnavailable(f"SQLite error: {exc}", transient=True) from exc
        except ValueError as exc:  # the connection is closed
            raise DatabaseUnavailable(f"SQLite error: {exc}", transient=True) from exc


# -- what runs in aiosqlite's thread ------------------------------------------------------
class ForeignDatabase(Exception):
    """The file is a SQLite database of something else; internal (open() words it)."""


def _check_ours(db: sqlite3.Connection) -> None:
    """A file is cachetui's if it is empty or has a ``profiles`` table with every column
    (whatever other tables it also has); anything else is refused before it is touched."""
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    if tables and "profiles" not in tables:
        raise ForeignDatabase(
            "not a cachetui database: it holds the tables "
            f"{', '.join(sorted(tables))} and no profiles table"
        )
    if tables:
        columns = {row[1] for row in db.execute("PRAGMA table_info(profiles)")}
        missing = [c for c in COLUMNS.split(", ") if c not in columns]
        if missing:
            raise ForeignDatabase(
                f"its profiles table lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} that cachetui needs"
            )


def _setup(db: sqlite3.Connection, wal: bool) -> str:
    _check_ours(db)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute(
        "INSERT OR IGNORE INTO cachetui_meta (key, value) VALUES ('database_id', ?)",
        (uuid.uuid4().hex,),
    )
    db.commit()
    return str(
        db.execute("SELECT value FROM cachetui_meta WHERE key = 'database_id'").fetchone()[0]
    )


LAB_TRIGGER_PREFIX = "cachetui_lab_reject_"


def _lab_trigger(db: sqlite3.Connection, user_id: int, reject: bool) -> None:
    name = f"{LAB_TRIGGER_PREFIX}{int(user_id)}"
    if reject:
        sql = (
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE UPDATE ON profiles "
            f"WHEN new.user_id = {int(user_id)} BEGIN "
            f"SELECT RAISE(ABORT, 'lab: every write of user {int(user_id)} is rejected'); END"
        )
    else:
        sql = f"DROP TRIGGER IF EXISTS {name}"
    _transaction(db, lambda: db.execute(sql))


def _drop_lab_triggers(db: sqlite3.Connection) -> list[str]:
    names = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        if name.startswith(LAB_TRIGGER_PREFIX)
    ]

    def work() -> None:
        for name in names:
            db.execute(f"DROP TRIGGER IF EXISTS {name}")

    _transaction(db, work)
    return names


def _backup(db: sqlite3.Connection, target: str) -> None:
    """Copy the whole database into a new file ``target`` (SQLite's online backup)."""
    dest = sqlite3.connect(target)
    try:
        db.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def _fetch_all(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return db.execute(sql).fetchall()


def _save_dead_letters(
    db: sqlite3.Connection, rows: list[tuple[Any, ...]], deleted: list[int]
) -> None:
    def work() -> None:
        marks = ", ".join("?" * 10)
        db.executemany(
            f"INSERT OR REPLACE INTO dead_letters ({DEAD_LETTER_COLUMNS}) VALUES ({marks})",
            rows,
        )
        db.executemany("DELETE FROM dead_letters WHERE user_id = ?", [(u,) for u in deleted])

    _transaction(db, work)


def _select(db: sqlite3.Connection, user_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    if len(user_ids) == 1:
        return db.execute(_SELECT_ONE, (user_ids[0],)).fetchall()
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(user_ids), _MAX_IN):
        chunk = tuple(user_ids[start : start + _MAX_IN])
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT {COLUMNS} FROM profiles WHERE user_id IN ({marks})"
        rows += db.execute(sql, chunk).fetchall()
    return rows


def _recent(db: sqlite3.Connection, limit: int) -> list[tuple[Any, ...]]:
    sql = f"SELECT {COLUMNS} FROM profiles ORDER BY updated_at DESC, user_id LIMIT ?"
    return db.execute(sql, (limit,)).fetchall()


def _scalar(db: sqlite3.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _transaction(db: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    try:
        result = work()
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return result


def _upsert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    if len(rows) == 1:
        _transaction(db, lambda: db.execute(UPSERT, rows[0]))
    else:
        _transaction(db, lambda: db.executemany(UPSERT, rows))


def _read_modify_write(
    db: sqlite3.Connection, user_id: int, changes: dict[str, Any], updated_at: str
) -> Profile | None:
    def work() -> Profile | None:
        db.execute("BEGIN IMMEDIATE")  # no other process may write between read and write
        row = db.execute(_SELECT_ONE, (user_id,)).fetchone()
        if row is None:
            return None
        new = Profile(*row).apply(changes, updated_at)
        db.execute(UPSERT, new.as_row())
        return new

    return _transaction(db, work)


def _seed(db: sqlite3.Connection, count: int, updated_at: str, seed: int) -> int:
    if _scalar(db, "SELECT count(*) FROM profiles") > 0:
        return 0
    rows = (p.as_row() for p in demo_profiles(count, updated_at, seed=seed))
    _transaction(db, lambda: db.executemany(UPSERT, rows))
    return count


# -- the guarded write: one transaction, an outcome per row --------------------------------
#: SQLite's primary result codes that concern one row only: SQLITE_CONSTRAINT (unique,
#: not null, check, foreign key, a trigger's RAISE(ABORT)) and SQLITE_MISMATCH.
ROW_PERMANENT_CODES = frozenset({19, 20})
_GUARDED_UPDATE = (
    "UPDATE profiles SET name = ?, bio = ?, location = ?, followers = ?, version = ?, "
    "updated_at = ? WHERE user_id = ? AND version = ?"
)


def row_permanent(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused this one row for good (retrying cannot help), as opposed to
    an error of the database as a whole (busy, locked, I/O, schema) that may pass."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in ROW_PERMANENT_CODES


@dataclass(frozen=True, slots=True)
class RowRejected:
    """SQLite refused the row (``reason``: its message)."""

    reason: str


@dataclass(frozen=True, slots=True)
class RowConflict:
    """The row's version was not the base the write was built on (None: no such row)."""

    db_version: int | None


RowFailure = RowRejected | RowConflict


def _guarded_write(
    db: sqlite3.Connection, rows: list[tuple[Profile, int]]
) -> dict[int, RowFailure]:
    """Write each ``(profile, base_version)`` only where the row still has that version,
    in one transaction. A row SQLite refuses is rolled back alone (a failed statement
    aborts only itself): the other rows commit. Errors that are not about one row roll
    everything back and propagate."""
    failures: dict[int, RowFailure] = {}

    def work() -> dict[int, RowFailure]:
        for profile, base in rows:
            uid = profile.user_id
            params = (
                profile.name,
                profile.bio,
                profile.location,
                profile.followers,
                profile.version,
                profile.updated_at,
                uid,
                base,
            )
            try:
                changed = db.execute(_GUARDED_UPDATE, params).rowcount
            except sqlite3.Error as exc:
                if not row_permanent(exc):
                    raise
                failures[uid] = RowRejected(str(exc))
                continue
            if changed != 1:
                row = db.execute(_SELECT_ONE, (uid,)).fetchone()
                if row is not None and tuple(row) == profile.as_row():
                    continue  # already there (an outbox replayed): landed, not a conflict
                failures[uid] = RowConflict(None if row is None else int(row[5]))
        return failures

    return _transaction(db, work)
