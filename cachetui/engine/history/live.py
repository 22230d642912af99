"""Live verdicts: the running engine's history judged as it grows, one new record at a
time (``engine.verdicts()``), never the whole history again.

Each call drains the recorder, judges only the records added to its ring since the last
call, and keeps per user only what the next records need: the newest acknowledged writes
(a read is stale when it returns a write older than one of them), each caller's newest
own write and last read (read-your-writes, monotonic reads), the highest version applied
(a version going down), the write ids landed (a write applied twice), and the writes
acknowledged but not landed yet. Those are lost when they are neither pending in the
write queue nor parked as a dead letter (with a ``memory://`` queue; a durable queue's
writes are judged by ``cachetui check`` at close, whose final records say where each
is). The definitions are docs/verdicts.md's; what the live judge cannot see (the cache
against the database at close, a stale read behind more than ``KEEP_WRITES`` writes,
users beyond ``MAX_USERS``) is left to ``cachetui check``.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine.history.judge import parse_write_id
from cachetui.engine.history.recorder import HistoryRecorder
from cachetui.engine.history.records import EXTERNAL, OK, READ, UPDATE, Encoder
from cachetui.engine.history.verdicts import Violation

#: Acknowledged writes kept per user: a stale read behind more is counted this far.
KEEP_WRITES = 16
#: Users whose state is kept (the least recently used go first).
MAX_USERS = 20_000
#: Violations kept with their evidence, besides every lost write.
KEEP_VIOLATIONS = 500
#: A caller's own writes kept per user (read-your-writes).
KEEP_OWN = 4
#: Callers kept per user (their own writes, their last read): a workload names each of
#: its batches a caller, so the oldest go.
KEEP_CALLERS = 8


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    """One policy's verdict so far: counts of each kind, and how far behind the stale
    reads were (the most writes, the most ms)."""

    policy: str
    reads: int = 0
    writes: int = 0
    lost: int = 0
    stale: int = 0
    stale_writes: int = 0
    stale_ms: float = 0.0
    ryw: int = 0
    monotonic: int = 0
    version_down: int = 0
    double_apply: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.stale or self.ryw or self.monotonic or self.anomalies)

    @property
    def anomalies(self) -> int:
        return self.version_down + self.double_apply


@dataclass(frozen=True, slots=True)
class Verdicts:
    """``engine.verdicts()``: each policy's verdict (in the order they ran), the
    violations with their evidence (every lost write, the newest others, oldest first),
    how many operations were judged, and how many records left the ring unjudged."""

    policies: dict[str, PolicyVerdict] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    operations: int = 0
    skipped: int = 0

    def of(self, policy: str) -> PolicyVerdict:
        return self.policies.get(policy, PolicyVerdict(policy))


class _Tally:
    __slots__ = ("reads", "writes", "lost", "stale", "stale_writes", "stale_ms", "ryw",
                 "monotonic", "version_down", "double_apply")  # fmt: skip

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.reads = self.writes = self.lost = self.stale = self.stale_writes = 0
        self.ryw = self.monotonic = self.version_down = self.double_apply = 0
        self.stale_ms = 0.0

    def frozen(self, policy: str) -> PolicyVerdict:
        return PolicyVerdict(policy, **{name: getattr(self, name) for name in self.__slots__})


class _User:
    """What judging a user's next records needs."""

    __slots__ = ("acked", "top_key", "own", "last", "landed", "present", "applied")

    def __init__(self) -> None:
        #: (version, complete) key, complete, write id, record: newest acknowledged writes.
        self.acked: list[tuple[tuple[int, float], float, str | None, tuple[Any, ...]]] = []
        self.top_key: tuple[int, float] = (-1, -1.0)
        self.own: dict[str, list[tuple[tuple[int, float], float, tuple[Any, ...]]]] = {}
        self.last: dict[str, tuple[tuple[int, float], float, tuple[Any, ...]]] = {}
        self.landed: dict[str, tuple[Any, ...]] = {}
        #: The highest op landed per (instance, epoch) of a write id.
        self.present: dict[tuple[str, str], int] = {}
        #: (time, version, record) of the highest version applied since the last rewind.
        self.applied: tuple[float, int, tuple[Any, ...]] | None = None


