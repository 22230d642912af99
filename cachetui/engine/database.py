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
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite

from cachetui.engine.demo_data import demo_profiles
from cachetui.engine.errors import DatabaseUnavailable
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
CREATE INDEX IF NOT EXISTS profiles_updated_at ON profiles (updated_at);
"""
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


class Database:
    def __init__(self, path: str, faults: Faults | None = None) -> None:
        self.path = path
        self.faults = faults or Faults()
        self._conn: aiosqlite.Connection | None = None
        # The observer (the panes) reads through its own connection, so that it never
        # waits behind the engine's queue of calls (WAL lets readers run beside writers).
        self._observer: aiosqlite.Connection | None = None

    async def open(self) -> None:
        try:
            self._conn = await aiosqlite.connect(self.path)
            await self._run(self._conn, _setup, self.path != ":memory:")
            if self.path != ":memory:":
                self._observer = await aiosqlite.connect(self.path)
        except Exception as exc:  # sqlite3.Error, OSError
            await self.close()
            raise DatabaseUnavailable(f"cannot open database {self.path}: {exc}") from exc

    async def close(self) -> None:
        for conn in (self._observer, self._conn):
            if conn is not None:
                await conn.close()
        self._conn = self._observer = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseUnavailable(f"database {self.path} is not open")
        return self._conn

    # -- the engine's calls (faults apply) --------------------------------------------
    async def fetch_many(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        """The rows of these users (missing users are absent), in one query."""
        await self.faults.before_db_call()
        rows = await self._run(self.conn, _select, user_ids)
        return {row[0]: Profile(*row) for row in rows}

    async def write(self, profiles: Sequence[Profile]) -> None:
        """Upsert these rows in one transaction."""
        await self.faults.before_db_call()
        await self._run(self.conn, _upsert, [p.as_row() for p in profiles])

    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Read-modify-write of one row that bypasses any cache; version + 1."""
        await self.faults.before_db_call()
        return await self._run(self.conn, _read_modify_write, user_id, changes, updated_at)

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
        rows = await self._run(self._observer_conn(), _select, list(user_ids))
        return {row[0]: Profile(*row) for row in rows}

    async def peek_recent(self, limit: int) -> list[Profile]:
        """The most recently updated rows, newest first."""
        rows = await self._run(self._observer_conn(), _recent, limit)
        return [Profile(*row) for row in rows]

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
        except (sqlite3.Error, ValueError) as exc:  # ValueError: connection closed
            raise DatabaseUnavailable(f"SQLite error: {exc}", transient=True) from exc


# -- what runs in aiosqlite's thread ------------------------------------------------------
def _setup(db: sqlite3.Connection, wal: bool) -> None:
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    db.commit()


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
