"""The SQL of the SQLite backend: its schema, and the functions that run in aiosqlite's
thread (each gets the ``sqlite3.Connection`` and runs its statements, and the commit,
there: one hand-off per call). :mod:`cachetui.engine.database.sqlite` calls them."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from cachetui.engine.errors import CacheTuiError
from cachetui.engine.lab.demo_data import demo_profiles
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
CREATE TABLE IF NOT EXISTS landed_writes (
    write_id TEXT NOT NULL UNIQUE, -- a write a durable queue landed (see LANDINGS_KEPT)
    user_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    landed_at TEXT NOT NULL
);
"""
#: The triggers that recognise writes by other programs. cachetui gives every write a
#: new write id and only ever UPDATEs rows (seeding inserts into an empty table, a
#: rewind runs without the triggers), so:
#: - an UPDATE that keeps ``write_id``, or sets it to NULL, without raising the version
#:   is another program's: the row's ``write_id`` is cleared and its version goes up by
#:   one (a version the other program raised itself is kept);
#: - a row deleted, or replaced (``INSERT OR REPLACE``), and inserted again comes back
#:   with no write id and a version above the one it had (``cachetui_replaced`` holds
#:   that version in between).
#: The WHEN clauses also keep the triggers' own UPDATEs (with ``PRAGMA
#: recursive_triggers`` on) from firing them again.
FOREIGN_WRITE_TRIGGER = "cachetui_foreign_write"
FOREIGN_TRIGGERS = (
    "cachetui_foreign_write",
    "cachetui_foreign_delete",
    "cachetui_foreign_replace",
    "cachetui_foreign_insert",
)
CREATE_FOREIGN_WRITE_TRIGGER = """
CREATE TABLE IF NOT EXISTS cachetui_replaced (
    user_id INTEGER PRIMARY KEY, version INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS cachetui_foreign_write AFTER UPDATE ON profiles
WHEN (new.write_id IS old.write_id AND (new.write_id IS NOT NULL OR new.version <= old.version))
  OR (new.write_id IS NULL AND old.write_id IS NOT NULL AND new.version <= old.version)
BEGIN
    UPDATE profiles SET write_id = NULL, version = max(new.version, old.version + 1)
    WHERE user_id = new.user_id;
END;
CREATE TRIGGER IF NOT EXISTS cachetui_foreign_delete AFTER DELETE ON profiles
BEGIN
    INSERT OR REPLACE INTO cachetui_replaced VALUES (old.user_id, old.version);
END;
CREATE TRIGGER IF NOT EXISTS cachetui_foreign_replace BEFORE INSERT ON profiles
BEGIN
    INSERT OR REPLACE INTO cachetui_replaced
    SELECT user_id, version FROM profiles WHERE user_id = new.user_id;
END;
CREATE TRIGGER IF NOT EXISTS cachetui_foreign_insert AFTER INSERT ON profiles
WHEN EXISTS (SELECT 1 FROM cachetui_replaced WHERE user_id = new.user_id)
BEGIN
    UPDATE profiles SET write_id = NULL, version = max(
        new.version, (SELECT version FROM cachetui_replaced WHERE user_id = new.user_id) + 1
    ) WHERE user_id = new.user_id;
    DELETE FROM cachetui_replaced WHERE user_id = new.user_id;
END;
"""
#: Landings recorded for replays (the newest are kept; older ones are pruned).
LANDINGS_KEPT = 1_000_000
#: ``PRAGMA user_version`` of the schema above: later schema changes migrate from it
#: (2 added ``cachetui_meta``, which holds the database's id: an outbox names it; 3 put
#: the ``updated_at`` index in the order the Database pane reads it, newest first then by
#: id: the pane's 60 rows come off the index, where 100,000 rows seeded at one instant
#: had to be sorted, ~100 ms, at every repaint; 4 added write identity: the
#: ``write_id`` columns of ``profiles`` and ``dead_letters``, the ``landed_writes``
#: table and the trigger that recognises other programs' writes).
SCHEMA_VERSION = 4
DEAD_LETTER_COLUMNS = (
    "user_id, kind, version, base_version, db_version, profile, error, attempts, "
    "first_failed_at, last_failed_at, write_id"
)
#: The columns a file must have to be cachetui's (``write_id`` is added if missing).
REQUIRED_COLUMNS = ("user_id", "name", "bio", "location", "followers", "version", "updated_at")
COLUMNS = "user_id, name, bio, location, followers, version, updated_at, write_id"
UPSERT = (
    f"INSERT INTO profiles ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, bio = excluded.bio, "
    "location = excluded.location, followers = excluded.followers, "
    "version = excluded.version, updated_at = excluded.updated_at, "
    "write_id = excluded.write_id"
)
SELECT_ONE = f"SELECT {COLUMNS} FROM profiles WHERE user_id = ?"
#: SQLite's default limit of host parameters per statement is 999 on old builds.
MAX_IN = 500
_T = TypeVar("_T")
log = logging.getLogger("cachetui.engine")


class RowPermanentError(CacheTuiError):
    """SQLite refused one row for good (see :func:`row_permanent`); internal."""


class ForeignDatabase(CacheTuiError):
    """The file is a SQLite database of something else; internal (open() words it)."""


def check_ours(db: sqlite3.Connection) -> None:
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
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ForeignDatabase(
                f"its profiles table lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} that cachetui needs"
            )


def setup(db: sqlite3.Connection, wal: bool) -> str:
    check_ours(db)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    migrate(db)
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


