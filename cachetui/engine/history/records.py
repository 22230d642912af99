"""The history's records: how the recorder holds them (tuples, cheap to make on the hot
path) and their JSON-lines shape (docs/verdicts.md, "Record format").

In memory, each record is a tuple whose first item names its type; times are the
engine's ``perf_counter`` seconds (``CLOCK_MONOTONIC`` on Linux, the clock of
``time.monotonic_ns()``), turned into integer nanoseconds only when encoded.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

FORMAT = 1
OK, FAIL, INFO = "ok", "fail", "info"
OUTCOMES = frozenset({OK, FAIL, INFO})
READ, UPDATE, EXTERNAL = "read", "update", "external"
OPERATIONS = frozenset({READ, UPDATE, EXTERNAL})
RECORD_TYPES = frozenset({"header", "op", "landing", "epoch", "queue", "final"})

# In memory (plain tuples of str, int, float and None only, so that the garbage collector
# untracks them: see recorder._PLAIN): ("op", invoke, complete, caller, op, user, version
# read or written (None if the operation failed), write id (read, written, or of a failed
# update), outcome, policy, op id);
# ("landing", time, write id, transaction or None, version, user); ("epoch", time, epoch,
# reason, None, 0); ("queue", time, url, None, None, 0); ("final", time, db version,
# db write id, pending write ids, user, parked write id, cache version, cache write id,
# policy). Item 5 of every record is its user (0: it names none; user ids start at 1): the recorder
# collects the users with one C-level ``map`` per batch.


def ns(seconds: float) -> int:
    """A ``perf_counter`` time as the integer nanoseconds of ``time.monotonic_ns()``."""
    return round(seconds * 1e9)


def boot_id() -> str:
    """This boot's id (Linux), so files of different boots are never judged together
    (their monotonic clocks do not compare)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def header(instance: str, policy: str, queue: str, run: str | None = None) -> dict[str, Any]:
    """The first line of a history file: where and when its clock runs; ``run`` names a
    run of its own database (one of ``cachetui bench``'s), never judged with another's."""
    mono = time.monotonic_ns()
    wall = time.time()
    out = {
        "type": "header",
        "format": FORMAT,
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "pid": os.getpid(),
        "instance": instance,
        "wall_anchor": wall,
        "mono_anchor_ns": mono,
        "policy": policy,
        "queue": queue,
    }
    if run is not None:
        out["run"] = run
    return out


class Encoder:
    """Turns the recorder's tuples into the JSON lines' dicts, stamping each operation
    with the queue in use (a ``queue`` record changes it)."""

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def dicts(self, records: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
        for r in records:
            kind = r[0]
            if kind == "op":
                yield {
                    "type": "op",
                    "op": r[4],
                    "caller": r[3],
                    "user": r[5],
                    "write_id": r[7],
                    "version": r[6],
                    "outcome": r[8],
                    "policy": r[9],
                    "queue": self.queue,
                    "invoke_ns": ns(r[1]),
                    "complete_ns": ns(r[2]),
                    "op_id": r[10],
                }
            elif kind == "landing":
                yield {
                    "type": "landing",
                    "write_id": r[2],
                    "user": r[5],
                    "version": r[4],
                    "tx": r[3],
                    "ns": ns(r[1]),
                }
            elif kind == "epoch":
                yield {"type": "epoch", "epoch": r[2], "reason": r[3], "ns": ns(r[1])}
            elif kind == "queue":
                self.queue = r[2]
                yield {"type": "queue", "queue": r[2], "ns": ns(r[1])}
            elif kind == "final":
                cache = None if r[7] is None else {"version": r[7], "write_id": r[8]}
                yield {
                    "type": "final",
                    "user": r[5],
                    "db_version": r[2],
                    "db_write_id": r[3],
                    "pending": list(r[4]),
                    "parked": r[6],
                    "cache": cache,
                    "policy": r[9],
                    "ns": ns(r[1]),
                }
