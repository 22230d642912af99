"""What a bench run cost in correctness: its recorded history judged by the checker
(docs/verdicts.md) once the run is over, never during the timed part; and where each
run's history file goes with ``--history FILE``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from cachetui.engine import Checker
from cachetui.engine.history import KINDS
from cachetui.engine.history.recorder import HistoryRecorder
from cachetui.engine.history.records import Encoder

#: A bench engine keeps its whole run in the history's ring (the judge needs every
#: record): the ring's bound, never reached.
WHOLE_RUN = 2**62


def history_file(path: str | None, name: str, several: bool) -> str | None:
    """The history file of the run ``name``: ``path`` itself when the bench makes one
    run, else ``path`` with the run's name before its suffix (``h.jsonl`` →
    ``h.write-through.jsonl``): one file per run, each judged alone."""
    if path is None or not several:
        return path
    stem, suffix = os.path.splitext(path)
    return f"{stem}.{name}{suffix}"


def judge_history(history: HistoryRecorder) -> dict[str, Any]:
    """:func:`judge` of a closed engine's history (its ring holds the whole run: each
    record is encoded as it is fed, not all at once)."""
    return judge(Encoder(history.queue).dicts(history.ring))


def judge(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``stale_pct`` (stale reads per 100 successful reads; None without a read),
    ``max_stale_ms`` (how far behind the stalest was, from the oldest write it missed),
    ``lost`` (acknowledged writes in neither the database nor the queue at close), and
    ``broken`` (the kinds whose violations break the policy's promise, with counts)."""
    reads = 0

    def counting() -> Iterator[dict[str, Any]]:
        nonlocal reads
        for r in records:
            if r["type"] == "op" and r["op"] == "read" and r["outcome"] == "ok":
                reads += 1
            yield r

    checker = Checker()
    checker.feed_many(counting())
    report = checker.verdicts()
    stale = report.of("stale")
    broken = {k: sum(1 for v in report.of(k) if v.promised) for k in KINDS}
    return {
        "stale_pct": None if not reads else round(100 * len(stale) / reads, 3),
        "max_stale_ms": round(report.stale_bounds()[1], 1),
        "lost": len(report.of("lost")),
        "broken": {k: n for k, n in broken.items() if n},
    }


def describe_broken(policy: str, broken: dict[str, int], history: str | None) -> str:
    """One line for stderr: a run that broke its policy's promise."""
    kinds = ", ".join(f"{n} {KINDS[k]}" for k, n in broken.items())
    where = f"cachetui check {history} lists them" if history else "--history FILE to see them"
    return f"cachetui bench: {policy}: {kinds}, breaking what {policy} promises ({where})"
