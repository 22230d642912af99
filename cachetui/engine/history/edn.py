"""A history in Jepsen's shape (``history.edn``: one op map per line), for Knossos'
register model with independent keys: each operation's invoke and its completion, with
``:value [user version]``, integer processes, times in ns from the first invoke.

A caller is one process until one of its operations ends ``info`` (its outcome is
unknown: Jepsen's process crashed); its next operation gets a new process number.
"""

from __future__ import annotations

from collections.abc import Iterable

from cachetui.engine.history.facts import Op
from cachetui.engine.history.records import READ

_TYPES = {"ok": ":ok", "fail": ":fail", "info": ":info"}


def edn_lines(ops: Iterable[Op]) -> list[str]:
    """The EDN lines of these operations' events, in time order."""
    ops = sorted(ops, key=lambda o: (o.invoke, o.complete))
    if not ops:
        return []
    t0 = ops[0].invoke
    processes: dict[tuple[str, str], int] = {}
    next_process = 0
    events: list[tuple[int, int, int, str, str, str]] = []  # (time, order, process, …)
    for n, o in enumerate(ops):
        who = (o.instance, o.caller)
        process = processes.get(who)
        if process is None:
            process = processes[who] = next_process
            next_process += 1
        if o.outcome == "info":
            processes[who] = next_process  # the caller continues as a new process
            next_process += 1
        f = ":read" if o.op == READ else ":write"
        version = "nil" if o.version is None else str(o.version)
        asked = "nil" if o.op == READ or o.version is None else version
        done = version if o.outcome == "ok" else asked
        events.append((o.invoke, 2 * n, process, ":invoke", f, f"[{o.user} {asked}]"))
        events.append((o.complete, 2 * n + 1, process, _TYPES[o.outcome], f, f"[{o.user} {done}]"))
    events.sort()
    return [
        f"{{:index {i}, :time {t - t0}, :type {kind}, :process {p}, :f {f}, :value {value}}}"
        for i, (t, _, p, kind, f, value) in enumerate(events)
    ]


def write_edn(path: str, ops: Iterable[Op]) -> int:
    """Write the history to ``path`` (OSError if it cannot); the number of events."""
    lines = edn_lines(ops)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return len(lines)
