"""The real SQLite database of profiles, through aiosqlite (WAL mode).

Every call the engine makes goes through :meth:`Faults.before_db_call`; the ``peek_*``
calls are the observer's view for the panes (no faults, no metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

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
#: SQLite's default limit of host parameters per statement is 999 on old builds.
_MAX_IN = 500


class Database:
    def __init__(self, path: str, faults: Faults | None = None) -> None:
        self.path = path
        self.faults = faults or Faults()
        self._conn: aiosqlite.Connection | None = None
        # One transaction (or read) at a time on the connection.
        self._lock = asyncio.Lock()
        # The observer (the panes) reads through its own connection, so that it never
        # waits behind the engine's queue of calls (WAL lets readers run beside writers).
        self._observer: aiosqlite.Connection | None = None
        self._observer_lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            self._conn = await aiosqlite.connect(self.path)
            if self.path != ":memory:":
                await self._conn.execute("PRAGMA journal_mode=WAL")
                await self._conn.execute("PRAGMA synchronous=NORMAL")
            await self._conn.executescript(SCHEMA)
            await self._conn.commit()
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
        return await self._select_ids(user_ids)

    async def write(self, profiles: Sequence[Profile]) -> None:
        """Upsert these rows in one transaction."""
        await self.faults.before_db_call()
        await self._upsert(profiles)

    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Read-modify-write of one row that bypasses any cache; version + 1."""
        await self.faults.before_db_call()
        async with self._lock:
            try:
                rows = await self._select_locked([user_id])
                current = rows.get(user_id)
                if current is None:
                    return None
                new = current.apply(changes, updated_at)
                await self.conn.execute(UPSERT, new.as_row())
                await self.conn.commit()
            except Exception as exc:
                await self._rollback()
                raise _wrap(exc) from exc
        return new

    # -- setup and the observer's view (no faults) -------------------------------------
    async def seed(self, count: int, updated_at: str, seed: int = 42) -> int:
        """Insert demo profiles 1..count if the table is empty; returns rows inserted."""
        if await self.count() > 0:
            return 0
        async with self._lock:
            try:
                batch: list[tuple[Any, ...]] = []
                for profile in demo_profiles(count, updated_at, seed=seed):
                    batch.append(profile.as_row())
                    if len(batch) == 5000:
                        await self.conn.executemany(UPSERT, batch)
                        batch.clear()
                if batch:
                    await self.conn.executemany(UPSERT, batch)
                await self.conn.commit()
            except Exception as exc:
                await self._rollback()
                raise _wrap(exc) from exc
        return count

    async def count(self) -> int:
        conn, lock = self._observer_conn()
        async with lock, conn.execute("SELECT count(*) FROM profiles") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def max_user_id(self) -> int:
        sql = "SELECT max(user_id) FROM profiles"
        async with self._lock, self.conn.execute(sql) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        conn, lock = self._observer_conn()
        async with lock:
            try:
                return await self._select_locked(list(user_ids), conn)
            except Exception as exc:
                raise _wrap(exc) from exc

    async def peek_recent(self, limit: int) -> list[Profile]:
        """The most recently updated rows, newest first."""
        sql = f"SELECT {COLUMNS} FROM profiles ORDER BY updated_at DESC, user_id LIMIT ?"
        conn, lock = self._observer_conn()
        async with lock, conn.execute(sql, (limit,)) as cursor:
            rows = await cursor.fetchall()
        return [Profile(*row) for row in rows]

    def _observer_conn(self) -> tuple[aiosqlite.Connection, asyncio.Lock]:
        if self._observer is not None:
            return self._observer, self._observer_lock
        return self.conn, self._lock

    # -- internals ---------------------------------------------------------------------
    async def _select_ids(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        async with self._lock:
            try:
                return await self._select_locked(user_ids)
            except Exception as exc:
                raise _wrap(exc) from exc

    async def _select_locked(
        self, user_ids: Sequence[int], conn: aiosqlite.Connection | None = None
    ) -> dict[int, Profile]:
        conn = conn or self.conn
        found: dict[int, Profile] = {}
        for start in range(0, len(user_ids), _MAX_IN):
            chunk = user_ids[start : start + _MAX_IN]
            if len(chunk) == 1:
                sql = f"SELECT {COLUMNS} FROM profiles WHERE user_id = ?"
            else:
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT {COLUMNS} FROM profiles WHERE user_id IN ({marks})"
            async with conn.execute(sql, tuple(chunk)) as cursor:
                for row in await cursor.fetchall():
                    found[row[0]] = Profile(*row)
        return found

    async def _upsert(self, profiles: Sequence[Profile]) -> None:
        async with self._lock:
            try:
                if len(profiles) == 1:
                    await self.conn.execute(UPSERT, profiles[0].as_row())
                else:
                    await self.conn.executemany(UPSERT, [p.as_row() for p in profiles])
                await self.conn.commit()
            except Exception as exc:
                await self._rollback()
                raise _wrap(exc) from exc

    async def _rollback(self) -> None:
        with contextlib.suppress(Exception):  # the original error is what matters
            await self.conn.rollback()


def _wrap(exc: Exception) -> DatabaseUnavailable:
    if isinstance(exc, DatabaseUnavailable):
        return exc
    return DatabaseUnavailable(f"SQLite error: {exc}", transient=True)
