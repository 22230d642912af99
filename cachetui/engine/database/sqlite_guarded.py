"""The guarded write of the SQLite backend, in aiosqlite's thread: each row written
only where it still has the version its write was built on, one transaction per batch,
an outcome per row; and the landings a durable queue's replay asks about."""

from __future__ import annotations

import sqlite3
from typing import Any

from cachetui.engine.database.base import (
    RowConflict,
    RowFailure,
    RowLanded,
    RowRejected,
    builds_on,
)
from cachetui.engine.database.sqlite_statements import (
    LANDINGS_KEPT,
    MAX_IN,
    SELECT_ONE,
    log,
    transaction,
)
from cachetui.engine.profile import Profile

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

    def attempt(profile: Profile, base: int) -> RowFailure | None:
        """The guarded UPDATE of one row; None if it changed the row."""
        params = (
            profile.name,
            profile.bio,
            profile.location,
            profile.followers,
            profile.version,
            profile.updated_at,
            profile.write_id,
            profile.user_id,
            base,
        )
        try:
            changed = db.execute(_GUARDED_UPDATE, params).rowcount
        except sqlite3.Error as exc:
            if not row_permanent(exc):
                raise
            return RowRejected(str(exc))
        except Exception as exc:  # noqa: BLE001 - the row's values could not be bound
            return unexpected_row_error(profile, exc)
        return None if changed == 1 else RowConflict(None)

    def work() -> dict[int, RowFailure]:
        for profile, base in rows:
            uid = profile.user_id
            failure = attempt(profile, base)
            if isinstance(failure, RowConflict):
                row = db.execute(SELECT_ONE, (uid,)).fetchone()
                if already_landed(db, profile, row):
                    failures[uid] = RowLanded()
                    continue
                failure = RowConflict(None if row is None else int(row[5]))
                if row is not None and builds_on(profile, row[7], int(row[5])):
                    failure = attempt(profile, int(row[5]))
            if failure is not None:
                failures[uid] = failure
                continue
            if record and profile.write_id is not None:
                landings.append((profile.write_id, uid, profile.version, profile.updated_at))
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
    for start in range(0, len(writes), MAX_IN):
        chunk = writes[start : start + MAX_IN]
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
