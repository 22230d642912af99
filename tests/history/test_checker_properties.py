"""The checker is itself checked: histories of a correct register (every kind judged
0), and the same histories with one anomaly injected (drop an acknowledged write,
return an older write, reorder a caller's reads, lower a version within an epoch,
apply a write twice): each is found, with the records that make it as evidence."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetui.engine.history.checker import Checker
from cachetui.engine.history.verdicts import KINDS

Record = dict[str, Any]
INSTANCE = "abc"
USERS = (1, 2, 3)

operations = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(USERS), st.booleans()), min_size=2, max_size=40
)


def register_history(ops: list[tuple[int, int, bool]]) -> list[Record]:
    """A correct register, one operation after another: each write lands (one
    transaction) before it is acknowledged; each read returns the last write; a final
    record per user at the end."""
    records: list[Record] = [{"type": "header", "instance": INSTANCE, "host": "h", "boot_id": "b"}]
    state = {u: (1, None) for u in USERS}  # seeded rows: version 1, no write id
    t = 1000
    tx = 0
    for n, (caller, user, write) in enumerate(ops, start=1):
        version, write_id = state[user]
        if write:
            version, write_id = version + 1, f"{INSTANCE}:0:{n}"
            tx += 1
            records.append(
                {"type": "landing", "write_id": write_id, "user": user, "version": version,
                 "tx": tx, "ns": t + 5}
            )  # fmt: skip
            state[user] = (version, write_id)
        records.append(
            {"type": "op", "op": "update" if write else "read", "caller": f"c{caller}",
             "user": user, "write_id": write_id, "version": version, "outcome": "ok",
             "policy": "write-through", "queue": "memory://", "invoke_ns": t,
             "complete_ns": t + 10, "op_id": n}
        )  # fmt: skip
        t += 100
    for user in USERS:
        version, write_id = state[user]
        records.append(
            {"type": "final", "user": user, "db_version": version, "db_write_id": write_id,
             "pending": [], "parked": None, "cache": {"version": version, "write_id": write_id},
             "policy": "write-through", "ns": t}
        )  # fmt: skip
    return records


def judge(records: list[Record]) -> Any:
    checker = Checker()
    for r in records:
        checker.feed(r)
    return checker.verdicts()


def ops_of(records: list[Record], kind: str) -> list[Record]:
    return [r for r in records if r["type"] == "op" and r["op"] == kind]


def evidence_has(violation: Any, **fields: Any) -> bool:
    return any(all(e.get(k) == v for k, v in fields.items()) for e in violation.evidence)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_a_correct_register_has_no_violation(ops):
    report = judge(register_history(ops))
    assert report.counts() == dict.fromkeys(KINDS, 0)
    assert report.unjudged_users == 0


@settings(max_examples=60, deadline=None)
@given(operations, st.data())
def test_a_dropped_acknowledged_write_is_lost(ops, data):
    records = register_history(ops)
    writes = ops_of(records, "update")
    if not writes:
        ops = [*ops, (0, 1, True)]
        records = register_history(ops)
        writes = ops_of(records, "update")
    user = data.draw(st.sampled_from(sorted({w["user"] for w in writes})))
    last = [w for w in writes if w["user"] == user][-1]
    # the database never got it: no landing, and the final row is the write before it
    records = [
        r for r in records if not (r["type"] == "landing" and r["write_id"] == last["write_id"])
    ]
    earlier = [w for w in writes if w["user"] == user and w["op_id"] < last["op_id"]]
    final = next(r for r in records if r["type"] == "final" and r["user"] == user)
    final["db_version"] = last["version"] - 1
    final["db_write_id"] = earlier[-1]["write_id"] if earlier else None
    final["cache"] = None
    report = judge(records)
    lost = report.of("lost")
    assert [v.user for v in lost] == [user]
    assert evidence_has(lost[0], write_id=last["write_id"], op="update")
    assert evidence_has(lost[0], type="final", user=user)
    assert lost[0].promised  # write-through promises no lost writes


@settings(max_examples=60, deadline=None)
@given(operations, st.data())
def test_a_read_of_an_older_write_is_stale(ops, data):
    records = register_history([*ops, (0, 2, True), (1, 2, True), (2, 2, False)])
    reads = [r for r in ops_of(records, "read") if r["version"] is not None and r["version"] > 1]
    read = data.draw(st.sampled_from(reads))
    older = [
        w for w in ops_of(records, "update")
        if w["user"] == read["user"] and w["version"] < read["version"]
    ]  # fmt: skip
    back = data.draw(st.integers(1, read["version"] - 1))  # versions behind
    target = read["version"] - back
    read["version"] = target
    read["write_id"] = next((w["write_id"] for w in older if w["version"] == target), None)
    report = judge(records)
    stale = [v for v in report.of("stale") if evidence_has(v, op_id=read["op_id"])]
    assert len(stale) == 1
    assert stale[0].writes == back
    missed = [w for w in ops_of(records, "update") if w["user"] == read["user"]
              and target < w["version"] <= target + back]  # fmt: skip
    oldest = min(w["complete_ns"] for w in missed)
    assert stale[0].ms == (read["invoke_ns"] - oldest) / 1e6
    assert evidence_has(stale[0], write_id=missed[0]["write_id"])


@settings(max_examples=60, deadline=None)
@given(operations, st.data())
def test_a_callers_reads_out_of_order_break_monotonic_reads(ops, data):
    # caller c1 reads user 3, a write follows, c1 reads again
    records = register_history([*ops, (1, 3, False), (0, 3, True), (1, 3, False)])
    c1 = [r for r in ops_of(records, "read") if r["caller"] == "c1" and r["user"] == 3]
    first, second = c1[-2], c1[-1]
    for key in ("version", "write_id"):  # the two reads' values swapped
        first[key], second[key] = second[key], first[key]
    report = judge(records)
    monotonic = report.of("monotonic")
    assert len(monotonic) == 1
    assert evidence_has(monotonic[0], op_id=first["op_id"])
    assert evidence_has(monotonic[0], op_id=second["op_id"])
    assert monotonic[0].caller == "c1"


@settings(max_examples=60, deadline=None)
@given(operations, st.integers(1, 3))
def test_a_version_going_down_within_an_epoch_is_found(ops, down):
    records = register_history([*ops, (0, 1, True), (0, 1, True), (0, 1, True)])
    final = next(r for r in records if r["type"] == "final" and r["user"] == 1)
    landing = {"type": "landing", "write_id": f"{INSTANCE}:0:999", "user": 1,
               "version": final["db_version"] - down, "tx": 9999,
               "ns": final["ns"] - 1}  # fmt: skip
    records.insert(records.index(final), landing)
    report = judge(records)
    found = report.of("version-down")
    assert found and all(v.user == 1 for v in found)
    assert evidence_has(found[0], write_id=landing["write_id"], version=landing["version"])
    # a rewind (a new epoch) in between excuses it
    records.insert(records.index(landing), {"type": "epoch", "epoch": 1, "reason": "rewind",
                                            "ns": landing["ns"] - 1})  # fmt: skip
    assert judge(records).of("version-down") == []


@settings(max_examples=60, deadline=None)
@given(operations, st.data())
def test_a_write_applied_twice_is_found(ops, data):
    records = register_history([*ops, (0, 2, True)])
    landings = [r for r in records if r["type"] == "landing"]
    twice = copy.deepcopy(data.draw(st.sampled_from(landings)))
    twice["tx"] = 10_000
    twice["ns"] += 1
    records.insert(records.index(next(r for r in records if r["type"] == "final")), twice)
    report = judge(records)
    found = report.of("double-apply")
    assert len(found) == 1
    first = next(r["tx"] for r in landings if r["write_id"] == twice["write_id"])
    assert [e["tx"] for e in found[0].evidence] == [first, twice["tx"]]
    assert found[0].evidence[0]["write_id"] == twice["write_id"]
