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

from cachetui.engine.database.base import RowConflict, RowFailure, RowLanded, RowRejected
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
_MAX_IN = 500
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
    for start in range(0, len(user_ids), _MAX_IN):
        chunk = tuple(user_ids[start : start + _MAX_IN])
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


# -- the guarded write: one transaction, an outcome per row --------------------------------
#: SQLite's primary result codes that concern one row only: SQLITE_CONSTRAINT (unique,
#: not null, check, foreign key, a trigger's RAISE(ABORT)) and SQLITE_MISMATCH.
ROW_PERMANENT_CODES = frozenset({19, 20})
_GUARDED_UPDATE = (
    "UPDATE profiles SET name = ?, bio = ?, location = ?, followers = ?, version = ?, "
    "updated_at = ?, write_id = ? WHERE user_id = ? AND version = ?"
)
_RECORD_LANDING = (
    "INSERT OR IGNORE INTO landed_writes (write_id, user_id, version, landed_at) "
    "VALUES (?, ?, ?, ?)"
)
#: Landings between two prunes of ``landed_writes`` (kept to its newest LANDINGS_KEPT).
PRUNE_EVERY = 10_000


def row_permanent(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused this one row for good (retrying cannot help), as opposed to
    an error of the database as a whole (busy, locked, I/O, schema) that may pass."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in ROW_PERMANENT_CODES


def unexpected_row_error(profile: Profile, exc: Exception) -> RowRejected:
    """A row whose values could not be bound (OverflowError, UnicodeEncodeError…): the
    API refuses such values, so this is a bug; it fails this row only, for good (retried
    ``max_attempts`` times, then parked with this reason), and is logged."""
    reason = (
        f"its values cannot be stored ({type(exc).__name__}: {exc}); "
        "a bug in cachetui, please report it"
    )
    log.error("user %s v%s not written: %s", profile.user_id, profile.version, reason)
    return RowRejected(reason)


def guarded_write(
    db: sqlite3.Connection, rows: list[tuple[Profile, int]], record: bool
) -> dict[int, RowFailure]:
    """Write each ``(profile, base_version)`` only where the row still has that version,
    in one transaction. A row SQLite refuses is rolled back alone (a failed statement
    aborts only itself): the other rows commit; so does every row beside one whose
    values cannot be bound at all (see :func:`unexpected_row_error`). Errors that are
    not about one row roll everything back and propagate.

    A write that had landed already (its write id is the row's, or, with ``record``,
    in ``landed_writes``) is :class:`RowLanded`, never written twice. ``record``: note
    each landing's write id in ``landed_writes``, in the same transaction (what a
    durable queue's replay asks, by :func:`landed_ids`)."""
    failures: dict[int, RowFailure] = {}
    landings: list[tuple[str, int, int, str]] = []

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
                profile.write_id,
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
            except Exception as exc:  # noqa: BLE001 - the row's values could not be bound
                failures[uid] = unexpected_row_error(profile, exc)
                continue
            if changed == 1:
                if record and profile.write_id is not None:
                    landings.append((profile.write_id, uid, profile.version, profile.updated_at))
                continue
            row = db.execute(SELECT_ONE, (uid,)).fetchone()
            if already_landed(db, profile, row):
                failures[uid] = RowLanded()
                continue
            failures[uid] = RowConflict(None if row is None else int(row[5]))
        if landings:
            db.executemany(_RECORD_LANDING, landings)
        return failures

    return transaction(db, work)


def already_landed(db: sqlite3.Connection, profile: Profile, row: tuple[Any, ...] | None) -> bool:
    """Whether this write is in the database already (decided by its write id; an entry
    of an outbox from before write ids, by the whole row being equal)."""
    if profile.write_id is None:
        return row is not None and tuple(row[:7]) == profile.as_row()[:7]
    if row is not None and row[7] == profile.write_id:
        return True
    found = db.execute(
        "SELECT 1 FROM landed_writes WHERE write_id = ?", (profile.write_id,)
    ).fetchone()
    return found is not None


def landed_ids(db: sqlite3.Connection, writes: list[tuple[int, str]]) -> set[str]:
    """Which of these ``(user_id, write_id)`` writes have landed: the row holds the
    write id, or ``landed_writes`` recorded it (it landed, and was overwritten later)."""
    found: set[str] = set()
    for start in range(0, len(writes), _MAX_IN):
        chunk = writes[start : start + _MAX_IN]
        marks = ", ".join("?" * len(chunk))
        ids = [write_id for _, write_id in chunk]
        found.update(
            str(w)
            for (w,) in db.execute(
                f"SELECT write_id FROM landed_writes WHERE write_id IN ({marks})", ids
            )
        )
        found.update(
            str(w)
            for (w,) in db.execute(
                f"SELECT write_id FROM profiles WHERE user_id IN ({marks})",
                [uid for uid, _ in chunk],
            )
            if w is not None
        )
    return found & {write_id for _, write_id in writes}


def prune_landings(db: sqlite3.Connection) -> None:
    """Keep ``landed_writes`` to its newest LANDINGS_KEPT rows (one range delete)."""
    transaction(
        db,
        lambda: db.execute(
            "DELETE FROM landed_writes WHERE rowid <= (SELECT max(rowid) FROM landed_writes) - ?",
            (LANDINGS_KEPT,),
        ),
    )
