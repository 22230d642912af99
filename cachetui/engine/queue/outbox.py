"""The durable write-behind queue: an outbox, an SQLite file beside the database.

The in-process :class:`~cachetui.engine.queue.write_queue.WriteQueue` still does the work
(coalescing, batching, backpressure); the outbox journals it, so that the death of the
process loses nothing. An update is acknowledged only once its entry is committed here
(WAL, ``synchronous=NORMAL``: it survives the process, not a power loss); concurrent
acknowledgements share one transaction (group commit). One row per owner and user, the
newest value and the ``base_version`` of its first write not yet landed, as in memory.

Each entry carries its owner (the engine instance: ``pid:start time``), so two live
engines on one database never take each other's entries. At start, the entries of owners
that are gone are taken over and replayed; a write that had already landed is
recognised by its write id and dropped, never applied twice. The outbox records the
database's id (stored in the database, not its path): an outbox of another database is
refused.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, Protocol

import aiosqlite

from cachetui.engine.database.sqlite import call, connect
from cachetui.engine.database.sqlite_statements import transaction
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.profile import Profile
from cachetui.engine.words import plural

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    owner TEXT NOT NULL,           -- the engine instance: pid:start time
    user_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    base_version INTEGER NOT NULL, -- the database version its first un-landed write was built on
    profile TEXT NOT NULL,         -- JSON
    queued_at TEXT NOT NULL,
    write_id TEXT,                 -- the newest write's id (also in the JSON)
    PRIMARY KEY (owner, user_id)
);
"""
_APPEND = (
    "INSERT INTO outbox (owner, user_id, version, base_version, profile, queued_at, write_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(owner, user_id) DO UPDATE SET "
    "version = excluded.version, profile = excluded.profile, "
    "write_id = excluded.write_id"  # the base is kept
)


