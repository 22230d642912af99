"""``cachetui check``'s files: the Jepsen history (round trip against a golden file),
files it refuses (one line naming the line, exit 2), a killed process's cut last line
(dropped with a warning), files of different boots, a rotated file."""

from __future__ import annotations

from pathlib import Path

import edn_format
import orjson
import pytest

from cachetui.cli.check import main as check_main
from cachetui.engine import Engine, EngineConfig

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small.jsonl"


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def sizes(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths)  # FileNotFoundError if one is missing


def write(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(lines))
    return str(path)


def test_edn_is_jepsens_history_shape_and_reads_back(tmp_path):
    out = tmp_path / "history.edn"
    assert check_main([str(SMALL), "--edn", str(out)]) == 0
    assert out.read_text() == (DATA / "small.edn").read_text()
    events = [edn_format.loads(line) for line in out.read_text().splitlines()]
    k = edn_format.Keyword
    ops = [orjson.loads(raw) for raw in lines_of(SMALL) if b'"type":"op"' in raw]
    assert len(events) == 2 * len(ops)
    t0 = min(o["invoke_ns"] for o in ops)
    for op in ops:
        invoke = next(e for e in events if e[k("time")] == op["invoke_ns"] - t0)
        done = next(e for e in events if e[k("time")] == op["complete_ns"] - t0)
        assert invoke[k("type")] == k("invoke")
        assert done[k("type")] == k(op["outcome"])
        assert invoke[k("process")] == done[k("process")]
        assert done[k("f")] == k("read" if op["op"] == "read" else "write")
        assert list(done[k("value")]) == [
            op["user"],
            op["version"] if op["outcome"] == "ok" else None,
        ]
    # processes are integers; bench-0's update ended info: its next read is a new process
    process = {
        (o["caller"], o["op_id"]): next(
            e[k("process")] for e in events if e[k("time")] == o["invoke_ns"] - t0
        )
        for o in ops
    }
    assert process["bench-0", 4] != process["bench-0", 3]
    assert process["keyboard", 1] == process["keyboard", 6] == process["keyboard", 7]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda ls: ls[:3] + [b"{this is not json\n"] + ls[3:], ":4: not JSON"),
        (
            lambda ls: ls[:2] + [ls[3].replace(b'"update"', b'"upsert"')] + ls[3:],
            ":3: unknown operation 'upsert'",
        ),
        (
            lambda ls: ls[:2] + [ls[3].replace(b'"user":1,', b"")] + ls[3:],
            ":3: an op without 'user'",
        ),
        (lambda ls: [b"user_id,name\n", b"1,ada\n"], ":1: not JSON: not a cachetui history file"),
        (lambda ls: ls[1:], ":1: not a cachetui history file (no header line)"),
    ],
    ids=["corrupt-middle", "unknown-operation", "missing-field", "csv", "no-header"],
)
def test_a_file_that_cannot_be_judged_is_one_line_and_exit_2(tmp_path, capsys, damage, expected):
    path = write(tmp_path / "bad.jsonl", damage(lines_of(SMALL)))
    assert check_main([path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"cachetui check: error: {path}{expected}"), captured.err


def test_a_cut_last_line_is_dropped_with_a_warning(tmp_path, capsys):
    lines = lines_of(SMALL)
    path = write(tmp_path / "killed.jsonl", lines[:-1] + [lines[-1][:40]])
    assert check_main([path]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"cachetui check: warning: {path}:{len(lines)}: the last line is cut "
        "(a killed process?): dropped\n"
    )
    assert captured.out.startswith("7 operations in 1 file\n")
    # the same cut in the middle is corruption
    middle = write(tmp_path / "middle.jsonl", lines[:3] + [lines[3][:40] + b"\n"] + lines[4:])
    assert check_main([middle]) == 2
    # and so is a corrupt last line that was written whole (it ends with a newline)
    whole = write(tmp_path / "whole.jsonl", lines[:-1] + [lines[-1][:40] + b"\n"])
    assert check_main([whole]) == 2


def test_files_of_different_boots_are_not_judged_together(tmp_path, capsys):
    other = lines_of(SMALL)
    other[0] = other[0].replace(b'"boot_id":"b-1"', b'"boot_id":"b-2"')
    path = write(tmp_path / "other.jsonl", other)
    assert check_main([str(SMALL), path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be judged together" in err
    lines = lines_of(SMALL)  # another instance on the same boot: judged together
    same = write(tmp_path / "same.jsonl", [lines[0].replace(b'"i1"', b'"i2"'), lines[1]])
    assert check_main([str(SMALL), same]) == 0
    assert "8 operations in 2 files" in capsys.readouterr().out


async def test_a_capped_history_rotates_and_both_files_judge_together(tmp_path, capsys):
    history = tmp_path / "h.jsonl"
    cap = 40_000
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"), history_path=str(history), history_max_bytes=cap
    )
    async with Engine(config) as engine:
        await engine.seed(5)
        for n in range(400):
            await engine.update(1 + n % 5, {"bio": str(n)})
            if n % 20 == 0:
                engine.history.drain()  # small batches (the task does it every 0.1 s)
    rotated = Path(f"{history}.1")
    assert sizes(history, rotated) <= cap
    assert orjson.loads(lines_of(history)[0])["type"] == "header"
    assert check_main([str(rotated), str(history)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "lost writes: 0"
