"""`cachetui bench --sweep`, run small: one knob varied, paced; the plot is a real image;
bad input stops before anything runs."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from cachetui.bench.command import build_parser
from cachetui.bench.command import main as bench_main
from cachetui.bench.sweep import plan
from cachetui.engine import WritePolicy
from tests.test_bench import FIELDS, bench

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_flush_interval_sweep_trades_db_writes_for_unflushed_wait(tmp_path: Path):
    plot = tmp_path / "sweep.png"
    result = bench(
        "--sweep",
        "flush-interval=0.01,0.1,1",
        "--seconds",
        "1",
        "--keys",
        "200",
        "--read-ratio",
        "0.5",
        "--json",
        "--plot",
        str(plot),
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["sweep"], r["value"], r["policy"]) for r in rows] == [
        ("flush-interval", 0.01, "write-behind"),
        ("flush-interval", 0.1, "write-behind"),
        ("flush-interval", 1, "write-behind"),
    ]
    for row in rows:
        assert set(row) >= FIELDS | {"peak_pending", "max_queue_wait_ms", "errors"}
        assert row["ops"] == 2000 and row["errors"] == 0  # --rate 2000 for 1 s
    # the same operations at the same moments: a longer interval coalesces more writes
    # into fewer rows and transactions, and leaves acknowledged writes unflushed longer
    writes = [r["db_writes"] for r in rows]
    waits = [r["max_queue_wait_ms"] for r in rows]
    assert writes == sorted(writes, reverse=True), writes
    assert waits == sorted(waits), waits
    transactions = [r["db_transactions"] for r in rows]
    assert transactions == sorted(transactions, reverse=True), transactions

    data = plot.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 700  # large enough to project
    assert len(data) > 30_000  # drawn, not blank


def test_sweep_of_every_policy_prints_a_row_per_policy_and_value_and_draws_svg(
    tmp_path: Path,
):
    plot = tmp_path / "sweep.SVG"
    result = bench(
        "--sweep",
        "capacity=10,100",
        "--policy",
        "all",
        "--seconds",
        "0.1",
        "--keys",
        "100",
        "--plot",
        str(plot),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "every policy, capacity sweep" in out and "2,000 ops/s for 0.1 s" in out
    cells = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in out.splitlines()
        if line.startswith("│")
    ]
    assert [(row[0], row[1]) for row in cells] == [
        (value, policy)
        for policy in ("write-through", "write-behind", "write-around", "no-cache")
        for value in ("10", "100")
    ]
    svg = plot.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert len(svg) > 30_000


@pytest.mark.parametrize(
    ("args", "batch_size", "seconds", "policies"),
    [
        # the interval, not the batch size, triggers flushes; 10 intervals at least
        (["--sweep", "flush-interval=0.2,2"], 10_000, 20, ["write-behind"]),
        (["--sweep", "flush-interval=0.2", "--max-pending", "500"], 500, 5, ["write-behind"]),
        (["--sweep", "flush-interval=0.2", "--batch-size", "50"], 50, 5, ["write-behind"]),
        (["--sweep", "zipf=0,1", "--flush-interval", "0.8"], 100, 8, ["write-behind"]),
        (["--sweep", "zipf=0,1", "--seconds", "2", "--policy", "no-cache"], 100, 2, ["no-cache"]),
        (["--sweep", "capacity=1,2", "--policy", "all"], 100, 5, [p.value for p in WritePolicy]),
    ],
)
def test_sweep_defaults(args: list[str], batch_size: int, seconds: float, policies: list[str]):
    sweep = plan(build_parser().parse_args(args))
    assert sweep.base.batch_size == batch_size
    assert sweep.seconds == seconds and sweep.rate == 2000
    assert list(sweep.policies) == policies


def test_write_behind_knobs_reach_the_engine():
    result = bench(
        "--policy", "write-behind", "--batch-size", "1", "--ops", "300", "--keys", "50",
        "--read-ratio", "0.5", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = map(json.loads, result.stdout.splitlines())
    assert row["db_writes"] == row["db_transactions"] > 0  # one row per transaction


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "speed=1,2"], "--sweep: unknown knob 'speed': choose one of flush-interval"),
        (["--sweep", "capacity"], "--sweep: expected NAME=V1,V2,..."),
        (["--sweep", "flush-interval=0.5,0"], "--sweep flush-interval: must be > 0, got 0"),
        (["--sweep", "read-ratio=0.5,1.5"], "--sweep read-ratio: must be between 0 and 1, got 1.5"),
        (["--sweep", "capacity=10,many"], "--sweep capacity: expected a number, got 'many'"),
        (["--sweep", "batch-size=10,10"], "--sweep batch-size: 10 is given twice"),
        (["--sweep", "zipf=1,2", "--zipf", "1"], "--zipf and --sweep zipf: give one"),
        (["--sweep", "zipf=1,2", "--ops", "10"], "--ops does not apply to --sweep"),
        (
            ["--sweep", "max-pending=1,10", "--policy", "write-through"],
            "--sweep max-pending varies a write-behind knob, which --policy write-through",
        ),
        (["--plot", "{tmp}/sweep.png"], "--plot needs --sweep"),
        (["--sweep", "zipf=1,2", "--plot", "{tmp}/sweep.pdf"], "must end in .png or .svg"),
        (["--sweep", "zipf=1,2", "--plot", "{tmp}/no/sweep.png"], "no such folder"),
        (["--sweep", "zipf=1,2", "--plot", "{tmp}"], "must end in .png or .svg"),
        (["--sweep", "zipf=1,2", "--plot", "{tmp}/folder.png"], "is a folder"),
        (["--sweep", "zipf=1,2", "--seconds", "0"], "--seconds: must be > 0, got 0"),
        (["--flush-interval", "0"], "--flush-interval: must be > 0, got 0"),
    ],
)
def test_bad_sweep_input_is_one_error_line_and_nothing_runs(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "folder.png").mkdir()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(SystemExit) as stopped:
        bench_main(args)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # no row: nothing ran
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0] == err.splitlines()[-1]
    assert message in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png"]  # no plot


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    with pytest.raises(SystemExit) as stopped:
        bench_main(["--sweep", "zipf=1,2", "--plot", str(tmp_path / "sweep.png")])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith("--plot needs matplotlib: pip install 'cachetui[plot]'")
    assert not list(tmp_path.iterdir())
