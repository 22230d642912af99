"""The definitions of docs/verdicts.md applied to one user's records: lost writes,
stale reads, read-your-writes, monotonic reads, versions going down, writes applied
twice, and a cache that disagrees with the database at close."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine.history.facts import Epoch, Final, Landing, Op
from cachetui.engine.history.records import EXTERNAL, OK, READ, UPDATE
from cachetui.engine.history.verdicts import Violation

#: Policies that promise no stale reads to anyone when nobody else writes (write-around
#: may fill the cache from a read that began before a write: counted, not failed).
NO_STALE = frozenset({"write-through", "no-cache", "write-behind"})
LOST, PARKED = "lost", "parked"


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


def parse_write_id(write_id: str) -> tuple[tuple[str, str], int]:
    """``instance:epoch:op`` → ((instance, epoch), op); another shape matches only itself."""
    instance, _, rest = write_id.partition(":")
    epoch, _, op = rest.partition(":")
    try:
        return (instance, epoch), int(op)
    except ValueError:
        return (write_id, ""), 0


def _mark(found: dict[tuple[str, str], int], write_id: str | None) -> None:
    if write_id is not None:
        key, op = parse_write_id(write_id)
        if op > found.get(key, -1):
            found[key] = op


def judge_user(
    user: int, ops: list[Op], landings: list[Landing], final: Final | None, ctx: Context
) -> tuple[list[Violation], bool]:
    """The user's violations, and whether their lost writes could not be judged (there
    are acknowledged writes but no final record of the database)."""
    out: list[Violation] = []
    acked = [o for o in ops if o.op == UPDATE and o.outcome == OK and o.write_id is not None]
    status, unjudged = _lost(user, acked, landings, final, ctx, out)
    foreign = [o for o in ops if o.op == EXTERNAL and o.outcome == OK and o.version is not None]
    effective = [o for o in acked if o.write_id not in status] + foreign
    _reads(user, ops, effective, foreign, status, ctx, out)
    _versions(user, landings, foreign, final, ctx, out)
    _applied_twice(user, landings, ctx, out)
    if final is not None:
        _divergence(user, final, bool(foreign), ctx, out)
    return out, unjudged


def _lost(
    user: int,
    acked: list[Op],
    landings: list[Landing],
    final: Final | None,
    ctx: Context,
    out: list[Violation],
) -> tuple[dict[str, str], bool]:
    """A write is in the final state when it, or a later write of the same user by the
    same instance in the same epoch (coalescing folds writes into one landing), landed,
    or is pending or in the database at close; parked likewise; else lost. A write
    through a Redis queue (the fleet's sequencer: one version order per user, each
    entry's row holding every earlier write) is also in when a version at least its own
    landed after it began, or is pending or in the database (a cachetui write) at close,
    whichever instance wrote it."""
    status: dict[str, str] = {}
    if not acked:
        return status, False
    if final is None or final.db_version is None:
        return status, True
    present: dict[tuple[str, str], int] = {}
    parked: dict[tuple[str, str], int] = {}
    for landing in landings:
        _mark(present, landing.write_id)
    for write_id in final.pending:
        _mark(present, write_id)
    _mark(present, final.db_write_id)
    _mark(parked, final.parked)
    sequenced = _sequenced_tops(landings, final, ctx)
    for o in acked:
        if o.complete > final.ns:
            continue
        assert o.write_id is not None
        key, op = parse_write_id(o.write_id)
        if op <= present.get(key, -1):
            continue
        if o.queue.startswith("redis") and (o.version or 0) <= sequenced(o.invoke):
            continue
        if op <= parked.get(key, -1):
            status[o.write_id] = PARKED
            continue
        status[o.write_id] = LOST
        crashes = ctx.crashes.get(o.instance, [])
        at_crash = (
            o.policy == "write-behind"
            and o.queue.startswith("memory")
            and ctx.epoch_between(crashes, o.complete, final.ns + 1)
        )
        out.append(
            Violation("lost", user, o.policy, not at_crash, [ctx.evidence(o), ctx.evidence(final)],
                      o.caller)
        )  # fmt: skip
    return status, False


def _sequenced_tops(landings: list[Landing], final: Final, ctx: Context) -> Callable[[int], int]:
    """For a time t: the highest version landed at or after t, pending at close, or in
    the database at close (a cachetui write); -1 once a rewind came after t (versions
    start again)."""
    applied = sorted((x.ns, x.version) for x in landings)
    times = [ns for ns, _ in applied]
    top = -1
    for w in final.pending:
        known = ctx.writes.get(w or "")
        if known is not None and known.version is not None:
            top = max(top, known.version)
    if final.db_write_id is not None and final.db_version is not None:
        top = max(top, final.db_version)
    suffix = [top] * (len(applied) + 1)
    for i in range(len(applied) - 1, -1, -1):
        suffix[i] = max(suffix[i + 1], applied[i][1])

    def at(t: int) -> int:
        if ctx.epoch_between(ctx.rewinds, t, final.ns + 1):
            return -1
        return suffix[bisect_left(times, t)]

    return at


def _reads(
    user: int,
    ops: list[Op],
    effective: list[Op],
    foreign: list[Op],
    status: dict[str, str],
    ctx: Context,
    out: list[Violation],
) -> None:
    """Stale reads, read-your-writes and monotonic reads, per read."""
    reads = [o for o in ops if o.op == READ and o.outcome == OK and o.version is not None]
    if not reads:
        return
    effective.sort(key=lambda o: (o.version, o.complete))
    keys = [(o.version, o.complete) for o in effective]
    completes = [o.complete for o in effective]
    monotone = all(a <= b for a, b in zip(completes, completes[1:], strict=False))
    by_version = {o.version: o.complete for o in sorted(foreign, key=lambda o: o.complete)}
    writes = ctx.writes
    rewinds = ctx.rewinds
    promise_stale = ctx.single_instance and not foreign
    own: dict[tuple[str, str], list[Op]] = {}
    for o in effective:
        if o.op == UPDATE:
            own.setdefault((o.instance, o.caller), []).append(o)
    own_completes: dict[tuple[str, str], list[int]] = {}
    for who, mine in own.items():
        mine.sort(key=lambda o: o.complete)
        own_completes[who] = [o.complete for o in mine]
    last_read: dict[tuple[str, str], tuple[tuple[int, int], Op]] = {}
    for r in sorted(reads, key=lambda o: o.invoke):
        if r.write_id is not None:
            w = writes.get(r.write_id)
            rkey = (r.version or 0, 0 if w is None else w.complete)
        else:
            rkey = (r.version or 0, by_version.get(r.version or 0, -1))
        i = bisect_right(rewinds, r.invoke) - 1
        floor = rewinds[i] if i >= 0 else -1
        pos = bisect_right(keys, rkey)
        if monotone:
            lo = max(pos, bisect_right(completes, floor))
            missed = effective[lo : bisect_left(completes, r.invoke)]
        else:
            missed = [w for w in effective[pos:] if floor < w.complete < r.invoke]
        if missed:
            oldest = min(w.complete for w in missed)
            ms = (r.invoke - oldest) / 1e6
            shown = missed[:1] if len(missed) == 1 else [missed[0], missed[-1]]
            v = Violation(
                "stale",
                user,
                r.policy,
                promise_stale and r.policy in NO_STALE,
                [ctx.evidence(r), *(ctx.evidence(w) for w in shown)],
                r.caller,
                len(missed),
                ms,
            )
            out.append(v)
        who = (r.instance, r.caller)
        own_writes = own.get(who)
        if own_writes:
            times = own_completes[who]
            lo = bisect_right(times, floor)
            hi = bisect_left(times, r.invoke)
            if hi > lo:
                newest = max(own_writes[lo:hi], key=lambda w: (w.version, w.complete))
                if (newest.version, newest.complete) > rkey:
                    out.append(
                        Violation("ryw", user, r.policy, promise_stale,
                                  [ctx.evidence(newest), ctx.evidence(r)], r.caller)
                    )  # fmt: skip
        before = last_read.get(who)
        if before is not None:
            bkey, b = before
            if (
                b.complete < r.invoke
                and rkey < bkey
                and status.get(b.write_id or "") is None
                and not ctx.epoch_between(ctx.all_epochs, b.complete, r.invoke)
            ):
                out.append(
                    Violation("monotonic", user, r.policy, promise_stale,
                              [ctx.evidence(b), ctx.evidence(r)], r.caller)
                )  # fmt: skip
        last_read[who] = (rkey, r)


def _versions(
    user: int,
    landings: list[Landing],
    foreign: list[Op],
    final: Final | None,
    ctx: Context,
    out: list[Violation],
) -> None:
    """A row's version going down within an epoch: a write applied after another
    (certainly after: it began once the other had ended) with a lower version, or a
    final database version below a version applied since the last rewind."""
    applied: list[tuple[int, int, int, Landing | Op]] = []  # (end, began after, version, rec)
    for landing in landings:
        if landing.tx is not None:
            w = ctx.writes.get(landing.write_id or "")
            began = landing.ns if w is None else w.invoke
            applied.append((landing.ns, began, landing.version, landing))
    for o in foreign:
        applied.append((o.complete, o.invoke, o.version or 0, o))
    if not applied:
        return
    applied.sort(key=lambda a: a[0])
    top: tuple[int, int, int, Landing | Op] | None = None
    for entry in applied:
        end, began, version, rec = entry
        if top is not None and ctx.epoch_between(ctx.rewinds, top[0], end):
            top = None  # a rewind: versions start again
        if top is not None and version < top[2]:
            prev = top[3]
            sequential = began > top[0] or (
                isinstance(rec, Landing)
                and isinstance(prev, Landing)
                and rec.instance == prev.instance
            )
            if sequential:
                out.append(_down(user, prev, rec, ctx))
                continue
        if top is None or version >= top[2]:
            top = entry
    if (
        final is not None
        and final.db_version is not None
        and top is not None
        and final.db_version < top[2]
        and not ctx.epoch_between(ctx.rewinds, top[0], final.ns)
    ):
        out.append(_down(user, top[3], final, ctx))


def _down(user: int, before: Landing | Op, after: Landing | Op | Final, ctx: Context) -> Violation:
    policy = after.policy if isinstance(after, Op | Final) else _policy_of(after, ctx)
    evidence = [ctx.evidence(before), ctx.evidence(after)]
    return Violation("version-down", user, policy, True, evidence)


def _policy_of(landing: Landing, ctx: Context) -> str:
    w = ctx.writes.get(landing.write_id or "")
    return "unknown" if w is None else w.policy


def _applied_twice(user: int, landings: list[Landing], ctx: Context, out: list[Violation]) -> None:
    seen: dict[str, list[Landing]] = {}
    for landing in landings:
        if landing.tx is not None and landing.write_id is not None:
            seen.setdefault(landing.write_id, []).append(landing)
    for same in seen.values():
        if len(same) > 1:
            out.append(
                Violation("double-apply", user, _policy_of(same[0], ctx), True,
                          [ctx.evidence(x) for x in same])
            )  # fmt: skip


def _divergence(user: int, final: Final, foreign: bool, ctx: Context, out: list[Violation]) -> None:
    """The cache disagrees with the database once nothing is pending."""
    if final.cache is None or final.pending or final.db_version is None:
        return
    if final.cache == (final.db_version, final.db_write_id):
        return
    promised = ctx.single_instance and not foreign and not ctx.crashes
    out.append(Violation("divergence", user, final.policy, promised, [ctx.evidence(final)]))
