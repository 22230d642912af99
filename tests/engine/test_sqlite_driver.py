"""What the SQLite backend relies on in aiosqlite's private calls (a connection's
``_thread``, ``_execute`` and ``_conn``, used only by ``connect`` and ``call`` in
``cachetui.engine.database.sqlite``). An aiosqlite upgrade that changes what they do
fails here, not in a user's process that hangs at exit or loses a commit."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from cachetui.engine.database.sqlite import call, connect
from cachetui.engine.database.sqlite_statements import RowPermanentError
from cachetui.engine.errors import DatabaseUnavailable


async def test_call_runs_the_function_in_the_connections_own_daemon_thread(tmp_path):
    conn = await connect(str(tmp_path / "t.db"))
    try:

        def where(db: sqlite3.Connection) -> tuple[threading.Thread, sqlite3.Connection]:
            return threading.current_thread(), db

        thread, db = await call(conn, where)
        again, db_again = await call(conn, where)
    finally:
        await conn.close()
    assert thread is not threading.main_thread()
    assert thread is again  # one thread per connection: calls are serialized
    assert thread.daemon  # an unclosed connection does not keep the process alive
    assert isinstance(db, sqlite3.Connection) and db is db_again


def test_a_process_that_never_closes_its_connection_still_exits(tmp_path):
    script = textwrap.dedent(
        f"""
        import asyncio
        from cachetui.engine.database.sqlite import call, connect

        KEPT = []  # still referenced at exit, as by an engine nobody closed

        async def main():
            conn = await connect({str(tmp_path / "t.db")!r})
            KEPT.append(conn)
            await call(conn, lambda db: db.execute("CREATE TABLE t (x)"))

        asyncio.run(main())
        print("returned")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "returned"


async def test_a_cancelled_call_returns_only_after_the_function_finished(tmp_path):
    conn = await connect(str(tmp_path / "t.db"))
    finished = threading.Event()

    def slow_commit(db: sqlite3.Connection) -> None:
        time.sleep(0.2)
        db.execute("CREATE TABLE t (x)")
        db.commit()
        finished.set()

    try:
        task = asyncio.ensure_future(call(conn, slow_commit))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the commit was on its way: the caller learns of the cancellation only after it
        assert finished.is_set()
    finally:
        await conn.close()


async def test_sqlite_errors_are_classified_per_row_or_whole_database(tmp_path):
    conn = await connect(str(tmp_path / "t.db"))
    try:
        await call(conn, lambda db: db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        await call(conn, lambda db: db.execute("INSERT INTO t VALUES (1)"))
        with pytest.raises(RowPermanentError, match="UNIQUE"):
            await call(conn, lambda db: db.execute("INSERT INTO t VALUES (1)"))
        with pytest.raises(DatabaseUnavailable, match="no such table") as error:
            await call(conn, lambda db: db.execute("SELECT * FROM missing"))
        assert error.value.transient
    finally:
        await conn.close()
