"""``--db`` values SQLite would refuse with a vague "unable to open database file" are
refused before anything starts, in one line that names the path as the user gave it and
what is wrong with it: in ``cachetui``, ``serve`` and ``bench`` (whose runs use a
temporary copy the message must not name). Nothing is created or changed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetui.bench import command as bench
from cachetui.cli import command as cli
from cachetui.serve import command as serve

NOT_SQLITE = "is not a SQLite database (its first bytes are not SQLite's header)"


def refusal(capsys: pytest.CaptureFixture[str], command: str, db: str) -> str:
    """The last stderr line of ``command --db db``, which must exit 2 before starting."""
    mains = {
        "cachetui": lambda: cli.main(["--db", db]),
        "cachetui serve": lambda: serve.main(["--port", "0", "--db", db]),
        "cachetui bench": lambda: bench.main(["--db", db, "--ops", "10"]),
    }
    try:
        code = mains[command]()
    except SystemExit as stopped:
        code = stopped.code
    assert code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("command", ["cachetui", "cachetui serve", "cachetui bench"])
def test_a_folder_is_named_as_a_folder(capsys, monkeypatch, tmp_path, command):
    monkeypatch.chdir(tmp_path)
    Path("talk").mkdir()
    assert refusal(capsys, command, "talk") == (
        f"{command}: error: --db talk: is a folder, not a file (name a file in it, such as "
        "talk/profiles.db)"
    )
    assert os.listdir("talk") == []


@pytest.mark.parametrize("command", ["cachetui", "cachetui bench"])
def test_a_file_that_is_not_sqlite_is_named(capsys, monkeypatch, tmp_path, command):
    monkeypatch.chdir(tmp_path)
    Path("notes.db").write_text("shopping list: eggs, milk\n")
    assert refusal(capsys, command, "notes.db") == f"{command}: error: --db notes.db: {NOT_SQLITE}"
    assert Path("notes.db").read_text() == "shopping list: eggs, milk\n"
    assert sorted(os.listdir()) == ["notes.db"]  # no journal, no copy left behind


def test_bench_names_the_users_file_not_its_temporary_copy(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect("shop.db") as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
    assert refusal(capsys, "cachetui bench", "shop.db") == (
        "cachetui bench: error: --db shop.db: not a cachetui database: it holds the tables "
        "orders and no profiles table"
    )
    assert refusal(capsys, "cachetui bench", "missing.db") == (
        "cachetui bench: error: --db missing.db: no such file"
    )


# -- permissions: checked as a user the modes apply to ------------------------------------------
def as_another_user() -> list[str]:
    """The command prefix that runs a process as a user file modes apply to: none for a
    user that is not root; root passes every check, so it runs as nobody (setpriv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip(
            "running as root, which may write anything, and setpriv (util-linux) is missing "
            "to run the check as another user"
        )
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    # nobody must be able to run this checkout's Python and import it: not so when the
    # checkout (or its venv) sits in a folder only root may enter, e.g. root's home
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import aiosqlite, cachetui.cli.options"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        problem = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(
            f"running as root, and user nobody cannot run {sys.executable} with this "
            f"checkout ({problem}): the checkout or its venv is in a folder only root may "
            "enter; clone it where others may read to run this test"
        )
    return prefix


@pytest.fixture
def locked() -> Iterator[Path]:
    """A folder another user may enter, holding ``ro/`` (read-only, with a writable file
    ``existing.db``), ``rw/readonly.db`` (read-only) and ``rw/secret.db`` (unreadable)."""
    base = Path(tempfile.mkdtemp(prefix="cachetui-perm-"))
    base.chmod(0o755)
    (base / "ro").mkdir()
    (base / "rw").mkdir(mode=0o777)
    (base / "rw").chmod(0o777)
    for path, mode in (
        (base / "ro" / "existing.db", 0o666),
        (base / "rw" / "readonly.db", 0o444),
        (base / "rw" / "secret.db", 0o000),
    ):
        path.touch()
        path.chmod(mode)
    (base / "ro").chmod(0o555)
    try:
        yield base
    finally:
        for folder in (base / "ro", base / "rw"):
            folder.chmod(stat.S_IRWXU)
        shutil.rmtree(base)


def test_paths_you_may_not_write_or_read_are_named(locked):
    prefix = as_another_user()
    ro, rw = locked / "ro", locked / "rw"
    cases = [
        (str(ro / "new.db"), True),
        (str(ro / "existing.db"), True),
        (str(rw / "readonly.db"), True),
        (str(rw / "secret.db"), False),  # bench only reads its --db
        (str(rw / "fine.db"), True),
    ]
    code = textwrap.dedent(
        f"""
        from cachetui.cli.option_checks import check_db_argument
        for path, writable in {cases!r}:
            try:
                check_db_argument(path, writable=writable)
                print("ok", path)
            except ValueError as exc:
                print(exc)
        """
    )
    result = subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.stdout.splitlines() == [
        f"--db {ro}/new.db: cannot create it: you may not write to the folder {ro}",
        f"--db {ro}/existing.db: you may not write to its folder {ro}, where SQLite keeps the "
        "file's journal (-wal, -shm)",
        f"--db {rw}/readonly.db: the file is read-only for you, and cachetui writes to its "
        "database",
        f"--db {rw}/secret.db: you may not read this file (permission denied)",
        f"ok {rw}/fine.db",
    ], result.stderr
    app = subprocess.run(
        [*prefix, sys.executable, "-m", "cachetui", "--db", str(ro / "new.db")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert app.returncode == 2 and "Traceback" not in app.stderr
    assert app.stderr.splitlines()[-1] == (
        f"cachetui: error: --db {ro}/new.db: cannot create it: you may not write to the folder {ro}"
    )
    assert sorted(os.listdir(ro)) == ["existing.db"]
