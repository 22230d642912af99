"""Instances register in ``cachetui_meta`` with a heartbeat: one whose queue kind or
conflict setting differs from a live one's on the same database is refused, naming it;
the same settings run side by side; a dead registration (stale heartbeat) refuses
nothing and is cleaned."""

from __future__ import annotations

import json

import pytest

from cachetui.engine import Engine, EngineConfig, ValidationError
from cachetui.engine.fleet.registry import FleetMismatch
from tests.conftest import BOTH_DATABASES, db_sql, db_where

pytestmark = BOTH_DATABASES


def config(db_path: str, **options: object) -> EngineConfig:
    return EngineConfig(policy="write-behind", **db_where(db_path), **options)  # type: ignore[arg-type]


def registrations(db_path: str) -> list[dict[str, object]]:
    rows = db_sql(db_path, "SELECT value FROM cachetui_meta WHERE substr(key, 1, 9) = 'instance:'")
    return [json.loads(value) for (value,) in rows]


async def test_a_second_instance_with_another_queue_kind_is_refused_naming_the_first(
    db_path, tmp_path
):
    first = Engine(config(db_path, instance_name="alpha"))
    await first.start()
    try:
        outbox = f"sqlite:///{tmp_path / 'q.outbox'}"
        second = Engine(config(db_path, instance_name="beta", queue_url=outbox))
        with pytest.raises(FleetMismatch) as refused:
            await second.start()
        assert isinstance(refused.value, ValidationError)
        text = str(refused.value)
        assert "alpha" in text and "memory queue" in text and "sqlite outbox" in text
        assert "\n" not in text
        assert [r["name"] for r in registrations(db_path)] == ["alpha"]
        third = Engine(config(db_path, instance_name="gamma", conflict="overwrite"))
        with pytest.raises(FleetMismatch, match="alpha.*--conflict is reject"):
            await third.start()
    finally:
        await first.close()
    assert registrations(db_path) == []  # close deletes its row


async def test_the_same_settings_run_side_by_side(db_path):
    first = Engine(config(db_path, instance_name="app"))
    second = Engine(config(db_path, instance_name="worker"))
    await first.start()
    try:
        await second.start()
        assert sorted(r["name"] for r in registrations(db_path)) == ["app", "worker"]
        mine = registrations(db_path)[0]
        assert mine["queue"] == "memory" and mine["conflict"] == "reject"
        assert mine["policy"] == "write-behind" and isinstance(mine["heartbeat"], float)
        await second.close()
    finally:
        await first.close()


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
