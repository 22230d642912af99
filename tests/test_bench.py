"""`cachetui bench`, run small: every policy, real numbers, clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.bench.command import main as bench_main

FIELDS = {
    "policy",
    "ops",
    "seconds",
    "ops_per_s",
    "read_p50_us",
    "read_p99_us",
    "read_hit_p50_us",
    "read_miss_p50_us",
    "update_p50_us",
    "update_p99_us",
    "hit_ratio",
    "db_writes",
    "db_transactions",
    "coalesced",
}

#: No warm-up: these runs check the counts of the very operations they ran.
COLD = ("--warmup", "0")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachetui", "bench", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def documented_keys() -> list[str]:
    """The keys docs/performance.md's "Bench JSON" names, in its order (first mention)."""
    text = (Path(__file__).parents[1] / "docs" / "performance.md").read_text()
    section = text.split("## Bench JSON", 1)[1].split("\n## ", 1)[0]
    return list(dict.fromkeys(re.findall(r"`([a-z_0-9]+)`", section)))


def assert_documented_order(row: dict) -> None:
    """Every key of a --json row is documented, in the order the docs list them."""
    assert list(row) == [key for key in documented_keys() if key in row]


def test_bench_json_compares_every_policy():
    result = bench("--ops", "400", "--keys", "200", "--read-ratio", "0.5", "--json", *COLD)
    assert result.returncode == 0, result.stderr
    rows = {r["policy"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert list(rows) == ["write-through", "write-behind", "write-around", "no-cache"]
    for row in rows.values():
        assert_documented_order(row)
        assert set(row) >= FIELDS and row["ops"] == 400 and row["ops_per_s"] > 0
        assert row["errors"] == 0
    assert rows["no-cache"]["hit_ratio"] == 0
    assert rows["write-through"]["hit_ratio"] > 0
    # no hit without a cache: every read is a miss, so their median is the reads'
    assert rows["no-cache"]["read_hit_p50_us"] is None
    assert rows["no-cache"]["read_miss_p50_us"] == rows["no-cache"]["read_p50_us"]
    for row in rows.values():
        if row["policy"] != "no-cache":
            assert 0 < row["read_hit_p50_us"] <= row["read_p99_us"]
            assert 0 < row["read_miss_p50_us"] <= row["read_p99_us"]
    # the same seeded workload: the same number of updates reach the database…
    assert rows["write-through"]["db_writes"] == rows["no-cache"]["db_writes"]
    # …except under write-behind, which coalesces them
    behind = rows["write-behind"]
    assert behind["db_writes"] + behind["coalesced"] == rows["write-through"]["db_writes"]
    assert behind["db_transactions"] < rows["write-through"]["db_transactions"]


def test_a_warm_up_runs_before_the_timed_part_and_fills_the_cache(capsys):
    def run(*warmup: str) -> dict:
        argv = ["--policy", "write-through", "--ops", "500", "--keys", "2000"]
        assert bench_main([*argv, "--capacity", "2000", "--json", *warmup]) == 0
        [row] = map(json.loads, capsys.readouterr().out.splitlines())
        return row

    cold, warm = run("--warmup", "0"), run("--warmup", "0.5")
    assert (cold["warmup_s"], warm["warmup_s"]) == (0, 0.5)
    assert_documented_order(warm)
    # the very same timed operations (the warm-up has a seed of its own), counted alone…
    assert cold["ops"] == warm["ops"] == 500
    assert warm["db_writes"] == cold["db_writes"] > 0
    # …found more of their keys cached
    assert warm["hit_ratio"] > cold["hit_ratio"]
    assert warm["db_reads"] < cold["db_reads"]
    # a sweep runs paced: no flat-out warm-up
    refused = bench("--warmup", "1", "--sweep", "zipf=0,1")
    assert refused.returncode == 2
    assert "--warmup does not apply to --sweep" in refused.stderr.splitlines()[-1]


def test_bench_measures_write_behind_over_a_durable_queue():
    result = bench(
        *("--ops", "400", "--keys", "200", "--read-ratio", "0.5", "--json"),
        *("--policy", "write-behind", "--queue", "sqlite://"),
        *COLD,
    )
    assert result.returncode == 0, result.stderr
    [row] = map(json.loads, result.stdout.splitlines())
    assert_documented_order(row)  # queue included
    assert row["queue"] == "sqlite://" and row["errors"] == 0
    assert row["db_writes"] + row["coalesced"] > 0  # every update landed or coalesced


def test_bench_table_for_one_policy():
    result = bench("--ops", "200", "--keys", "50", "--policy", "write-around", *COLD)
    assert result.returncode == 0, result.stderr
    assert "write-around" in result.stdout and "write-behind" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--read-ratio", "1.5"], "--read-ratio: must be between 0 and 1, got 1.5"),
        (["--keys", "0"], "--keys: must be between 1 and 10,000,000, got 0"),
        (["--keys", "9" * 20], "--keys: must be between 1 and 10,000,000, got 99999999999"),
        (["--concurrency", "100000"], "--concurrency: must be between 1 and 10,000, got 100000"),
        (["--ops", "many"], "--ops: expected a number, got 'many'"),
        (["--warmup", "soon"], "--warmup: expected a number, got 'soon'"),
        (["--db", "/no/such/file.db"], "--db /no/such/file.db: no such file"),
        (["--cache", "memcached://x"], "unsupported cache URL 'memcached://x'"),
        (["--queue", "kafka://x"], "unknown queue URL 'kafka://x'"),
    ],
)
def test_bench_rejects_impossible_options(args, message):
    result = bench(*args, "--ops", "10") if "--ops" not in args else bench(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.splitlines()[-1]


ROW = {
    "policy": "write-through",
    "ops_per_s": 1000.0,
    "read_p50_us": 10,
    "read_p99_us": 20,
    "read_hit_p50_us": 1,
    "read_miss_p50_us": 15,
    "update_p50_us": 30,
    "update_p99_us": 40,
    "hit_ratio": 0.5,
    "db_reads": 1,
    "db_writes": 2,
    "db_transactions": 2,
    "coalesced": 0,
    "peak_pending": 0,
    "max_queue_wait_ms": 0,
    "stale_pct": 0.0,
    "max_stale_ms": 0.0,
    "lost": 0,
}


def test_bench_table_title_names_a_cache_that_is_not_memory(capsys):
    from cachetui.bench.all_policies import print_table
    from cachetui.bench.command import build_parser

    row = ROW
    print_table([row], build_parser().parse_args([]))
    assert "cache" not in capsys.readouterr().out.split("\n")[0]
    args = build_parser().parse_args(["--cache", "redis://me:secret@localhost:6379/0"])
    print_table([row], args)
    out = " ".join(capsys.readouterr().out.split())
    assert "cache redis://me:***@localhost:6379/0" in out and "secret" not in out
    server = ["--db", "postgresql://me:secret@db.test/lab", "--db-rtt", "2ms", "--jitter", "1ms"]
    print_table([row], build_parser().parse_args(server))
    out = " ".join(capsys.readouterr().out.split())
    assert "db postgresql://me:***@db.test/lab · db 2ms away (jitter p99 1ms)" in out
    assert "secret" not in out


def test_bench_table_names_the_hit_ratio_a_ratio(capsys):
    from cachetui.bench.all_policies import print_table
    from cachetui.bench.command import build_parser

    print_table([ROW], build_parser().parse_args([]))
    lines = capsys.readouterr().out.splitlines()
    [header, _] = [line for line in lines if "┃" in line]  # the table, then correctness
    [row, _] = [line for line in lines if "│" in line]
    cells = [cell.strip() for cell in header.split("┃")]
    assert "hit ratio" in cells and "hits" not in cells
    assert [cell.strip() for cell in row.split("│")][cells.index("hit ratio")] == "50.0%"


def test_bench_table_shows_the_hit_and_miss_medians(capsys):
    from cachetui.bench.all_policies import print_table
    from cachetui.bench.command import build_parser

    print_table(
        [ROW, {**ROW, "policy": "no-cache", "read_hit_p50_us": None}], build_parser().parse_args([])
    )
    lines = capsys.readouterr().out.splitlines()
    [header, _] = [line for line in lines if "┃" in line]  # the table, then correctness
    cells = [cell.strip() for cell in header.split("┃")]
    rows = [[c.strip() for c in line.split("│")] for line in lines if "│" in line][:2]
    column = cells.index("hit/miss p50")
    assert [row[column] for row in rows] == ["1 / 15", "– / 15"]
