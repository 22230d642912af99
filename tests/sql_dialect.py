"""The few statements tests run as another client that SQLite and PostgreSQL spell
differently (a trigger that refuses one user's updates, listing triggers), so one test
holds on both databases (``BOTH_DATABASES``)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from tests.conftest import db_sql


def on_server(path: str) -> bool:
    return "://" in path


def create_reject_trigger(path: str, name: str, user_id: int, message: str) -> None:
    """Another program's trigger that aborts every update of ``user_id`` with ``message``."""
    if on_server(path):
        db_sql(
            path,
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
        )
        db_sql(
            path,
            f"CREATE TRIGGER {name} BEFORE UPDATE ON profiles FOR EACH ROW "
            f"WHEN (new.user_id = {user_id}) EXECUTE FUNCTION {name}()",
        )
    else:
        db_sql(
            path,
            f"CREATE TRIGGER {name} BEFORE UPDATE ON profiles WHEN new.user_id = {user_id} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        )


def drop_trigger(path: str, name: str) -> None:
    if on_server(path):
        db_sql(path, f"DROP TRIGGER {name} ON profiles")
        db_sql(path, f"DROP FUNCTION {name}()")
    else:
        db_sql(path, f"DROP TRIGGER {name}")


def trigger_names(path: str) -> set[str]:
    """The names of the triggers on ``profiles``."""
    if on_server(path):
        rows = db_sql(
            path,
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = 'profiles'::regclass",
        )
    else:
        rows = db_sql(path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {str(name) for (name,) in rows}


#: What each database says when a statement names a column that is not there.
NO_SUCH_COLUMN = "no such column|does not exist"


@contextlib.contextmanager
def writer_holding(path: str, *statements: str) -> Iterator[None]:
    """Another client runs ``statements`` in a transaction it holds open until the block
    ends, then commits: on SQLite it holds the write lock (``BEGIN IMMEDIATE``); on
    PostgreSQL it also locks every row of ``profiles`` (``SELECT … FOR UPDATE``), so the
    engine's writes wait for it either way."""
    if on_server(path):
        import psycopg

        with psycopg.connect(path) as pg:
            pg.execute("SELECT user_id FROM profiles FOR UPDATE").fetchall()
            for statement in statements:
                pg.execute(statement)  # type: ignore[arg-type]
            yield
            pg.commit()
        return
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        for statement in statements:
            other.execute(statement)
        yield
        other.execute("COMMIT")
    finally:
        other.close()
