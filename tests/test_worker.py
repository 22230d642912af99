"""``cachetui worker``, run for real: a process with a workload over a real database,
its status lines, its history judged by ``cachetui check``, SIGTERM landing what it
acknowledged, ``/metrics`` scraped over HTTP, and bad options refused in one line."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cachetui.cli.check import main as check_main
from cachetui.engine import Engine, EngineConfig
from cachetui.worker.run import Worker, WorkerPlan
from tests.conftest import db_sql

TIMEOUT = 60  # seconds a step may take on a loaded machine (never a speed assertion)
STATUS = re.compile(
    r"^(?P<name>\S+) (?P<policy>[a-z-]+): (?P<ops>\d+) ops/s, pending (?P<pending>\d+), "
    r"landed (?P<landed>\d+), claimed (?P<claimed>\d+), errors (?P<errors>\d+)$"
)
QUIET_QUEUE = ["--flush-interval", "60", "--batch-size", "100000", "--max-pending", "100000"]


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cachetui", "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def status_until(process: subprocess.Popen[str], wanted) -> re.Match[str]:
    """Read status lines until one satisfies ``wanted`` (the process is ended on failure)."""
    assert process.stdout is not None
    for line in process.stdout:
        found = STATUS.match(line.rstrip("\n"))
        assert found, f"not a status line: {line!r}"
        if wanted(found):
            return found
    process.kill()
    raise AssertionError(f"no such status line; stderr: {process.communicate()[1]}")


def acknowledged_versions(history: Path) -> dict[int, int]:
    """Per user, the newest version an update of the history acknowledged."""
    newest: dict[int, int] = {}
    for line in history.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "op" and record["op"] == "update" and record["outcome"] == "ok":
            user = record["user"]
            newest[user] = max(newest.get(user, 0), record["version"])
    return newest


def test_a_worker_runs_its_seconds_at_its_rate_and_its_history_passes_check(tmp_path):
    history = tmp_path / "worker.jsonl"
    args = ["--db", str(tmp_path / "w.db"), "--profiles", "50", "--rate", "200"]
    args += ["--policy", "write-behind", "--flush-interval", "0.2", "--seconds", "1.5"]
    process = worker(*args, "--history", str(history), "--name", "w1")
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    lines = [STATUS.match(line) for line in out.splitlines()]
    assert lines and all(lines), out
    assert {m["name"] for m in lines} == {"w1"} and lines[-1]["pending"] == "0"
    assert int(lines[-1]["landed"]) > 0 and lines[-1]["errors"] == "0"
    assert re.fullmatch(r"cachetui worker: done: \d+ pending writes? flushed\n", err)
    callers = {
        r["caller"]
        for r in map(json.loads, history.read_text().splitlines())
        if r.get("type") == "op"
    }
    assert len(callers) > 1 and all(c.startswith("worker-") for c in callers)
    assert check_main([str(history)]) == 0


def sigterm_mid_run(
    db: str, tmp_path: Path, signum: int = signal.SIGTERM
) -> tuple[str, dict[int, int]]:
    """A write-behind worker that holds its writes (no flush for 60 s) is sent SIGTERM
    (or ``signum``) once some are pending; returns its stderr and the versions it
    acknowledged."""
    history = tmp_path / "worker.jsonl"
    process = worker(
        "--db", db, "--profiles", "50", "--rate", "300", "--policy", "write-behind",
        *QUIET_QUEUE, "--history", str(history),
    )  # fmt: skip
    status_until(process, lambda m: int(m["pending"]) >= 5)
    process.send_signal(signum)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert STATUS.match(out.splitlines()[-1])["pending"] == "0"  # the last word
    acknowledged = acknowledged_versions(history)
    assert acknowledged
    assert check_main([str(history)]) == 0
    return err, acknowledged


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_mid_run_lands_everything_the_worker_acknowledged(tmp_path, signum):
    db = str(tmp_path / "w.db")
    err, acknowledged = sigterm_mid_run(db, tmp_path, signum)
    name = signal.Signals(signum).name
    assert re.fullmatch(rf"cachetui worker: quit on {name}: \d+ pending writes? flushed\n", err)
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT user_id, version FROM profiles").fetchall())
    assert {user: rows[user] for user in acknowledged} == acknowledged


@pytest.mark.postgres
def test_sigterm_mid_run_lands_everything_on_postgresql(tmp_path, postgres_url):
    err, acknowledged = sigterm_mid_run(postgres_url, tmp_path)
    assert "quit on SIGTERM" in err
    rows = dict(db_sql(postgres_url, "SELECT user_id, version FROM profiles"))
    assert {user: rows[user] for user in acknowledged} == acknowledged


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_are_served_with_cachetui_names_and_instance_and_policy_labels(tmp_path):
    port = free_port()
    process = worker(
        "--db", str(tmp_path / "w.db"), "--profiles", "50", "--policy", "write-behind",
        *QUIET_QUEUE, "--metrics-port", str(port), "--name", "node-a",
    )  # fmt: skip
    try:
        status_until(process, lambda m: int(m["pending"]) > 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT)
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    names = {line.split("{")[0] for line in samples}
    assert all(name.startswith("cachetui_") for name in names), names
    for wanted in (
        "cachetui_pending",
        "cachetui_oldest_pending_age_seconds",
        "cachetui_lost_writes_total",
        "cachetui_conflicts_total",
        "cachetui_dead_letters",
        "cachetui_claimed_writes_total",
        "cachetui_hit_ratio",
        "cachetui_ops_per_second",
        "cachetui_read_latency_seconds",
    ):
        assert wanted in names
    assert all('instance="node-a"' in s and 'policy="write-behind"' in s for s in samples)
    pending = next(s for s in samples if s.startswith("cachetui_pending{"))
    assert float(pending.rsplit(" ", 1)[1]) > 0


def test_a_metrics_port_in_use_is_one_clear_line_and_status_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = worker("--db", str(tmp_path / "w.db"), "--metrics-port", str(port))
        out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 2 and out == ""
    assert err.splitlines() == [
        f"cachetui worker: error: --metrics-port {port}: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    ]


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--claim-after", "1", "must be between 2 and 3600, got 1"),
        ("--rate", "-5", "must be between 1 and 50,000, got -5"),
        ("--read-ratio", "2", "must be between 0 and 1, got 2"),
    ],
)
def test_bad_options_are_refused_in_one_line(tmp_path, option, value, problem):
    process = worker("--db", str(tmp_path / "w.db"), "--seconds", "0.5", option, value)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 2 and out == ""
    assert err.splitlines()[-1] == f"cachetui worker: error: argument {option}: {problem}"
    assert [line for line in err.splitlines() if "error" in line] == [err.splitlines()[-1]]
    assert not (tmp_path / "w.db").exists()  # refused before anything started


async def test_writes_that_cannot_land_are_counted_named_and_the_status_is_1(tmp_path, capsys):
    """The database down when SIGTERM comes: close() gives up after ``flush_timeout``
    (short here; in process, so it can be set) and the worker names what it lost."""
    config = EngineConfig(
        db_path=str(tmp_path / "w.db"),
        policy="write-behind",
        flush_interval=60,
        flush_timeout=0.2,
        max_pending=100_000,
    )
    engine = Engine(config)
    plan = WorkerPlan("w", rate=500, read_ratio=0, keys=None, zipf=0, seconds=None, profiles=20)
    run = Worker(engine, plan, None)
    task = asyncio.create_task(run.run())
    for _ in range(TIMEOUT * 100):  # until some writes are pending
        if engine.running and len(engine.pending_writes()) >= 3:
            break
        await asyncio.sleep(0.01)
    engine.faults.db_down = True
    run.stop(signal.SIGTERM)
    result = await task
    assert result.exit_code == 1
    lost = len(result.report.lost)
    assert lost >= 3 and result.report.flushed == 0
    assert result.lines[0].startswith(
        f"cachetui: quit on SIGTERM: {lost} pending writes could not be written and are lost"
    )
    assert STATUS.match(capsys.readouterr().out.splitlines()[-1])
