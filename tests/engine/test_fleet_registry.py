"""Instances register in ``cachetui_meta`` with a heartbeat: one whose queue kind or
conflict setting differs from a live one's on the same database is refused, naming it;
the same settings run side by side; a dead registration (stale heartbeat) refuses
nothing and is cleaned."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from cachetui.engine import Engine, EngineConfig
from cachetui.engine.fleet.registry import Registration, refusal
from tests.conftest import BOTH_DATABASES, db_sql, db_where

pytestmark = BOTH_DATABASES


def config(db_path: str, **options: object) -> EngineConfig:
    return EngineConfig(policy="write-behind", **db_where(db_path), **options)  # type: ignore[arg-type]


def registrations(db_path: str) -> list[dict[str, object]]:
    rows = db_sql(db_path, "SELECT value FROM cachetui_meta WHERE substr(key, 1, 9) = 'instance:'")
    return [json.loads(value) for (value,) in rows]


async def worker(db_path: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``cachetui worker`` (another process) on the database, for half a second."""
    command = [sys.executable, "-m", "cachetui", "worker", "--db", db_path]
    command += ["--policy", "write-behind", "--rate", "20", "--seconds", "0.5", *options]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
    )


async def test_another_process_with_another_queue_kind_is_refused_naming_this_one(db_path):
    engine = Engine(config(db_path, instance_name="alpha"))
    await engine.start()
    try:
        await engine.seed(20)
        refused = await worker(db_path, "--name", "beta", "--queue", "sqlite://")
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in refused.stderr
        assert "alpha" in lines[0] and "memory queue" in lines[0]
        assert "sqlite outbox" in lines[0]
        other = await worker(db_path, "--name", "gamma", "--conflict", "overwrite")
        assert other.returncode == 2
        assert "alpha" in other.stderr and "--conflict is reject" in other.stderr
        assert [r["name"] for r in registrations(db_path)] == ["alpha"]
    finally:
        await engine.close()
    assert registrations(db_path) == []  # close deletes its row


async def test_the_same_settings_run_side_by_side(db_path):
    engine = Engine(config(db_path, instance_name="app"))
    await engine.start()
    try:
        await engine.seed(20)
        (mine,) = registrations(db_path)
        assert mine["name"] == "app" and mine["queue"] == "memory"
        assert mine["conflict"] == "reject" and mine["policy"] == "write-behind"
        beside = await worker(db_path, "--name", "worker")
        assert beside.returncode == 0, beside.stderr
        assert "worker write-behind:" in beside.stdout
    finally:
        await engine.close()


def test_a_mismatch_is_refused_in_one_line(db_path):
    mine = Registration("t", "beta", "write-behind", "redis", "reject", 10.0)
    line = refusal(
        mine,
        {"name": "alpha", "policy": "write-through", "queue": "memory", "conflict": "overwrite"},
    )
    assert line is not None and line.startswith("instance alpha (write-through) is running")
    assert "its queue is a memory queue, this one's a redis stream" in line
    assert "its --conflict is overwrite, this one's reject" in line
    assert refusal(mine, {"name": "x", "queue": "redis", "conflict": "reject"}) is None


async def test_a_dead_registration_refuses_nothing_and_is_cleaned(db_path, tmp_path):
    first = Engine(config(db_path, instance_name="ghost", claim_after=2))
    await first.start()
    await first.close()
    dead = {
        "name": "ghost",
        "policy": "write-through",
        "queue": "redis",
        "conflict": "overwrite",
        "claim_after": 2,
        "heartbeat": 1_000_000.0,  # 1970: long dead
    }
    db_sql(
        db_path,
        "INSERT INTO cachetui_meta (key, value) VALUES ('instance:ghost', ?)",
        json.dumps(dead),
    )
    engine = Engine(config(db_path, instance_name="alive"))
    await engine.start()
    try:
        assert [r["name"] for r in registrations(db_path)] == ["alive"]
    finally:
        await engine.close()