def migrate(db: sqlite3.Connection) -> None:
    """Bring a file of an earlier schema to this one (each step only if missing), in one
    write transaction: two processes opening one old file at once migrate it once."""

    def work() -> None:
        db.execute("BEGIN IMMEDIATE")
        for table in ("profiles", "dead_letters"):
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if "write_id" not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN write_id TEXT")
        for statement in _statements(CREATE_FOREIGN_WRITE_TRIGGER):
            db.execute(statement)

    transaction(db, work)


def _statements(script: str) -> list[str]:
    """The statements of a script of CREATEs (triggers end with END;)."""
    parts, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and (
            not text.upper().startswith("CREATE TRIGGER") or text.endswith("END;")
        ):
            parts.append(text)
            current = []
    return parts


LAB_TRIGGER_PREFIX = "cachetui_lab_reject_"


def lab_trigger(db: sqlite3.Connection, user_id: int, reject: bool) -> None:
    name = f"{LAB_TRIGGER_PREFIX}{int(user_id)}"
    if reject:
        sql = (
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE UPDATE ON profiles "
            f"WHEN new.user_id = {int(user_id)} BEGIN "
            f"SELECT RAISE(ABORT, 'lab: every write of user {int(user_id)} is rejected'); END"
        )
    else:
        sql = f"DROP TRIGGER IF EXISTS {name}"
    transaction(db, lambda: db.execute(sql))


def drop_lab_triggers(db: sqlite3.Connection) -> list[str]:
    names = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        if name.startswith(LAB_TRIGGER_PREFIX)
    ]

    def work() -> None:
        for name in names:
            db.execute(f"DROP TRIGGER IF EXISTS {name}")

    transaction(db, work)
    return names


def backup(db: sqlite3.Connection, target: str) -> None:
    """Copy the whole database into a new file ``target`` (SQLite's online backup)."""
    dest = sqlite3.connect(target)
    try:
        db.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def fetch_all(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return db.execute(sql).fetchall()


def save_dead_letters(
    db: sqlite3.Connection, rows: list[tuple[Any, ...]], deleted: list[int]
) -> None:
    def work() -> None:
        marks = ", ".join("?" * 11)
        db.executemany(
            f"INSERT OR REPLACE INTO dead_letters ({DEAD_LETTER_COLUMNS}) VALUES ({marks})",
            rows,
        )
        db.executemany("DELETE FROM dead_letters WHERE user_id = ?", [(u,) for u in deleted])

    transaction(db, work)


def select(db: sqlite3.Connection, user_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    if len(user_ids) == 1:
        return db.execute(SELECT_ONE, (user_ids[0],)).fetchall()
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(user_ids), MAX_IN):
        chunk = tuple(user_ids[start : start + MAX_IN])
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT {COLUMNS} FROM profiles WHERE user_id IN ({marks})"
        rows += db.execute(sql, chunk).fetchall()
    return rows


def recent(db: sqlite3.Connection, limit: int) -> list[tuple[Any, ...]]:
    sql = f"SELECT {COLUMNS} FROM profiles ORDER BY updated_at DESC, user_id LIMIT ?"
    return db.execute(sql, (limit,)).fetchall()


def scalar(db: sqlite3.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def transaction(db: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    try:
        result = work()
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return result


def restore(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Upsert rows exactly as given (versions and write ids too): the foreign-write
    triggers are dropped and created again inside one write transaction (begun
    explicitly: Python's sqlite3 would run the DROP outside it), so no other connection
    ever sees the table without them."""

    def work() -> None:
        db.execute("BEGIN IMMEDIATE")
        lab = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
            (f"{LAB_TRIGGER_PREFIX}%",),
        ).fetchall()  # a rewind passes the lab's faults too: they come back after it
        for name in (*FOREIGN_TRIGGERS, *(name for name, _ in lab)):
            db.execute(f"DROP TRIGGER IF EXISTS {name}")
        db.executemany(UPSERT, rows)
        for statement in _statements(CREATE_FOREIGN_WRITE_TRIGGER):
            db.execute(statement)
        for _, create in lab:
            db.execute(create)

    transaction(db, work)


def external_write(
    db: sqlite3.Connection, user_id: int, changes: dict[str, Any], updated_at: str
) -> Profile | None:
    """Another program's write, as such a program makes it: an UPDATE of the changed
    fields only (the foreign-write trigger raises the version and clears the write
    id), then the row read back in the same transaction."""
    # The field names come from validate_changes: only UPDATABLE_FIELDS reach here.
    sets = ", ".join(f"{field} = ?" for field in changes)

    def work() -> Profile | None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            f"UPDATE profiles SET {sets}, updated_at = ? WHERE user_id = ?",
            (*changes.values(), updated_at, user_id),
        )
        row = db.execute(SELECT_ONE, (user_id,)).fetchone()
        return None if row is None else Profile(*row)

    return transaction(db, work)


#: Rows inserted between two looks at whether the seeding should stop (about 0.1 s).
SEED_CHUNK = 20_000


class SeedStopped(Exception):
    """The seeding was asked to stop: its transaction is rolled back."""


def seed(
    db: sqlite3.Connection,
    count: int,
    updated_at: str,
    seed: int,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """One transaction of ``count`` demo rows, ``SEED_CHUNK`` at a time: ``progress``
    is told the rows so far after each chunk; ``stop`` set: SeedStopped, rolled back."""
    if scalar(db, "SELECT count(*) FROM profiles") > 0:
        return 0
    rows = (p.as_row() for p in demo_profiles(count, updated_at, seed=seed))

    def work() -> None:
        done = 0
        while done < count:
            if stop is not None and stop.is_set():
                raise SeedStopped
            chunk = list(itertools.islice(rows, SEED_CHUNK))
            db.executemany(UPSERT, chunk)
            done += len(chunk)
            if progress is not None:
                progress(done)

    transaction(db, work)
    return count