def _process_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (state first), or [] where
    /proc does not have them."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or ''
    where /proc is not available."""
    fields = _process_stat(pid)
    return fields[19] if len(fields) > 19 else ""


#: The owners of this process's open outboxes (two engines of one process, as in
#: compare mode, are two owners; one closed with entries left is gone).
LIVE_OWNERS: set[str] = set()
_instances = itertools.count(1)


def this_owner() -> str:
    """A new owner name for an engine of this process: ``pid:start time:n``."""
    pid = os.getpid()
    return f"{pid}:{_process_start(pid) or int(time.time())}:{next(_instances)}"


def owner_alive(owner: str) -> bool:
    """Whether the engine that wrote ``owner`` still runs: an open outbox of this
    process, or a process with the same pid and start time."""
    pid_text, _, rest = owner.partition(":")
    started = rest.partition(":")[0]
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return owner in LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    if _process_stat(pid)[:1] == ["Z"]:
        return False  # killed, not yet reaped by its parent: it runs no more
    current = _process_start(pid)
    return not current or current == started


def _encode(profile: Profile) -> str:
    return json.dumps(profile.as_dict(), ensure_ascii=False)


def _decode(text: str) -> Profile:
    return Profile(**json.loads(text))


class Journal(Protocol):
    """What the engine needs of a durable queue (:class:`Outbox`, or
    :class:`~cachetui.engine.queue.stream.RedisStreamOutbox`)."""

    path: str  # what to show: the outbox file, or the stream and its server
    owner: str

    async def open(self, database_id: str) -> None: ...
    async def close(self) -> None: ...
    async def append_many(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]: ...
    async def withdraw(self, profile: Profile, previous: tuple[Profile, int] | None) -> None: ...
    async def landed(self, profiles: Sequence[Profile]) -> None: ...
    async def rebase(self, profile: Profile, base_version: int) -> None: ...
    async def remove(self, user_ids: Sequence[int]) -> None: ...
    async def mine(self) -> list[tuple[Profile, int]]: ...
    async def take_over(self) -> list[tuple[Profile, int]]: ...
    async def count(self) -> int: ...


def journal_name(journal: Journal) -> str:
    """A durable queue as a sentence names it: ``the outbox PATH`` (a file), else what the
    journal calls itself (``the redis stream KEY at URL``, ``the fleet queue PREFIX at
    URL``: a stream is no outbox)."""
    return f"the outbox {journal.path}" if isinstance(journal, Outbox) else f"the {journal.path}"


class Outbox:
    """The outbox file of one engine (see the module's docstring). Each method is one
    transaction in aiosqlite's thread; errors raise DatabaseUnavailable."""

    def __init__(self, path: str, owner: str | None = None) -> None:
        self.path = path
        self.owner = owner or this_owner()
        self._conn: aiosqlite.Connection | None = None

    async def open(self, database_id: str) -> None:
        """Open (or create) the file and check it belongs to the database
        ``database_id``: DatabaseUnavailable if it holds entries of another one."""
        try:
            self._conn = await connect(self.path)
            await self._run(_setup, database_id)
            LIVE_OWNERS.add(self.owner)
        except DatabaseUnavailable:
            await self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise DatabaseUnavailable(f"cannot open the outbox {self.path}: {exc}") from exc

    async def close(self) -> None:
        LIVE_OWNERS.discard(self.owner)
        if self._conn is not None:
            await self._conn.close()
        self._conn = None

    async def append_many(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]:
        """Journal each ``(profile, base_version)`` (the newest value of its user; a
        user's base is kept from its first entry). One transaction: durable on return."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        params = [
            (self.owner, p.user_id, p.version, base, _encode(p), stamp, p.write_id)
            for p, base in rows
        ]
        await self._run(_executemany, [(_APPEND, params)])
        return {}

    async def withdraw(self, profile: Profile, previous: tuple[Profile, int] | None) -> None:
        """Take back the entry of ``profile``'s write, whose append has an unknown outcome
        (cancelled, failed): where the user's entry is that write (by its write id), it
        becomes ``previous`` again (the user's pending write before it), or goes (None).
        An entry of another write is left alone. One transaction."""
        uid = profile.user_id
        work: list[tuple[str, list[tuple[Any, ...]]]]
        if previous is None:
            work = [
                (
                    "DELETE FROM outbox WHERE owner = ? AND user_id = ? AND write_id IS ?",
                    [(self.owner, uid, profile.write_id)],
                )
            ]
        else:
            before, base = previous
            sql = (
                "UPDATE outbox SET version = ?, base_version = ?, profile = ?, write_id = ? "
                "WHERE owner = ? AND user_id = ? AND write_id IS ?"
            )
            params = (
                before.version,
                base,
                _encode(before),
                before.write_id,
                self.owner,
                uid,
                profile.write_id,
            )
            work = [(sql, [params])]
        await self._run(_executemany, work)

    async def landed(self, profiles: Sequence[Profile]) -> None:
        """These versions are in the database: drop their entries; an entry holding a
        newer version now builds on the landed one."""
        drop = [(self.owner, p.user_id, p.version) for p in profiles]
        rebase = [(p.version, self.owner, p.user_id, p.version) for p in profiles]
        await self._run(
            _executemany,
            [
                ("DELETE FROM outbox WHERE owner = ? AND user_id = ? AND version = ?", drop),
                (
                    "UPDATE outbox SET base_version = ? WHERE owner = ? AND user_id = ? "
                    "AND version > ?",
                    rebase,
                ),
            ],
        )

    async def rebase(self, profile: Profile, base_version: int) -> None:
        """The entry now holds ``profile`` built on ``base_version`` (an overwrite)."""
        sql = (
            "UPDATE outbox SET version = ?, base_version = ?, profile = ?, write_id = ? "
            "WHERE owner = ? AND user_id = ?"
        )
        params = [
            (
                profile.version,
                base_version,
                _encode(profile),
                profile.write_id,
                self.owner,
                profile.user_id,
            )
        ]
        await self._run(_executemany, [(sql, params)])

    async def remove(self, user_ids: Sequence[int]) -> None:
        """Drop these users' entries (parked as dead letters, or discarded on request)."""
        params = [(self.owner, uid) for uid in user_ids]
        await self._run(
            _executemany, [("DELETE FROM outbox WHERE owner = ? AND user_id = ?", params)]
        )

    async def mine(self) -> list[tuple[Profile, int]]:
        """This engine's entries: ``(profile, base_version)``, oldest first."""
        rows = await self._run(_mine, self.owner)
        return [(_decode(text), base) for text, base in rows]

    async def take_over(self) -> list[tuple[Profile, int]]:
        """Take the entries of owners that are gone (a process killed or crashed) and
        return them to replay; a user this engine already has an entry for stays with its
        old owner (replayed at a later start)."""
        owners = await self._run(_owners, self.owner)
        dead = [owner for owner in owners if not owner_alive(owner)]
        if not dead:
            return []
        await self._run(_take_over, self.owner, dead)
        return await self.mine()

    async def count(self) -> int:
        """Entries of every owner."""
        return int(await self._run(_count))

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._conn is None:
            raise DatabaseUnavailable(f"the outbox {self.path} is not open")
        return await call(self._conn, fn, *args)


# -- what runs in aiosqlite's thread ------------------------------------------------------
def _setup(db: sqlite3.Connection, database_id: str) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    if "write_id" not in columns:  # an outbox of an earlier version
        db.execute("ALTER TABLE outbox ADD COLUMN write_id TEXT")
    row = db.execute("SELECT value FROM outbox_meta WHERE key = 'database_id'").fetchone()
    if row is not None and row[0] != database_id:
        (entries,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        if entries:
            raise DatabaseUnavailable(
                f"this outbox belongs to another database (id {row[0]}, this one is "
                f"{database_id}) and holds {entries} {plural(entries, 'write')} for "
                "it: refusing to replay them here"
            )
    transaction(
        db,
        lambda: db.execute(
            "INSERT OR REPLACE INTO outbox_meta (key, value) VALUES ('database_id', ?)",
            (database_id,),
        ),
    )


def _executemany(db: sqlite3.Connection, work: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    def run() -> None:
        for sql, params in work:
            db.executemany(sql, params)

    transaction(db, run)


def _mine(db: sqlite3.Connection, owner: str) -> list[tuple[str, int]]:
    sql = "SELECT profile, base_version FROM outbox WHERE owner = ? ORDER BY queued_at, user_id"
    return [(str(p), int(b)) for p, b in db.execute(sql, (owner,))]


def _owners(db: sqlite3.Connection, me: str) -> list[str]:
    sql = "SELECT DISTINCT owner FROM outbox WHERE owner != ?"
    return [str(owner) for (owner,) in db.execute(sql, (me,))]


def _take_over(db: sqlite3.Connection, me: str, dead: list[str]) -> None:
    def run() -> None:
        for owner in dead:
            db.execute(
                "UPDATE outbox SET owner = ? WHERE owner = ? AND user_id NOT IN "
                "(SELECT user_id FROM outbox WHERE owner = ?)",
                (me, owner, me),
            )

    transaction(db, run)


def _count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
