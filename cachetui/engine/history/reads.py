"""The reads of one user judged (docs/verdicts.md): stale reads, read-your-writes and
monotonic reads, in one pass over the reads in the order they began.

A read is stale when a write with a higher (version, completion) key than the one it
returned was acknowledged after the last rewind and before the read began. The writes
are sorted by that key once; each read finds its place among them with a bisection, and
the writes acknowledged before it with a pointer that only moves forward (the reads go
in time order), so judging a user's history costs about its length, not its square."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import itemgetter
from typing import Any

from cachetui.engine.history.context import Context
from cachetui.engine.history.facts import Op
from cachetui.engine.history.verdicts import Violation

#: Policies that promise no stale reads to anyone when nobody else writes (write-around
#: may fill the cache from a read that began before a write: counted, not failed).
NO_STALE = frozenset({"write-through", "no-cache", "write-behind"})
#: An operation's (version, completion) key, its invoke and its completion time.
_KEY, _INVOKE, _COMPLETE = itemgetter(6, 1), itemgetter(0), itemgetter(1)


class _Acked:
    """The writes acknowledged after the floor (the last rewind) and before the current
    read began, for histories where a higher key does not mean a later completion (a
    rewind, or concurrent writers): marked by their rank in key order."""

    __slots__ = ("completes", "by_time", "marked", "lo", "hi", "top", "floor")

    def __init__(self, completes: list[int]) -> None:
        self.completes = completes
        self.by_time = sorted(range(len(completes)), key=completes.__getitem__)
        self.marked = bytearray(len(completes))
        self.lo = self.hi = 0  # the slice of by_time added so far (lo: none before it marked)
        self.top = -1  # the highest rank marked
        self.floor: int | None = None

    def ranks(self, start: int, floor: int, invoke: int) -> list[int]:
        """The ranks ≥ ``start`` of the writes acknowledged in (floor, invoke), in key
        order. ``floor`` and ``invoke`` never go down from one call to the next."""
        completes, by_time, marked = self.completes, self.by_time, self.marked
        if floor != self.floor:  # a rewind: the writes before it leave the set
            self.floor = floor
            lo, hi = self.lo, self.hi
            while lo < hi and completes[by_time[lo]] <= floor:
                marked[by_time[lo]] = 0
                lo += 1
            self.lo = lo
            self.top = max((k for k in by_time[lo:hi] if marked[k]), default=-1)
        hi, end = self.hi, len(by_time)
        while hi < end and completes[by_time[hi]] < invoke:
            k = by_time[hi]
            if completes[k] > floor:
                marked[k] = 1
                if k > self.top:
                    self.top = k
            hi += 1
        self.hi = hi
        return [k for k in range(start, self.top + 1) if marked[k]]


class _Own:
    """A caller's own writes acknowledged after the floor and before its current read,
    and the newest of them (the first of the highest key)."""

    __slots__ = ("writes", "times", "hi", "floor", "newest", "key")

    def __init__(self, writes: list[Op]) -> None:
        writes.sort(key=_COMPLETE)
        self.writes = writes
        self.times = [o.complete for o in writes]
        self.hi = 0
        self.floor: int | None = None
        self.newest: Op | None = None
        self.key: tuple[Any, int] = (0, 0)

    def newest_before(self, floor: int, invoke: int) -> Op | None:
        if floor != self.floor:
            self.floor = floor
            self.hi = bisect_right(self.times, floor)
            self.newest = None
        hi, times, writes = self.hi, self.times, self.writes
        end = len(times)
        while hi < end and times[hi] < invoke:
            w = writes[hi]
            key = (w.version, w.complete)
            if self.newest is None or key > self.key:
                self.newest, self.key = w, key
            hi += 1
        self.hi = hi
        return self.newest


def judge_reads(
    user: int,
    reads: list[Op],
    effective: list[Op],
    foreign: list[Op],
    status: dict[str, str],
    ctx: Context,
    out: list[Violation],
) -> None:
    """Stale reads, read-your-writes and monotonic reads, per read (``reads``: the
    successful reads that returned a version; ``effective``: the acknowledged writes
    neither lost nor parked, and the foreign writes; ``status``: lost and parked)."""
    if not reads:
        return
    effective.sort(key=_KEY)
    keys = list(map(_KEY, effective))
    completes = list(map(_COMPLETE, effective))
    acked = None if completes == sorted(completes) else _Acked(completes)
    by_version = {o.version: o.complete for o in sorted(foreign, key=_COMPLETE)}
    writes = ctx.writes
    rewinds = ctx.rewinds
    promise_stale = ctx.single_instance and not foreign
    own_lists: dict[tuple[str, str], list[Op]] = {}
    for o in effective:
        if o.op == "update":
            own_lists.setdefault((o.instance, o.caller), []).append(o)
    own = {who: _Own(mine) for who, mine in own_lists.items()}
    last_read: dict[tuple[str, str], tuple[tuple[int, int], Op]] = {}
    floor = -1
    floor_at: int | None = None  # the floor of floor_lo: the first write acknowledged after it
    floor_lo = 0
    for r in sorted(reads, key=_INVOKE):
        invoke, _, caller, _, _, write_id, version, _, policy, _, instance, _, _ = r
        version = version or 0
        if write_id is not None:
            w = writes.get(write_id)
            rkey = (version, 0 if w is None else w.complete)
        else:
            rkey = (version, by_version.get(version, -1))
        if rewinds:
            i = bisect_right(rewinds, invoke) - 1
            floor = rewinds[i] if i >= 0 else -1
        pos = bisect_right(keys, rkey)
        if acked is None:
            if floor != floor_at:
                floor_at, floor_lo = floor, bisect_right(completes, floor)
            lo = max(pos, floor_lo)
            hi = bisect_left(completes, invoke)
            missed = effective[lo:hi] if hi > lo else None
        else:
            missed = [effective[k] for k in acked.ranks(pos, floor, invoke)]
        if missed:
            oldest = min(w.complete for w in missed)
            ms = (invoke - oldest) / 1e6
            shown = missed[:1] if len(missed) == 1 else [missed[0], missed[-1]]
            out.append(
                Violation("stale", user, policy, promise_stale and policy in NO_STALE,
                          [ctx.evidence(r), *(ctx.evidence(w) for w in shown)],
                          caller, len(missed), ms)
            )  # fmt: skip
        who = (instance, caller)
        mine = own.get(who)
        if mine is not None:
            newest = mine.newest_before(floor, invoke)
            if newest is not None and mine.key > rkey:
                out.append(
                    Violation("ryw", user, policy, promise_stale,
                              [ctx.evidence(newest), ctx.evidence(r)], caller)
                )  # fmt: skip
        before = last_read.get(who)
        if before is not None:
            bkey, b = before
            if (
                b.complete < invoke
                and rkey < bkey
                and status.get(b.write_id or "") is None
                and not ctx.epoch_between(ctx.all_epochs, b.complete, invoke)
            ):
                out.append(
                    Violation("monotonic", user, policy, promise_stale,
                              [ctx.evidence(b), ctx.evidence(r)], caller)
                )  # fmt: skip
        last_read[who] = (rkey, r)
