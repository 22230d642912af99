"""The checker: feed it records — live, as the recorder drains them, or from history
files — and ask for verdicts at any time (per user, recomputed only for the users new
records touched). The definitions are docs/verdicts.md's; :mod:`.judge` applies them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from cachetui.engine.history.context import Context
from cachetui.engine.history.facts import (
    Epoch,
    Final,
    Landing,
    Op,
    UserOps,
    collector_paused,
)
from cachetui.engine.history.judge import judge_user
from cachetui.engine.history.records import OK, OPERATIONS, OUTCOMES, READ, UPDATE
from cachetui.engine.history.verdicts import Report, Violation

_new = tuple.__new__
#: An operation's fields in the order of :class:`~.facts.Op`'s first ten, and a landing's.
_OP_FIELDS = itemgetter(
    "invoke_ns", "complete_ns", "caller", "op", "user", "write_id", "version", "outcome",
    "policy", "queue",
)  # fmt: skip
_LANDING_FIELDS = itemgetter("ns", "write_id", "user", "version", "tx")


class HistoryFormatError(ValueError):
    """A record the checker cannot read (its message says which field; ``src``, where
    it came from, when :meth:`Checker.feed_batch` raised it)."""

    src = 0


class Checker:
    """Feed records (the dicts of a history file's lines) with :meth:`feed`; a file's
    header first with :meth:`header` (its instance names the callers and writes that
    follow). :meth:`verdicts` judges what was fed so far."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.instance = ""
        self.instances: set[str] = set()
        self.operations = 0
        self._ops: dict[int, UserOps] = {}
        self._writes: dict[str, Op] = {}
        self._landings: dict[int, list[Landing]] = {}
        self._finals: dict[int, Final] = {}
        self._epochs: list[Epoch] = []
        self._dirty: set[int] = set()
        self._judged: dict[int, tuple[list[Violation], bool]] = {}

    def header(self, record: dict[str, Any], file: str = "") -> int:
        """A file's header line: its instance applies to what follows. Returns the
        file's index (for :meth:`feed`'s ``src``)."""
        self.instance = str(record.get("instance", ""))
        self.instances.add(self.instance)
        self.files.append(file)
        return len(self.files) - 1

    def feed(self, r: dict[str, Any], src: int = 0) -> None:
        """One record. ``src``: where it comes from (``file_index << 32 | line``), for
        the evidence. HistoryFormatError for a record of an unknown type or operation,
        or with a field missing or of the wrong type."""
        try:
            kind = r["type"]
            if kind == "op":
                op = r["op"]
                if op not in OPERATIONS:
                    raise HistoryFormatError(f"unknown operation {op!r}")
                outcome = r["outcome"]
                if outcome not in OUTCOMES:
                    raise HistoryFormatError(f"unknown outcome {outcome!r}")
                user = r["user"]
                rec = _new(
                    Op,
                    (
                        int(r["invoke_ns"]),
                        int(r["complete_ns"]),
                        r["caller"],
                        op,
                        user,
                        r["write_id"],
                        r["version"],
                        outcome,
                        r["policy"],
                        r["queue"],
                        self.instance,
                        r.get("op_id", 0),
                        src,
                    ),
                )
                ops = self._ops.get(user)
                if ops is None:
                    ops = self._ops[user] = UserOps()
                ops.add(rec)
                if op == UPDATE and rec.write_id is not None:
                    self._writes[rec.write_id] = rec
                self.operations += 1
                self._dirty.add(user)
            elif kind == "landing":
                user = r["user"]
                landing = Landing(
                    int(r["ns"]), r["write_id"], user, r["version"], r["tx"], self.instance, src
                )
                self._landings.setdefault(user, []).append(landing)
                self._dirty.add(user)
            elif kind == "final":
                cache = r["cache"]
                final = Final(
                    int(r["ns"]),
                    r["user"],
                    r["db_version"],
                    r["db_write_id"],
                    tuple(r["pending"]),
                    r["parked"],
                    None if cache is None else (cache["version"], cache["write_id"]),
                    r["policy"],
                    src,
                )
                known = self._finals.get(final.user)
                if known is None or known.ns <= final.ns:  # the last close tells
                    self._finals[final.user] = final
                self._dirty.add(final.user)
            elif kind == "epoch":
                epoch = Epoch(int(r["ns"]), r["epoch"], r["reason"], self.instance, src)
                self._epochs.append(epoch)
                self._dirty.update(self._ops)  # it excuses what spans it, for everyone
            elif kind == "queue":
                pass
            elif kind == "header":
                self.header(r)
            else:
                raise HistoryFormatError(f"unknown record type {kind!r}")
        except KeyError as exc:
            raise HistoryFormatError(f"a {r.get('type', 'record')} without {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, HistoryFormatError):
                raise
            raise HistoryFormatError(f"a malformed {r.get('type', 'record')}: {exc}") from None

    def feed_batch(self, records: Sequence[Any], src: int) -> None:
        """The parsed lines of a file from the one at ``src`` on (``file_index << 32 |
        line``): each fed as :meth:`feed` does, operations and landings without a call
        each. HistoryFormatError (with the ``src`` of its record) for the first record
        that is not a JSON object or that :meth:`feed` refuses, after those before it."""
        ops_of, landings_of, writes, dirty = self._ops, self._landings, self._writes, self._dirty
        instance = self.instance
        operations = 0
        try:
            for r in records:
                kind = r.get("type") if type(r) is dict else None
                if kind == "op":
                    try:  # the common shape: anything else is fed (or refused) by feed()
                        f = _OP_FIELDS(r)
                        if (
                            type(f[0]) is not int
                            or type(f[1]) is not int
                            or f[3] not in OPERATIONS
                            or f[7] not in OUTCOMES
                            or (f[5] is not None and type(f[5]) is not str)
                        ):
                            raise TypeError
                        user = f[4]
                        ops = ops_of.get(user)  # TypeError for a user that cannot be a key
                    except (KeyError, TypeError):
                        instance = self._feed_one(r, src)
                    else:
                        rec = _new(Op, (*f, instance, r.get("op_id", 0), src))
                        if ops is None:
                            ops = ops_of[user] = UserOps()
                        ops.ops.append(rec)  # and sorted out as UserOps.add does:
                        if f[7] == OK:
                            if f[3] == READ:
                                if f[6] is not None:
                                    ops.reads.append(rec)
                            elif f[3] == UPDATE:
                                if f[5] is not None:
                                    ops.acked.append(rec)
                            elif f[6] is not None:
                                ops.foreign.append(rec)
                        if f[3] == UPDATE and f[5] is not None:
                            writes[f[5]] = rec
                        operations += 1
                        dirty.add(user)
                elif kind == "landing":
                    try:
                        ns, wid, user, version, tx = _LANDING_FIELDS(r)
                        if type(ns) is not int:
                            raise TypeError
                        landings = landings_of.get(user)
                    except (KeyError, TypeError):
                        instance = self._feed_one(r, src)
                    else:
                        if landings is None:
                            landings = landings_of[user] = []
                        landings.append(_new(Landing, (ns, wid, user, version, tx, instance, src)))
                        dirty.add(user)
                else:
                    instance = self._feed_one(r, src)
                src += 1
        finally:
            self.operations += operations

    def _feed_one(self, r: Any, src: int) -> str:
        """One record of :meth:`feed_batch` fed by :meth:`feed`; the instance of the
        records that follow it (a header changes it)."""
        try:
            if not isinstance(r, dict):
                raise HistoryFormatError("not a record (a JSON object)")
            self.feed(r, src)
        except HistoryFormatError as exc:
            exc.src = src
            raise
        return self.instance

    def feed_many(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.feed(record)

    def operations_fed(self) -> list[Op]:
        """Every operation fed, user by user (for :mod:`.edn`)."""
        return [o for user in sorted(self._ops) for o in self._ops[user].ops]

    def verdicts(self) -> Report:
        """Every violation in what was fed so far (users unchanged since the last call
        are not judged again)."""
        with collector_paused():
            return self._verdicts()

    def _verdicts(self) -> Report:
        context = Context(
            writes=self._writes,
            epochs=sorted(self._epochs),
            single_instance=len(self.instances) <= 1,
            files=self.files,
        )
        for user in sorted(self._dirty):
            self._judged[user] = judge_user(
                user,
                self._ops.get(user) or UserOps(),
                self._landings.get(user, []),
                self._finals.get(user),
                context,
            )
        self._dirty.clear()
        report = Report(operations=self.operations)
        for user in sorted(self._judged):
            violations, unjudged = self._judged[user]
            report.violations.extend(violations)
            report.unjudged_users += unjudged
        return report


__all__ = ["Checker", "HistoryFormatError"]
