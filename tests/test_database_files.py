"""The database file under the engine's feet: a SQLite file of something else is refused
(nothing written), and a program that never closes its engine still exits."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
        db.execute("CREATE TABLE users (id INTEGER)")
    before = path.read_bytes()
    result = run("-m", "cachetui", "bench", "--db", str(path), "--ops", "10")
    assert result.returncode == 2
    assert "holds the tables orders, users and no profiles table" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before  # not seeded, not switched to WAL


def test_a_profiles_table_without_our_columns_names_them(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE profiles (user_id INTEGER PRIMARY KEY, name TEXT)")
    code = textwrap.dedent(
        f"""
        import asyncio
        from cachetui.engine import Engine, EngineConfig, DatabaseUnavailable
        async def main():
            try:
                await Engine(EngineConfig(db_path={str(path)!r})).start()
            except DatabaseUnavailable as exc:
                print(exc)
        asyncio.run(main())
        """
    )
    result = run("-c", code)
    assert "lacks the columns bio, location, followers, version, updated_at" in result.stdout


def test_an_engine_never_closed_still_exits_and_names_its_pending_writes(tmp_path: Path):
    code = textwrap.dedent(
        f"""
        import asyncio
        from cachetui.engine import Engine, EngineConfig
        async def main():
            config = EngineConfig(db_path={str(tmp_path / "p.db")!r}, policy="write-behind",
                                  flush_timeout=0.2)
            async with Engine(config) as engine:  # close() raises PendingWritesError
                await engine.seed(10)
                await engine.update(4, {{"bio": "never lands"}})
                engine.faults.db_down = True
        asyncio.run(main())
        """
    )
    result = run("-c", code, timeout=20)  # before the fix: hung for ever
    assert result.returncode == 1
    assert "PendingWritesError" in result.stderr
    assert "the engine was not closed: 1 acknowledged write never reached" in result.stderr
    assert "(user 4, v2)" in result.stderr
