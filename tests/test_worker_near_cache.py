"""Two ``cachetui worker`` processes with in-process caches on one database, reading and
writing the same few users: ``cachetui check`` over their histories counts stale reads
without ``--invalidate``, and with it finds none behind more than the stated bound
(docs/fleet.md, "Near caches"). A bad or unreachable ``--invalidate`` is one line, exit
status 2, nothing written."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.history.reader import load
from tests.test_worker import TIMEOUT, worker

#: The bound docs/fleet.md states for a write-through peer's change (ms behind).
STALE_BOUND_MS = 1000.0
WORKLOAD = ["--keys", "5", "--rate", "250", "--read-ratio", "0.9", "--seconds", "1.5"]


def seeded(path: Path) -> str:
    async def seed() -> None:
        async with Engine(EngineConfig(db_path=str(path))) as engine:
            await engine.seed(5)

    asyncio.run(seed())
    return str(path)


def pair(folder: Path, *extra: str) -> list[subprocess.Popen[str]]:
    folder.mkdir()
    db = seeded(folder / "p.db")
    return [
        worker(
            "--db",
            db,
            *WORKLOAD,
            "--name",
            name,
            "--history",
            str(folder / f"{name}.jsonl"),
            *extra,
        )  # fmt: skip
        for name in ("a", "b")
    ]


def stale(folder: Path) -> tuple[int, float]:
    checker, _ = load([str(folder / "a.jsonl"), str(folder / "b.jsonl")])
    report = checker.verdicts()
    return report.counts().get("stale", 0), report.stale_bounds()[1]


def test_stale_reads_are_counted_without_invalidate_and_bounded_with_it(tmp_path, redis_url):
    processes = pair(tmp_path / "without") + pair(tmp_path / "with", "--invalidate", redis_url)
    for process in processes:
        _, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
    without, _ = stale(tmp_path / "without")
    assert without > 0  # each instance serves its cached row after the other's update
    count, behind_ms = stale(tmp_path / "with")
    assert count < without and behind_ms <= STALE_BOUND_MS


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--invalidate", "http://127.0.0.1:6379"], "argument --invalidate: "),
        (["--invalidate", "redis://127.0.0.1:1/0"], "cannot reach Redis at redis://127.0.0.1:1/0"),
        (
            ["--invalidate", "redis://127.0.0.1:6379/15", "--cache", "redis://127.0.0.1:6379/15"],
            "invalidate_url makes per-instance caches a near cache",
        ),
    ],
)
def test_a_bad_invalidate_url_is_one_line_and_status_2(tmp_path, extra, problem):
    process = worker("--db", str(tmp_path / "w.db"), "--seconds", "0.5", *extra)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 2 and out == ""
    last = err.splitlines()[-1]
    assert last.startswith("cachetui worker: error: ") and problem in last, err
    assert [line for line in err.splitlines() if "error" in line] == [last]
    assert not (tmp_path / "w.db").exists()  # refused before anything was written
