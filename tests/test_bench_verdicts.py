"""``cachetui bench``'s correctness columns (stale_pct, max_stale_ms, lost): each run's
recorded history judged after the run, an external writer with ``--external-rate``, each
run's history in a file of its own with ``--history`` (what ``cachetui check`` says of
that file is what bench said). SQLite and PostgreSQL (a schema per run)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from cachetui.bench.command import main
from cachetui.cli.check import main as check
from tests.conftest import BOTH_DATABASES, postgres_or_skip

pytestmark = BOTH_DATABASES
SMALL = ("--keys", "50", "--json", "--warmup", "0")


@pytest.fixture
def db(db_backend: str) -> list[str]:
    """bench's --db: none (a seeded SQLite file), or the PostgreSQL test database."""
    return ["--db", postgres_or_skip()] if db_backend == "postgres" else []


def rows(out: str) -> dict[str, dict]:
    return {r["policy"]: r for r in map(json.loads, out.splitlines())}


def reads_in(path: Path) -> int:
    records = map(orjson.loads, path.read_bytes().splitlines()[1:])
    return sum(1 for r in records if r["type"] == "op" and r["op"] == "read")


def test_write_around_with_an_external_writer_serves_stale_reads_bounded_by_the_run(
    db, tmp_path, capsys
):
    history = tmp_path / "h.jsonl"
    argv = ["--policy", "write-around", "--ops", "2000", "--external-rate", "2000", *SMALL]
    assert main([*argv, "--history", str(history), *db]) == 0
    row = rows(capsys.readouterr().out)["write-around"]
    assert row["external_writes"] > 0  # (an update of a row it changed may be refused)
    assert row["stale_pct"] > 0 and row["lost"] == 0
    # Without a TTL a stale entry lives until it is evicted or its user updated through
    # the engine: nothing bounds it but the run (the writer writes only while it lasts).
    assert 0 < row["max_stale_ms"] <= row["seconds"] * 1000 + 0.1
    # One policy, one file: FILE itself; `cachetui check` says what bench said.
    assert row["history"] == str(history) and not list(tmp_path.glob("h.*.jsonl"))
    assert check([str(history), "--json"]) == 0  # write-around may serve stale reads
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["lost"] == row["lost"]
    assert round(100 * report["counts"]["stale"] / reads_in(history), 3) == row["stale_pct"]
    assert round(report["stale_max_ms"], 1) == row["max_stale_ms"]


def test_write_through_without_an_external_writer_reads_nothing_stale_and_loses_nothing(db, capsys):
    argv = ["--policy", "write-through", "--ops", "1000", "--read-ratio", "0.5", *SMALL, *db]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    row = rows(out)["write-through"]
    assert (row["stale_pct"], row["max_stale_ms"], row["lost"]) == (0, 0, 0)
    assert "external_writes" not in row and "history" not in row
    assert "breaking" not in err


def test_each_policy_gets_a_history_file_of_its_own_judged_alone(tmp_path, capsys):
    history = tmp_path / "runs.jsonl"
    argv = ["--ops", "200", "--keys", "20", "--read-ratio", "0.5", "--json", "--warmup", "0"]
    assert main([*argv, "--history", str(history)]) == 0  # SQLite only: naming, no server
    found = rows(capsys.readouterr().out)
    files = {p: tmp_path / f"runs.{p}.jsonl" for p in found}
    assert sorted(tmp_path.glob("runs*")) == sorted(files.values())
    for policy, path in files.items():
        assert found[policy]["history"] == str(path)
        assert check([str(path)]) == 0, policy
    capsys.readouterr()
    # Each run had a database of its own: their versions do not compare.
    assert check([str(files["write-through"]), str(files["write-around"])]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "cannot be judged together" in line


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "argument --external-rate: must be > 0, got -1"),
        ("0", "argument --external-rate: must be > 0, got 0"),
        ("fast", "argument --external-rate: expected a number, got 'fast'"),
        ("nan", "argument --external-rate: expected a finite number, got 'nan'"),
    ],
)
def test_an_external_rate_that_is_no_rate_is_one_line(value, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--external-rate", value, "--ops", "10"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].endswith(message)


@pytest.mark.parametrize(
    ("path", "problem"), [("{tmp}", "it is a folder"), ("{tmp}/no/h.jsonl", "no folder {tmp}/no")]
)
def test_a_history_file_that_cannot_be_written_is_one_line(path, problem, tmp_path, capsys):
    path, problem = path.format(tmp=tmp_path), problem.format(tmp=tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["--history", path, "--ops", "10"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].endswith(f"--history {path}: {problem}")