class LiveJudge:
    """Judges ``recorder``'s records incrementally. ``pending(user)`` and
    ``parked(user)``: the write id pending in the queue and parked as a dead letter now
    (None when none)."""

    def __init__(
        self,
        recorder: HistoryRecorder,
        pending: Callable[[int], str | None],
        parked: Callable[[int], str | None],
    ) -> None:
        self._recorder = recorder
        self._pending = pending
        self._parked = parked
        self._seen = 0  # from the start: what the ring still holds
        self._users: collections.OrderedDict[int, _User] = collections.OrderedDict()
        self._tallies: dict[str, _Tally] = {}
        #: Per user, the writes acknowledged but not landed yet: ((instance, epoch), op, record).
        self._unlanded: dict[int, list[tuple[tuple[str, str], int, tuple[Any, ...]]]] = {}
        self._lost: list[Violation] = []
        self._others: collections.deque[Violation] = collections.deque(maxlen=KEEP_VIOLATIONS)
        self._rewound = -1.0  # the last rewind (versions start again)
        self._epoch_at = -1.0  # the last epoch of any kind
        self._crashes: list[float] = []
        self._policy = ""
        self._operations = 0
        self._skipped = 0
        self._encoder = Encoder(recorder.queue)
        # what the ring holds already, then each batch as the recorder drains it (every
        # 0.1 s: a few ms of the loop at a time, never a second's worth at once)
        recorder.drain()
        self._catch_up()
        recorder.listen_raw(self._fed)

    def _fed(self, batch: list[tuple[Any, ...]]) -> None:
        self._seen += len(batch)
        self._judge(batch)

    # -- feeding -----------------------------------------------------------------------------
    def verdicts(self) -> Verdicts:
        """Judge the records added since the last call; every verdict so far."""
        self._recorder.drain()  # the newest records, through _fed
        self._settle()
        return Verdicts(
            {p: t.frozen(p) for p, t in self._tallies.items()},
            sorted([*self._lost, *self._others], key=_when),
            self._operations,
            self._skipped,
        )

    def _catch_up(self) -> None:
        recorder = self._recorder
        new = recorder.drained - self._seen
        self._seen = recorder.drained
        ring = recorder.ring
        if new > len(ring):
            self._skipped += new - len(ring)
            new = len(ring)
        if new:
            batch = list(itertools.islice(reversed(ring), new))
            batch.reverse()
            self._judge(batch)

    def reset(self) -> None:
        """Start the counts again, with the metrics; lost writes stay (never hidden)."""
        for tally in self._tallies.values():
            lost = tally.lost
            tally.clear()
            tally.lost = lost
        self._others.clear()

    def _tally(self, policy: str) -> _Tally:
        tally = self._tallies.get(policy)
        if tally is None:
            tally = self._tallies[policy] = _Tally()
        return tally

    def _user(self, uid: int) -> _User:
        users = self._users
        state = users.get(uid)
        if state is None:
            state = users[uid] = _User()
            if len(users) > MAX_USERS:
                users.popitem(last=False)
        else:
            users.move_to_end(uid)
        return state

    def _evidence(self, record: tuple[Any, ...]) -> dict[str, Any]:
        return next(self._encoder.dicts([record]))

    def _judge(self, batch: list[tuple[Any, ...]]) -> None:
        users = self._users
        tallies = self._tallies
        operations = 0
        for r in batch:
            kind = r[0]
            if kind == "op":
                operations += 1
                if r[8] != OK:
                    continue
                name = r[4]
                if name == READ:
                    tally = tallies.get(r[9]) or self._tally(r[9])
                    tally.reads += 1
                    state = users.get(r[5])
                    if state is not None:  # else nobody wrote the user since: nothing to judge
                        self._read(r, state, tally)
                elif name == UPDATE:
                    self._write(r)
                elif name == EXTERNAL:
                    self._external(r)
            elif kind == "landing":
                self._landing(r)
            elif kind == "epoch":
                self._epoch_at = r[1]
                if r[3] == "crash":
                    self._crashes.append(r[1])
                    self._forget_unlanded()
                else:
                    self._rewound = r[1]
            elif kind == "queue":
                self._encoder.queue = r[2]
        self._operations += operations

    # -- operations --------------------------------------------------------------------------
    def _acked(self, state: _User, key: tuple[int, float], end: float, wid: str | None,
               r: tuple[Any, ...]) -> None:  # fmt: skip
        acked = state.acked
        acked.append((key, end, wid, r))
        if len(acked) > KEEP_WRITES:
            del acked[0]
        if key > state.top_key:
            state.top_key = key

    def _write(self, r: tuple[Any, ...]) -> None:
        _, start, end, caller, _, uid, version, wid, _, policy, _ = r
        self._policy = policy
        self._tally(policy).writes += 1
        state = self._user(uid)
        key = (version, end)
        self._acked(state, key, end, wid, r)
        own = state.own.get(caller)
        if own is None:
            own = state.own[caller] = []
            if len(state.own) > KEEP_CALLERS:
                del state.own[next(iter(state.own))]
        own.append((key, end, r))
        if len(own) > KEEP_OWN:
            del own[0]
        if wid is not None:
            landed_key, op = parse_write_id(wid)
            if op > state.present.get(landed_key, -1):
                self._unlanded.setdefault(uid, []).append((landed_key, op, r))

    def _external(self, r: tuple[Any, ...]) -> None:
        state = self._user(r[5])
        version = r[6]
        self._acked(state, (version, r[2]), r[2], None, r)
        self._apply(state, r[2], version, r)

    def _read(self, r: tuple[Any, ...], state: _User, tally: _Tally) -> None:
        _, start, end, caller, _, uid, version, wid, _, policy, _ = r
        written = -1.0  # when the write read completed (the newest match)
        if wid is not None:
            for a in reversed(state.acked):
                if a[2] == wid:
                    written = a[1]
                    break
        else:
            for a in reversed(state.acked):
                if a[0][0] == version:
                    written = a[1]
                    break
        rkey = (version, written if written >= 0 else (0.0 if wid is not None else -1.0))
        floor = self._rewound
        if rkey < state.top_key:
            missed = [a for a in state.acked if a[0] > rkey and floor < a[1] < start]
            if missed:
                oldest = min(a[1] for a in missed)
                ms = (start - oldest) * 1e3
                tally.stale += 1
                tally.stale_writes = max(tally.stale_writes, len(missed))
                tally.stale_ms = max(tally.stale_ms, ms)
                shown = missed[:1] if len(missed) == 1 else [missed[0], missed[-1]]
                self._others.append(
                    Violation("stale", uid, policy, False,
                              [self._evidence(r), *(self._evidence(a[3]) for a in shown)],
                              caller, len(missed), ms)
                )  # fmt: skip
        own = state.own.get(caller)
        if own:
            mine = [o for o in own if floor < o[1] < start]
            if mine:
                newest = max(mine, key=lambda o: o[0])
                if newest[0] > rkey:
                    tally.ryw += 1
                    self._others.append(
                        Violation("ryw", uid, policy, False,
                                  [self._evidence(newest[2]), self._evidence(r)], caller)
                    )  # fmt: skip
        before = state.last.get(caller)
        if before is not None:
            bkey, bend, b = before
            if bend < start and rkey < bkey and not (bend < self._epoch_at < start):
                tally.monotonic += 1
                self._others.append(
                    Violation("monotonic", uid, policy, False,
                              [self._evidence(b), self._evidence(r)], caller)
                )  # fmt: skip
        last = state.last
        if before is None and len(last) >= KEEP_CALLERS:
            del last[next(iter(last))]
        last[caller] = (rkey, end, r)

    # -- landings and epochs ------------------------------------------------------------------
    def _landing(self, r: tuple[Any, ...]) -> None:
        _, at, wid, tx, version, uid = r
        state = self._user(uid)
        if wid is not None:
            key, op = parse_write_id(wid)
            if op > state.present.get(key, -1):
                state.present[key] = op
            waiting = self._unlanded.get(uid)
            if waiting:
                waiting[:] = [w for w in waiting if w[0] != key or w[1] > op]
                if not waiting:
                    del self._unlanded[uid]
            if tx is not None:
                twice = state.landed.get(wid)
                if twice is not None:
                    self._tally(self._policy).double_apply += 1
                    self._others.append(
                        Violation("double-apply", uid, self._policy, True,
                                  [self._evidence(twice), self._evidence(r)])
                    )  # fmt: skip
                state.landed[wid] = r
                if len(state.landed) > KEEP_WRITES:
                    del state.landed[next(iter(state.landed))]
        if tx is not None:
            self._apply(state, at, version, r)

    def _apply(self, state: _User, at: float, version: int, r: tuple[Any, ...]) -> None:
        top = state.applied
        if top is not None and top[0] < self._rewound:
            top = None  # a rewind since: versions start again
        if top is not None and version < top[1]:
            self._tally(self._policy).version_down += 1
            self._others.append(
                Violation("version-down", r[5], self._policy,
                          True, [self._evidence(top[2]), self._evidence(r)])
            )  # fmt: skip
            return
        state.applied = (at, version, r)

    def _forget_unlanded(self) -> None:
        """A crash: the writes not landed leave the acknowledged set (a memory queue
        loses them; a durable one lands them again), so later reads are not stale
        against them."""
        for uid, waiting in self._unlanded.items():
            state = self._users.get(uid)
            if state is None:
                continue
            gone = {id(w[2]) for w in waiting}
            state.acked = [a for a in state.acked if id(a[3]) not in gone]
            state.top_key = max((a[0] for a in state.acked), default=(-1, -1.0))
            for own in state.own.values():  # nor read-your-writes against them
                own[:] = [o for o in own if id(o[2]) not in gone]

    def _settle(self) -> None:
        """The writes not landed that are neither pending nor parked now: lost."""
        if not self._encoder.queue.startswith("memory"):
            return  # a durable queue holds them across a crash: check judges at close
        for uid in list(self._unlanded):
            waiting = self._unlanded[uid]
            pending = self._pending(uid)
            if pending is not None:
                key, op = parse_write_id(pending)
                if all(w[0] == key and w[1] <= op for w in waiting):
                    continue  # all of them still pending (coalesced into the newest)
            else:
                key, op = ("", ""), -1
            parked = self._parked(uid)
            pkey, pop = parse_write_id(parked) if parked is not None else (("", ""), -1)
            still = []
            for w in waiting:
                if w[0] == key and w[1] <= op:
                    still.append(w)
                elif not (w[0] == pkey and w[1] <= pop):  # parked: not lost
                    self._lose(uid, w[2])
            if still:
                self._unlanded[uid] = still
            else:
                del self._unlanded[uid]

    def _lose(self, uid: int, r: tuple[Any, ...]) -> None:
        policy = r[9]
        self._tally(policy).lost += 1
        at_crash = policy == "write-behind" and any(t > r[2] for t in self._crashes)
        pending, parked = self._pending(uid), self._parked(uid)
        now = {"type": "live", "user": uid, "pending": pending, "parked": parked}
        self._lost.append(
            Violation("lost", uid, policy, not at_crash, [self._evidence(r), now], r[3])
        )
        state = self._users.get(uid)
        if state is not None:  # a lost write leaves the acknowledged set, and its caller's
            state.acked = [a for a in state.acked if a[3] is not r]
            state.top_key = max((a[0] for a in state.acked), default=(-1, -1.0))
            own = state.own.get(r[3])
            if own:
                own[:] = [o for o in own if o[2] is not r]


def _when(v: Violation) -> int:
    first = v.evidence[0] if v.evidence else {}
    return int(first.get("complete_ns", first.get("ns", 0)))
