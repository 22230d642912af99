"""One user's timeline: what each caller did to the user, and what the cache, the write
queue and the database did with it, on one time axis (the verdicts screen draws it as a
space-time diagram). Built from the history's records (operations, landings) and the
engine's recent events (cache and queue steps); no Textual here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetui.engine.events import Event, EventKind

CACHE, QUEUE, DATABASE = "cache", "queue", "database"
#: How many marks before and after the evidence a timeline keeps.
AROUND = 24

_CACHE_EVENTS = {
    EventKind.CACHE_SET: "set",
    EventKind.CACHE_FILL: "fill",
    EventKind.INVALIDATE: "drop",
    EventKind.EVICT: "evict",
    EventKind.EXPIRE: "expire",
}
_QUEUE_EVENTS = {EventKind.ENQUEUE: "enqueue", EventKind.COALESCE: "coalesce"}


@dataclass(frozen=True, slots=True)
class Mark:
    """One step in a lane: from ``start_ns`` to ``end_ns`` (equal for an instant), what
    it was (``read``, ``update``, ``external``, ``landing``, a cache or queue step),
    the version it read or wrote, a few words, and whether it is evidence."""

    lane: str
    start_ns: int
    end_ns: int
    kind: str
    version: int | None
    detail: str = ""
    evidence: bool = False


@dataclass(frozen=True, slots=True)
class Timeline:
    """The lanes (the callers in the order they first act, then cache, queue and
    database) and the marks, by start time."""

    user: int
    lanes: tuple[str, ...]
    marks: tuple[Mark, ...]


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record.get("type"), record.get("op_id"), record.get("write_id"), record.get("ns"))


def user_timeline(
    user: int,
    records: Iterable[dict[str, Any]],
    events: Sequence[Event] = (),
    evidence: Sequence[dict[str, Any]] = (),
) -> Timeline:
    """``records``: the history's records as dicts (``engine.history.records_of``);
    ``events``: the engine's recent events; ``evidence``: the records to mark (a
    violation's). Keeps the marks within ``AROUND`` of the evidence (or the newest)."""
    flagged = {_key(e) for e in evidence}
    marks: list[Mark] = []
    for r in records:
        kind = r.get("type")
        if kind == "op" and r.get("user") == user:
            outcome = r["outcome"]
            detail = "" if outcome == "ok" else outcome
            marks.append(
                Mark(str(r["caller"]), int(r["invoke_ns"]), int(r["complete_ns"]), r["op"],
                     r["version"], detail, _key(r) in flagged)
            )  # fmt: skip
            if r["op"] == "external" and outcome == "ok":
                at = int(r["complete_ns"])
                marks.append(Mark(DATABASE, at, at, "landing", r["version"], "ext"))
        elif kind == "landing" and r.get("user") == user:
            at = int(r["ns"])
            tx = r.get("tx")
            detail = "found" if tx is None else f"tx {tx}"
            marks.append(
                Mark(DATABASE, at, at, "landing", r["version"], detail, _key(r) in flagged)
            )
        elif kind == "epoch":
            at = int(r["ns"])
            marks.append(Mark(DATABASE, at, at, "epoch", None, str(r.get("reason", ""))))
    for e in events:
        if e.user_id != user:
            continue
        lane, name = CACHE, _CACHE_EVENTS.get(e.kind)
        if name is None:
            lane, name = QUEUE, _QUEUE_EVENTS.get(e.kind)
        if name is None and e.kind is EventKind.FLUSH:
            lane, name = QUEUE, "flush"
        if name is None:
            continue
        at = round(e.at * 1e9)
        marks.append(Mark(lane, at, at, name, e.version))
    marks.sort(key=lambda m: (m.start_ns, m.end_ns))
    marks = _around(marks)
    callers: list[str] = []
    for m in marks:
        if m.lane not in (CACHE, QUEUE, DATABASE) and m.lane not in callers:
            callers.append(m.lane)
    return Timeline(user, (*callers, CACHE, QUEUE, DATABASE), tuple(marks))


def _around(marks: list[Mark]) -> list[Mark]:
    flagged = [i for i, m in enumerate(marks) if m.evidence]
    if flagged:
        lo, hi = max(0, flagged[0] - AROUND), flagged[-1] + AROUND + 1
    else:
        lo, hi = max(0, len(marks) - 2 * AROUND), len(marks)
    return marks[lo:hi]
