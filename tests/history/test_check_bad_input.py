"""``cachetui check`` on a valid history with one record or line damaged: a field of
another type or value, a field missing, bytes that are not UTF-8, a line given twice…
Either the file is still a history as docs/verdicts.md ("Record format") describes it,
and it is judged (exit 0 or 1, a report), or it is not, and the answer is one line
naming the file and the damaged line, exit 2: never a traceback, never a verdict on a
record the checker could not read. Which one is decided here from the documented
format, independently of the checker's code."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cachetui.cli.check import main as check_main

DATA = Path(__file__).parent / "data"
Record = dict[str, Any]


def base() -> list[Record]:
    """small.jsonl's records (every kind of operation and outcome, a landing, finals)
    with an epoch, a queue change and a cache entry added: every record type."""
    records = [orjson.loads(line) for line in (DATA / "small.jsonl").read_bytes().splitlines()]
    records.insert(6, {"type": "epoch", "epoch": 1, "reason": "crash", "ns": 1355})
    records.insert(7, {"type": "queue", "queue": "memory://", "ns": 1356})
    records[-2]["cache"] = {"version": 3, "write_id": None}
    return records


BASE = base()


# -- the documented format --------------------------------------------------------------
def is_int(v: Any) -> bool:
    return type(v) is int


def is_time(v: Any) -> bool:
    return type(v) in (int, float) and 0 <= v < 2**63  # a monotonic clock's ns


def is_str(v: Any) -> bool:
    return type(v) is str


def str_or_null(v: Any) -> bool:
    return v is None or type(v) is str


def int_or_null(v: Any) -> bool:
    return v is None or type(v) is int


def is_cache(v: Any) -> bool:
    return v is None or (
        type(v) is dict
        and "version" in v
        and "write_id" in v
        and is_int(v["version"])
        and str_or_null(v["write_id"])
    )


REQUIRED: dict[str, dict[str, Any]] = {
    "op": {
        "op": lambda v: v in ("read", "update", "external"),
        "outcome": lambda v: v in ("ok", "fail", "info"),
        "caller": is_str,
        "user": is_int,
        "write_id": str_or_null,
        "version": int_or_null,
        "policy": is_str,
        "queue": is_str,
        "invoke_ns": is_time,
        "complete_ns": is_time,
    },
    "landing": {
        "ns": is_time,
        "write_id": str_or_null,
        "user": is_int,
        "version": is_int,
        "tx": int_or_null,
    },
    "final": {
        "ns": is_time,
        "user": is_int,
        "db_version": int_or_null,
        "db_write_id": str_or_null,
        "pending": lambda v: type(v) is list and all(map(str_or_null, v)),
        "parked": str_or_null,
        "cache": is_cache,
        "policy": is_str,
    },
    "epoch": {"ns": is_time, "epoch": is_int, "reason": is_str},
    "queue": {"ns": is_time, "queue": is_str},
    "header": {},
}
OPTIONAL: dict[str, dict[str, Any]] = {
    "op": {"op_id": is_int},
    "header": {
        "format": lambda v: is_int(v) and v == 1,
        "host": is_str,
        "boot_id": is_str,
        "instance": is_str,
        "policy": is_str,
        "queue": is_str,
        "pid": is_int,
        "mono_anchor_ns": is_int,
        "wall_anchor": lambda v: type(v) in (int, float),
        "run": str_or_null,
        "rotated": lambda v: type(v) is bool,
    },
}


def readable(r: Any) -> bool:
    """Whether one record is as the format says (alone: not its op id's uniqueness)."""
    if type(r) is not dict or type(r.get("type")) is not str or r["type"] not in REQUIRED:
        return False
    kind = r["type"]
    for name, ok in REQUIRED[kind].items():
        if name not in r or not ok(r[name]):
            return False
    for name, ok in OPTIONAL.get(kind, {}).items():
        if name in r and not ok(r[name]):
            return False
    if kind == "op":
        if int(r["complete_ns"]) < int(r["invoke_ns"]):
            return False  # it ended before it began
        if r["op"] == "update" and r["outcome"] == "ok" and r["version"] is None:
            return False  # acknowledged, yet it wrote no version
    return True


def first_unreadable(records: list[Any]) -> int | None:
    """The line number of the first record that is not as the format says, or whose op
    id its instance gave before; None when every record is readable."""
    instance, seen = "", set()
    for line, r in enumerate(records, start=1):
        if not readable(r) or (line == 1 and r["type"] != "header"):
            return line
        if r["type"] == "header":
            instance = r.get("instance", "")
        elif r["type"] == "op" and r.get("op_id", 0):
            if (instance, r["op_id"]) in seen:
                return line
            seen.add((instance, r["op_id"]))
    return None


# -- damage ----------------------------------------------------------------------------
NAMES = sorted({n for fields in (*REQUIRED.values(), *OPTIONAL.values()) for n in fields})
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, 2, 3, -1, 1000, 1500, 2**63 - 1, 2**63, 2**64 - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.5, 1000.0, 1e19, -0.0]),
    st.text(max_size=4),
    st.sampled_from(
        [
            "read",
            "update",
            "external",
            "upsert",
            "ok",
            "info",
            "fail",
            "op",
            "landing",
            "final",
            "epoch",
            "queue",
            "header",
            "i1:0:2",
            "crash",
            "",
            "1",
        ]
    ),  # fmt: skip
    st.lists(st.one_of(st.none(), st.integers(0, 3), st.text(max_size=2)), max_size=2),
    st.dictionaries(
        st.sampled_from(["version", "write_id", "x"]),
        st.one_of(st.none(), st.integers(0, 5), st.text(max_size=2), st.booleans()),
        max_size=3,
    ),
)
#: Tokens JSON does not have (orjson refuses them), and one it reads as a float.
RAW = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"\\ud800"', b"123456789012345678901234567890"]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    """A history's lines with one record or line damaged, and the line the checker must
    name (None: the file is still a history and must be judged)."""
    records = [dict(r) for r in BASE]
    i = draw(st.integers(0, len(records) - 1))
    r = records[i]
    how = draw(st.sampled_from(["set", "set", "set", "delete", "nested", "raw", "line"]))
    raw: bytes | None = None
    if how == "set":
        r[draw(st.sampled_from([*r, *NAMES, "type"]))] = draw(values)
    elif how == "delete":
        del r[draw(st.sampled_from(sorted(r)))]
    elif how == "nested":  # inside a final's cache or pending list
        final = records[-2]
        i = len(records) - 2
        if draw(st.booleans()):
            final["cache"] = dict(
                final["cache"], **{draw(st.sampled_from(["version", "write_id"])): draw(values)}
            )
        else:
            final["pending"] = [draw(values)]
    elif how == "raw":
        name = draw(st.sampled_from(sorted(r)))
        token = draw(st.sampled_from(RAW))
        r[name] = "\x00PLACEHOLDER\x00"
        raw = orjson.dumps(r).replace(b'"\\u0000PLACEHOLDER\\u0000"', token)
        parsed = None
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(raw)
        records[i] = parsed if parsed is not None else ["not JSON"]
    lines = [orjson.dumps(x) + b"\n" for x in records]
    if raw is not None:
        lines[i] = raw + b"\n"
    if how == "line":
        line = draw(st.sampled_from(["twice", "not utf-8", "cut", "array", "scalar", "empty"]))
        if line == "twice":
            lines.insert(i + 1, lines[i])
            records.insert(i + 1, records[i])
        else:
            lines[i] = {
                "not utf-8": lines[i].replace(b'"', b'"\xff\xfe', 1),
                "cut": lines[i][: len(lines[i]) // 2] + b"\n",
                "array": b"[1, 2]\n",
                "scalar": b"42\n",
                "empty": b"\n",
            }[line]
            records[i] = ["not a record"]
    return lines, first_unreadable(records)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = check_main(argv)
    return status, out.getvalue(), err.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(), st.sampled_from([[], ["--json"], ["--edn"]]))
def test_a_damaged_history_is_judged_or_refused_in_one_line_naming_it(tmp_path_factory, case, how):
    lines, bad_line = case
    folder = tmp_path_factory.mktemp("bad")
    path = folder / "h.jsonl"
    path.write_bytes(b"".join(lines))
    argv = [str(path), *how] + ([str(folder / "h.edn")] if how == ["--edn"] else [])
    event("judged" if bad_line is None else "refused")
    status, out, err = run(argv)  # a traceback fails the test here
    if bad_line is None:
        assert status in (0, 1), err
        assert err == ""
        if how == ["--json"]:
            assert orjson.loads(out)["operations"] >= 6
        else:
            assert out.split(" operations in 1 file\n")[0].isdigit(), out
    else:
        assert status == 2, (out, err)
        assert out == ""
        assert err.count("\n") == 1, err
        assert err.startswith(f"cachetui check: error: {path}:{bad_line}: "), err


def test_users_of_mixed_types_are_one_line_not_a_traceback(tmp_path):
    """The report that found this kind: users that are strings and integers."""
    lines = (DATA / "small.jsonl").read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b'"user":2', b'"user":"2"')
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(lines))
    done = subprocess.run(
        [sys.executable, "-m", "cachetui", "check", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"cachetui check: error: {path}:6: an op whose user is a string '2': expected an integer\n"
    )


def test_a_file_given_twice_is_refused(tmp_path):
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((DATA / "small.jsonl").read_bytes())
    status, out, err = run([str(copy), str(copy)])
    assert (status, out) == (2, "")
    assert err == f"cachetui check: error: {copy} is {copy} again: each file is judged once\n"
    status, out, err = run([str(DATA / "small.jsonl"), str(copy)])  # the same records
    assert (status, out) == (2, "")
    assert err.startswith(f"cachetui check: error: {copy}:2: op_id 1 of instance 'i1' again")
