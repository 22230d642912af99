"""What judging one user needs of the whole history: every write by its id, the epochs
(and which rewind the rows), the files (for the evidence's ``file`` and ``line``)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine.history.facts import Epoch, Final, Landing, Op


@dataclass
class Context:
    """What judging one user needs of the whole history."""

    writes: dict[str, Op]
    epochs: list[Epoch]
    single_instance: bool
    files: list[str]
    #: Times of the epochs that rewind the rows (every epoch but a crash), and of all.
    rewinds: list[int] = field(init=False)
    all_epochs: list[int] = field(init=False)
    crashes: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.rewinds = [e.ns for e in self.epochs if e.reason != "crash"]
        self.all_epochs = [e.ns for e in self.epochs]
        self.crashes = {}
        for e in self.epochs:
            if e.reason == "crash":
                self.crashes.setdefault(e.instance, []).append(e.ns)

    def evidence(self, record: Op | Landing | Final) -> dict[str, Any]:
        out: dict[str, Any]
        if isinstance(record, Op):
            out = {"type": "op", **record._asdict()}
            out["invoke_ns"] = out.pop("invoke")
            out["complete_ns"] = out.pop("complete")
            del out["src"], out["instance"]
        elif isinstance(record, Landing):
            out = {"type": "landing", **record._asdict()}
            del out["src"], out["instance"]
        else:
            out = {"type": "final", **record._asdict()}
            del out["src"]
        src = record.src
        index, line = src >> 32, src & 0xFFFFFFFF
        if line:
            out["file"] = self.files[index] if index < len(self.files) else ""
            out["line"] = line
        return out

    def epoch_between(self, times: list[int], start: int, end: int) -> bool:
        """Whether one of these epoch times falls in (start, end)."""
        i = bisect_right(times, start)
        return i < len(times) and times[i] < end
