"""What a user reads (issue 27's review): help texts name both databases, every duration
flag refuses a negative value in one line naming the flag, ``reset`` names what is wrong
with a path, and a search_path naming no schema is said so. Real PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from cachetui.cli import main
from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from tests.conftest import postgres_or_skip

NEVER = "postgresql://someone@127.0.0.1:1/lab"  # never reached: refused before


def test_help_texts_name_sqlite_and_postgresql(capsys):
    from cachetui.app.screens.help import POLICIES_MD

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a SQLite file (the default) or a PostgreSQL server" in text
    assert "over a real SQLite database" not in text
    help_screen = " ".join(POLICIES_MD.split())
    assert "a SQLite file, or a PostgreSQL server" in help_screen
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "real SQLite database" not in readme and "real SQLite trigger" not in readme


DURATION_FLAGS = [
    ([], "--db-rtt", []),
    ([], "--cache-rtt", []),
    ([], "--jitter", []),
    (["bench"], "--db-rtt", []),
    (["bench"], "--cache-rtt", []),
    (["bench"], "--jitter", []),
    (["compare"], "--db-rtt", []),
    (["compare"], "--jitter", []),
    (["serve"], "--db-rtt", []),
    (["link"], "--rtt", ["--listen", ":0", "--to", ":5432"]),
    (["link"], "--jitter", ["--listen", ":0", "--to", ":5432", "--rtt", "1ms"]),
]


@pytest.mark.parametrize("value", ["-2ms", "-.5s", "-1us"])
@pytest.mark.parametrize(("command", "flag", "others"), DURATION_FLAGS)
def test_a_negative_duration_is_one_line_naming_the_flag(command, flag, others, value, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--db", NEVER, *others, flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    prog = " ".join(["cachetui", *command])
    assert err.splitlines()[-1] == (
        f"{prog}: error: argument {flag}: a duration is never negative, got {value!r} "
        "(a number and a unit: 300us, 2ms, 0.5s)"
    )


def test_a_value_after_double_dash_is_left_alone():
    from cachetui.cli.dash_values import attach_dash_values

    assert attach_dash_values(["--db-rtt", "-2ms", "--", "--x", "-3"]) == [
        "--db-rtt=-2ms",
        "--",
        "--x",
        "-3",
    ]
    assert attach_dash_values(["-v", "-2ms", "--db", "-x"]) == ["-v", "-2ms", "--db", "-x"]


def test_reset_names_what_is_wrong_with_the_path(tmp_path, capsys):
    folder = tmp_path / "afolder"
    folder.mkdir()
    cases = {
        str(folder): (
            f"--db {folder}: is a folder, not a file (name a file in it, such as "
            f"{folder / 'profiles.db'}); nothing removed"
        ),
        str(tmp_path / "gone.db"): f"--db {tmp_path / 'gone.db'}: no such file; nothing removed",
        os.devnull: f"--db {os.devnull}: is not a regular file; nothing removed",
    }
    for path, error in cases.items():
        assert main(["reset", "--db", path, "--yes"]) == 2
        assert capsys.readouterr().err == f"cachetui reset: error: {error}\n"
    assert list(folder.iterdir()) == []  # nothing made, nothing removed
    made = tmp_path / "made.db"
    with sqlite3.connect(made) as conn:  # cachetui's enough for reset to look at --queue
        conn.execute("CREATE TABLE cachetui_meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO cachetui_meta VALUES ('database_id', 'x')")
        conn.execute(
            "CREATE TABLE profiles (user_id, name, bio, location, followers, version, "
            "updated_at, write_id)"
        )
    conn.close()
    assert main(["reset", "--db", str(made), "--queue", f"sqlite:///{folder}", "--yes"]) == 2
    err = capsys.readouterr().err
    said = f"cachetui reset: error: --queue sqlite:///{folder}: {folder} is a folder"
    assert err.startswith(said)
    assert err.count("\n") == 1 and made.exists()


NO_SCHEMA = (
    "no schema named in its search_path (cachetui_no_such_schema) exists in this database: "
    "create it (psql -c 'CREATE SCHEMA cachetui_no_such_schema') or name another in "
    "options=-csearch_path=…"
)


def no_schema_url() -> str:
    base = postgres_or_skip()
    return f"{base}?options=" + quote("-csearch_path=cachetui_no_such_schema", safe="")


@pytest.mark.postgres
async def test_a_search_path_naming_no_schema_is_said_so():
    url = no_schema_url()
    engine = Engine(EngineConfig(db_url=url))
    with pytest.raises(DatabaseUnavailable) as raised:
        await engine.start()
    await engine.close()
    assert str(raised.value) == f"cannot open database {url}: {NO_SCHEMA}"


@pytest.mark.postgres
def test_reset_says_the_search_path_names_no_schema(capsys):
    assert main(["reset", "--db", no_schema_url(), "--yes"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"cachetui reset: {NO_SCHEMA}"


async def test_counts_of_one_are_singular(make_engine):
    from cachetui.engine.events import EventKind

    engine = await make_engine("write-behind", queue_url="sqlite://")
    await engine.update(1, {"bio": "one"})
    await engine.crash()  # the durable queue replays it
    said = [e.detail for e in engine.recent_events() if e.kind is EventKind.REPLAY]
    assert said == ["1 write replayed from the durable queue, none lost"]
