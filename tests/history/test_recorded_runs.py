"""Real runs recorded and judged: what each policy costs in correctness, from the
history file alone (``cachetui check``), compared with what the engine says."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from cachetui.cli.check import main as check_main
from cachetui.engine import Checker, Engine, EngineConfig, calling
from cachetui.engine.history import KINDS, load

NOTHING = dict.fromkeys(KINDS, 0)


def records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_write_through_one_caller_no_faults_has_nothing_to_report(tmp_path):
    history = tmp_path / "h.jsonl"
    config = EngineConfig(db_path=str(tmp_path / "p.db"), history_path=str(history))
    async with Engine(config) as engine:
        await engine.seed(10)
        live = Checker()
        engine.history.listen(live.feed_many)
        with calling("keyboard"):
            for n in range(30):
                user = 1 + n % 5
                await engine.read(user)
                await engine.update(user, {"bio": f"b{n}"})
                await engine.read(user)
        engine.history.drain()
        assert live.operations == 90
        assert live.verdicts().counts() == NOTHING
    lines = records(history)
    assert lines[0]["type"] == "header" and lines[0]["pid"] == os.getpid()
    ops = [r for r in lines if r["type"] == "op"]
    assert len(ops) == 90 and {r["caller"] for r in ops} == {"keyboard"}
    assert {r["policy"] for r in ops} == {"write-through"}
    assert len([r for r in lines if r["type"] == "landing"]) == 30
    finals = {r["user"]: r for r in lines if r["type"] == "final"}
    assert sorted(finals) == [1, 2, 3, 4, 5] and finals[1]["db_version"] == 7
    checker, warnings = load([str(history)])
    report = checker.verdicts()
    assert (report.counts(), report.unjudged_users, warnings) == (NOTHING, 0, [])


async def test_write_behind_crash_loses_what_the_crash_report_says(tmp_path, capsys):
    history = tmp_path / "h.jsonl"
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"),
        policy="write-behind",
        flush_interval=60,  # only flush() lands the queue
        history_path=str(history),
    )
    async with Engine(config) as engine:
        await engine.seed(10)
        for user in (1, 2, 3, 4):
            await engine.update(user, {"bio": "landed"})
        await engine.flush()
        for user, times in ((1, 3), (2, 1), (5, 2)):  # coalesced while queued
            for n in range(times):
                await engine.update(user, {"bio": f"lost {n}"})
        await engine.read(1)
        await engine.crash()
        crash = engine.last_crash
        await engine.update(3, {"bio": "after the crash"})
        await engine.read(1)
    assert crash.lost_updates == 6
    checker, _ = load([str(history)])
    lost = checker.verdicts().of("lost")
    assert len(lost) == crash.lost_updates
    newest = {}
    for v in lost:
        write = v.evidence[0]
        newest[v.user] = max(newest.get(v.user, 0), write["version"])
    assert sorted(newest.items()) == crash.lost
    assert not any(v.promised for v in lost)  # write-behind, memory://: lost at a crash
    assert check_main([str(history)]) == 0
    assert "lost writes: 6\n" in capsys.readouterr().out
    assert check_main([str(history), "--fail-on", "lost"]) == 1
    assert check_main([str(history), "--fail-on", "none"]) == 0


async def test_write_around_with_an_external_writer_serves_bounded_stale_reads(tmp_path, capsys):
    history = tmp_path / "h.jsonl"
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"), policy="write-around", history_path=str(history)
    )
    async with Engine(config) as engine:
        await engine.seed(3)
        with calling("reader"):
            await engine.read(1)  # cached: v1
        await engine.external_update(1, {"bio": "x"})  # v2, the cache still has v1
        await engine.external_update(1, {"bio": "y"})  # v3
        await asyncio.sleep(0.02)
        with calling("reader"):
            await engine.read(1)  # a hit: v1, two writes behind
    checker, _ = load([str(history)])
    stale = checker.verdicts().of("stale")
    assert len(stale) == 1
    ops = [r for r in records(history) if r["type"] == "op"]
    read = ops[-1]
    first_missed = next(r for r in ops if r["op"] == "external")
    assert (read["version"], stale[0].writes) == (1, 2)
    assert stale[0].ms == (read["invoke_ns"] - first_missed["complete_ns"]) / 1e6
    assert stale[0].ms >= 20
    assert not stale[0].promised  # external writers: counted, not failed
    assert check_main([str(history)]) == 0
    ms = round(stale[0].ms)
    assert f"stale reads: 1 (max 2 writes, {ms} ms)" in capsys.readouterr().out
    assert check_main([str(history), "--fail-on", "stale"]) == 1


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from cachetui.engine import Engine, EngineConfig
    async def main(db, history):
        config = EngineConfig(db_path=db, policy="write-behind", queue_url="sqlite://",
                              flush_interval=0.25, history_path=history)
        engine = Engine(config)
        await engine.start()
        acked, n, ready = 0, 0, None
        while True:
            n += 1
            await engine.update(1 + n % 20, {"bio": f"b{n}"})
            acked += 1
            if acked == 300:
                ready = time.monotonic()
            if ready and time.monotonic() - ready > 0.3:
                print("ready", flush=True)
                ready = None
            if n % 10 == 0:
                await asyncio.sleep(0.001)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def spawn(db: str, history: str) -> subprocess.Popen[str]:
    """The child that updates until it is killed (its stdout says when it is ready)."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, db, history], stdout=subprocess.PIPE, text=True
    )


@pytest.mark.timeout(60)
async def test_a_durable_queue_killed_with_sigkill_loses_nothing(tmp_path):
    db = str(tmp_path / "p.db")
    async with Engine(EngineConfig(db_path=db)) as engine:
        await engine.seed(20)
    first, second = tmp_path / "killed.jsonl", tmp_path / "after.jsonl"
    child = spawn(db, str(first))
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == "ready\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    config = EngineConfig(
        db_path=db, policy="write-behind", queue_url="sqlite://", history_path=str(second)
    )
    async with Engine(config) as engine:  # replays what the killed process left queued
        for user in range(1, 21):
            await engine.read(user)
    checker, _ = load([str(first), str(second)])
    report = checker.verdicts()
    acked = [o for o in checker.operations_fed() if o.op == "update" and o.outcome == "ok"]
    assert len(acked) >= 300
    assert report.unjudged_users == 0
    assert report.counts()["lost"] == 0
    assert report.counts()["double-apply"] == 0
    assert check_main([str(first), str(second), "--fail-on", "lost"]) == 0
