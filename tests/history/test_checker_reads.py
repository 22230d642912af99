"""The checker's reads judged as docs/verdicts.md defines them, on histories with
concurrent writers (a higher version may be acknowledged first), rewinds (versions
start again) and ties in time; and a history file read by ``load`` judged exactly as
the same records fed one by one."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetui.engine.history import Checker, load

Record = dict[str, Any]
INSTANCE = "abc"
HEADER = {"type": "header", "instance": INSTANCE, "host": "h", "boot_id": "b"}

# (what, user, caller, how long it takes, time to the next event, which version a read
# returns; for a write: 0 makes the version the newest already has, as a racing writer
# would). Durations are often a whole number of gaps, so that a write may complete just
# as a read begins (acknowledged before it: no).
events = st.lists(
    st.tuples(
        st.sampled_from(["read", "read", "update", "external", "rewind"]),
        st.integers(1, 2),
        st.integers(0, 2),
        st.one_of(st.sampled_from([1, 10, 20, 100]), st.integers(1, 400)),
        st.sampled_from([0, 10, 100]),
        st.integers(0, 3),
    ),
    min_size=3,
    max_size=60,
)


def history(evs: list[tuple[str, int, int, int, int, int]]) -> list[Record]:
    """Writes overlap (each is acknowledged ``took`` after it began, so a later version
    may be acknowledged first) and all land; a rewind starts the versions again; a read
    returns the newest version landed when it began, or one ``back`` versions older."""
    out: list[Record] = [HEADER]
    t = 1000
    made: dict[int, list[tuple[int, str | None, int]]] = {1: [(1, None, 0)], 2: [(1, None, 0)]}
    for n, (what, user, caller, took, gap, back) in enumerate(evs, start=1):
        if what == "rewind":
            out.append({"type": "epoch", "epoch": n, "reason": "rewind", "ns": t})
            made = {u: [(1, None, t)] for u in made}
        else:
            version, write_id = made[user][-1][0], made[user][-1][1]
            bump = 1 if back else 0
            if what == "update":
                version, write_id = version + bump, f"{INSTANCE}:0:{n}"
                out.append({"type": "landing", "write_id": write_id, "user": user,
                            "version": version, "tx": n, "ns": t + 1})  # fmt: skip
                made[user].append((version, write_id, t + took))
            elif what == "external":
                version, write_id = version + bump, None
                made[user].append((version, None, t + took))
            else:
                landed = [m for m in made[user] if m[2] < t] or made[user][:1]
                version, write_id, _ = landed[max(0, len(landed) - 1 - back)]
            out.append(
                {"type": "op", "op": what, "caller": f"c{caller}", "user": user,
                 "write_id": write_id, "version": version, "outcome": "ok",
                 "policy": "write-through", "queue": "memory://", "invoke_ns": t,
                 "complete_ns": t + took, "op_id": n}
            )  # fmt: skip
        t += gap
    for user, versions in made.items():
        version, write_id, _ = versions[-1]
        out.append({"type": "final", "user": user, "db_version": version,
                    "db_write_id": write_id, "pending": [], "parked": None, "cache": None,
                    "policy": "write-through", "ns": t + 10_000})  # fmt: skip
    return out


def by_definition(records: list[Record]) -> list[tuple[Any, ...]]:
    """Stale reads, read-your-writes and monotonic reads straight from the definitions,
    every read against every write (nothing is lost here: every write counts)."""
    ops = [r for r in records if r["type"] == "op"]
    rewinds = sorted(r["ns"] for r in records if r["type"] == "epoch")
    writes = {r["write_id"]: r for r in ops if r["op"] == "update"}
    found = []
    for user in (1, 2):
        mine = [r for r in ops if r["user"] == user]
        foreign = sorted([r for r in mine if r["op"] == "external"], key=lambda r: r["complete_ns"])
        effective = [r for r in mine if r["op"] == "update"] + foreign
        effective.sort(key=lambda w: (w["version"], w["complete_ns"]))
        by_version = {r["version"]: r["complete_ns"] for r in foreign}
        last: dict[str, tuple[tuple[int, int], Record]] = {}
        for r in sorted([r for r in mine if r["op"] == "read"], key=lambda r: r["invoke_ns"]):
            invoke = r["invoke_ns"]
            if r["write_id"] is not None:
                rkey = (r["version"], writes[r["write_id"]]["complete_ns"])
            else:
                rkey = (r["version"], by_version.get(r["version"], -1))
            floor = max([x for x in rewinds if x <= invoke], default=-1)
            seen = [w for w in effective if floor < w["complete_ns"] < invoke]
            missed = [w for w in seen if (w["version"], w["complete_ns"]) > rkey]
            if missed:
                ms = (invoke - min(w["complete_ns"] for w in missed)) / 1e6
                shown = missed[:1] if len(missed) == 1 else [missed[0], missed[-1]]
                found.append(("stale", r["op_id"], len(missed), ms, [w["op_id"] for w in shown]))
            own = sorted(
                [w for w in seen if w["op"] == "update" and w["caller"] == r["caller"]],
                key=lambda w: w["complete_ns"],
            )
            if own:
                newest = max(own, key=lambda w: (w["version"], w["complete_ns"]))
                if (newest["version"], newest["complete_ns"]) > rkey:
                    found.append(("ryw", r["op_id"], newest["op_id"]))
            if r["caller"] in last:
                bkey, b = last[r["caller"]]
                spans = any(b["complete_ns"] < x < invoke for x in rewinds)
                if b["complete_ns"] < invoke and rkey < bkey and not spans:
                    found.append(("monotonic", r["op_id"], b["op_id"]))
            last[r["caller"]] = (rkey, r)
    return sorted(found, key=repr)


def judged(records: list[Record]) -> list[tuple[Any, ...]]:
    checker = Checker()
    for r in records:
        checker.feed(r)
    found = []
    for v in checker.verdicts().violations:
        ids = [e.get("op_id") for e in v.evidence]
        if v.kind == "stale":
            found.append(("stale", ids[0], v.writes, v.ms, ids[1:]))
        elif v.kind == "ryw":
            found.append(("ryw", ids[1], ids[0]))
        elif v.kind == "monotonic":
            found.append(("monotonic", ids[1], ids[0]))
    return sorted(found, key=repr)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_reads_are_judged_as_defined_with_concurrent_writers_and_rewinds(evs):
    records = history(evs)
    assert judged(records) == by_definition(records)


def odd_but_readable(records: list[Record], data: st.DataObject) -> list[Record]:
    """The same records, some in shapes a file may hold and the checker reads all the
    same: times as floats, no op_id, unknown fields, a completion time as a float."""
    out = []
    for r in records:
        r = dict(r)
        if r["type"] == "op":
            change = data.draw(st.sampled_from(["", "", "float", "no op_id", "extra", "complete"]))
            if change == "float":
                r["invoke_ns"] = float(r["invoke_ns"])
            elif change == "no op_id":
                del r["op_id"]
            elif change == "extra":
                r["note"] = [1, {"x": None}]
            elif change == "complete":
                r["complete_ns"] = float(r["complete_ns"])
        out.append(r)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, st.data())
def test_a_file_is_judged_like_its_records_fed_one_by_one(tmp_path_factory, evs, data):
    records = odd_but_readable(history(evs), data)
    path = tmp_path_factory.mktemp("h") / "h.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    from_file, warnings = load([str(path)])
    one_by_one = Checker()
    index = one_by_one.header(records[0], str(path))
    for line, r in enumerate(records[1:], start=2):
        one_by_one.feed(r, index << 32 | line)
    assert warnings == []
    assert from_file.verdicts().as_dict() == one_by_one.verdicts().as_dict()
    assert from_file.operations_fed() == one_by_one.operations_fed()
