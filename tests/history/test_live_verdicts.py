"""``engine.verdicts()``: the running engine's history judged incrementally, as the
offline checker would judge it (docs/verdicts.md)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from cachetui.engine import Engine, EngineConfig, calling
from cachetui.engine.history import load


async def test_write_through_with_one_caller_has_nothing_to_report(tmp_path):
    config = EngineConfig(db_path=str(tmp_path / "p.db"))
    async with Engine(config) as engine:
        await engine.seed(10)
        with calling("keyboard"):
            for n in range(30):
                user = 1 + n % 5
                await engine.read(user)
                await engine.update(user, {"bio": f"b{n}"})
                await engine.read(user)
            first = engine.verdicts()
            await engine.read(1)
        v = engine.verdicts()
    assert first.operations == 90 and v.operations == 91  # only the new one judged since
    wt = v.of("write-through")
    assert (wt.reads, wt.writes, wt.clean) == (61, 30, True)
    assert v.violations == []


async def test_write_around_with_external_writes_counts_bounded_stale_reads(tmp_path):
    config = EngineConfig(db_path=str(tmp_path / "p.db"), policy="write-around")
    async with Engine(config) as engine:
        await engine.seed(5)
        with calling("keyboard"):
            await engine.read(1)  # cached: version 1
            await engine.external_update(1, {"bio": "elsewhere"})
            await engine.external_update(1, {"bio": "elsewhere again"})
            await engine.read(1)  # the cache still says version 1: behind by 2 writes
            await engine.read(2)
        v = engine.verdicts()
        engine.reset_metrics()
        after = engine.verdicts()
    wa = v.of("write-around")
    assert (wa.stale, wa.stale_writes, wa.lost) == (1, 2, 0)
    assert 0 < wa.stale_ms < 10_000
    (stale,) = v.violations
    assert stale.kind == "stale" and stale.user == 1 and stale.caller == "keyboard"
    read, *missed = stale.evidence
    assert read["op"] == "read" and read["version"] == 1
    assert [m["op"] for m in missed] == ["external", "external"]
    assert after.of("write-around").stale == 0 and after.violations == []


async def test_write_behind_crash_loses_writes_and_reset_keeps_them(tmp_path):
    config = EngineConfig(db_path=str(tmp_path / "p.db"), policy="write-behind", flush_interval=60)
    async with Engine(config) as engine:
        await engine.seed(10)
        await engine.update(4, {"bio": "landed"})
        await engine.flush()
        with calling("keyboard"):
            for user, times in ((1, 3), (2, 1)):
                for n in range(times):
                    await engine.update(user, {"bio": f"lost {n}"})
            assert engine.verdicts().of("write-behind").lost == 0  # pending, not lost
            await engine.crash()
            await engine.read(1)  # the database's version: not stale against lost writes
        v = engine.verdicts()
        engine.reset_metrics()
        after = engine.verdicts()
    wb = v.of("write-behind")
    assert (wb.lost, wb.stale) == (4, 0)
    lost = [x for x in v.violations if x.kind == "lost"]
    assert sorted(x.user for x in lost) == [1, 1, 1, 2]
    assert all(not x.promised for x in lost)  # at a crash, with a memory queue: allowed
    assert lost[0].evidence[0]["op"] == "update" and lost[0].evidence[1]["pending"] is None
    assert after.of("write-behind").lost == 4 and len(after.violations) == 4


#: A live verdict's field for each kind ``cachetui check`` counts (it also judges the
#: cache against the database at close, which the live judge leaves to it).
LIVE_FIELDS = {"lost": "lost", "stale": "stale", "ryw": "ryw", "monotonic": "monotonic",
               "version-down": "version_down", "double-apply": "double_apply"}  # fmt: skip


async def test_the_live_verdict_and_check_agree_on_the_same_history(tmp_path):
    """A run with violations of several kinds (write-around read by two callers while an
    external writer and concurrent updates go on, then write-behind crashed with writes
    queued): the verdict line's counts and bounds are ``cachetui check``'s on its file."""
    history = tmp_path / "h.jsonl"
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"), policy="write-around", flush_interval=60,
        history_path=str(history),
    )  # fmt: skip
    rng = random.Random(7)

    async def caller(name: str) -> None:
        with calling(name):
            for _ in range(25):
                user = rng.randint(1, 3)
                if rng.random() < 0.3:
                    await engine.update(user, {"bio": name})
                else:
                    await engine.read(user)
                if rng.random() < 0.1:
                    await engine.external_update(user, {"bio": "elsewhere"})

    async with Engine(config) as engine:
        await engine.seed(5)
        with calling("a"):
            await engine.read(1)  # cached: v1
        await engine.external_update(1, {"bio": "x"})
        await engine.external_update(1, {"bio": "y"})
        with calling("b"):
            await engine.read(1)  # two writes behind
        await asyncio.gather(caller("a"), caller("b"), caller("c"))
        await engine.set_policy("write-behind")
        with calling("a"):
            for user in (1, 2, 2, 4):
                await engine.update(user, {"bio": "queued"})
            await engine.crash()  # lost at the crash
            await engine.read(2)
        live = engine.verdicts()
    report = load([str(history)])[0].verdicts()
    checked: dict[str, dict[str, Any]] = {}
    for v in report.violations:
        if v.kind in LIVE_FIELDS:
            row = checked.setdefault(v.policy, dict.fromkeys(LIVE_FIELDS, 0))
            row[v.kind] += 1
            if v.kind == "stale":
                row["writes"] = max(row.get("writes", 0), v.writes)
                row["ms"] = max(row.get("ms", 0.0), v.ms)
    seen: dict[str, dict[str, Any]] = {}
    for policy, pv in live.policies.items():
        row = {kind: getattr(pv, name) for kind, name in LIVE_FIELDS.items()}
        if any(row.values()):
            if pv.stale:
                row["writes"], row["ms"] = pv.stale_writes, pytest.approx(pv.stale_ms, abs=1e-3)
            seen[policy] = row
    assert seen == checked
    assert seen["write-around"]["stale"] >= 1 and seen["write-behind"]["lost"] == 4
