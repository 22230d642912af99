"""The definitions of docs/verdicts.md applied to one user's records: lost writes,
stale reads, read-your-writes, monotonic reads, versions going down, writes applied
twice, and a cache that disagrees with the database at close."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from operator import itemgetter

from cachetui.engine.history.context import Context
from cachetui.engine.history.facts import Final, Landing, Op, UserOps
from cachetui.engine.history.reads import judge_reads
from cachetui.engine.history.verdicts import Violation

LOST, PARKED = "lost", "parked"


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
    user: int, ops: UserOps, landings: list[Landing], final: Final | None, ctx: Context
) -> tuple[list[Violation], bool]:
    """The user's violations, and whether their lost writes could not be judged (there
    are acknowledged writes but no final record of the database)."""
    out: list[Violation] = []
    acked, foreign = ops.acked, ops.foreign
    status, unjudged = _lost(user, acked, landings, final, ctx, out)
    effective = [o for o in acked if o.write_id not in status] if status else acked[:]
    effective += foreign
    judge_reads(user, ops.reads, effective, foreign, status, ctx, out)
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
    landed = {landing.write_id for landing in landings}
    # a write that landed itself is in the final state: only the others are looked at
    acked = [o for o in acked if o.complete <= final.ns and o.write_id not in landed]
    if not acked:
        return status, False
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
    applied.sort(key=itemgetter(0))
    rewinds = ctx.rewinds
    top: tuple[int, int, int, Landing | Op] | None = None
    for entry in applied:
        end, began, version, rec = entry
        if top is not None and rewinds and ctx.epoch_between(rewinds, top[0], end):
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
