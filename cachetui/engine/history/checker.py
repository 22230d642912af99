"""The checker: feed it records — live, as the recorder drains them, or from history
files — and ask for verdicts at any time (per user, recomputed only for the users new
records touched). The definitions are docs/verdicts.md's; :mod:`.judge` applies them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from cachetui.engine.history import shapes
from cachetui.engine.history.context import Context
from cachetui.engine.history.facts import Epoch, Final, Landing, Op, UserOps, collector_paused
from cachetui.engine.history.judge import judge_user
from cachetui.engine.history.records import OK, OPERATIONS, OUTCOMES, READ, UPDATE
from cachetui.engine.history.shapes import TIME_LIMIT, HistoryFormatError
from cachetui.engine.history.verdicts import Report, Violation

_new = tuple.__new__
#: An operation's fields in the order of :class:`~.facts.Op`'s first ten, and a landing's.
_OP_FIELDS = itemgetter(
    "invoke_ns", "complete_ns", "caller", "op", "user", "write_id", "version", "outcome",
    "policy", "queue",
)  # fmt: skip
_LANDING_FIELDS = itemgetter("ns", "write_id", "user", "version", "tx")


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
        self._op_ids: dict[str, set[int]] = {}  # per instance
        self._judged: dict[int, tuple[list[Violation], bool]] = {}

    def header(self, record: dict[str, Any], file: str = "") -> int:
        """A file's header line: its instance applies to what follows. Returns the
        file's index (for :meth:`feed`'s ``src``)."""
        self.instance = shapes.header(record)
        self.instances.add(self.instance)
        self.files.append(file)
        return len(self.files) - 1

    def feed(self, r: dict[str, Any], src: int = 0) -> None:
        """One record. ``src``: where it comes from (``file_index << 32 | line``), for
        the evidence. HistoryFormatError for a record of an unknown type or operation,
        with a field missing or of the wrong type or value (:mod:`.shapes`), or an
        operation whose op id its instance gave before."""
        kind = shapes.field(r, "record", "type")
        if kind == "op":
            *fields, op_id = shapes.op_fields(r)
            self._op_id(op_id)
            rec = _new(Op, (*fields, self.instance, op_id, src))
            user = rec.user
            ops = self._ops.get(user)
            if ops is None:
                ops = self._ops[user] = UserOps()
            ops.add(rec)
            if rec.op == UPDATE and rec.write_id is not None:
                self._writes[rec.write_id] = rec
            self.operations += 1
            self._dirty.add(user)
        elif kind == "landing":
            landing = shapes.landing(r, self.instance, src)
            self._landings.setdefault(landing.user, []).append(landing)
            self._dirty.add(landing.user)
        elif kind == "final":
            final = shapes.final(r, src)
            known = self._finals.get(final.user)
            if known is None or known.ns <= final.ns:  # the last close tells
                self._finals[final.user] = final
            self._dirty.add(final.user)
        elif kind == "epoch":
            self._epochs.append(shapes.epoch(r, self.instance, src))
            self._dirty.update(self._ops)  # it excuses what spans it, for everyone
        elif kind == "queue":
            shapes.queue(r)
        elif kind == "header":
            self.header(r)
        else:
            raise HistoryFormatError(f"unknown record type {shapes.named(kind)}")

    def _op_id(self, op_id: int) -> None:
        """HistoryFormatError when this instance gave this op id before (a line, or a
        file, given twice); 0: none given."""
        if op_id:
            seen = self._op_ids.setdefault(self.instance, set())
            if op_id in seen:
                raise HistoryFormatError(
                    f"op_id {op_id} of instance {shapes.named(self.instance)} again: "
                    "a line or a file given twice?"
                )
            seen.add(op_id)

    def feed_batch(self, records: Sequence[Any], src: int) -> None:
        """The parsed lines of a file from the one at ``src`` on (``file_index << 32 |
        line``): each fed as :meth:`feed` does, operations and landings without a call
        each. HistoryFormatError (with the ``src`` of its record) for the first record
        that is not a JSON object or that :meth:`feed` refuses, after those before it."""
        ops_of, landings_of, writes, dirty = self._ops, self._landings, self._writes, self._dirty
        instance = self.instance
        seen = self._op_ids.setdefault(instance, set())
        operations = 0
        try:
            for r in records:
                kind = r.get("type") if type(r) is dict else None
                if kind == "op":
                    try:  # the common shape: anything else is fed (or refused) by feed()
                        f = _OP_FIELDS(r)
                        invoke, complete, caller, op, user, wid, version, outcome, policy, queue = f
                        op_id = r.get("op_id", 0)
                        if not (
                            type(invoke) is int is type(complete) is type(user) is type(op_id)
                            and 0 <= invoke <= complete < TIME_LIMIT
                            and type(caller) is str is type(policy) is type(queue)
                            and op in OPERATIONS
                            and outcome in OUTCOMES
                            and (wid is None or type(wid) is str)
                            and (
                                type(version) is int
                                or (version is None and (op != UPDATE or outcome != OK))
                            )
                            and op_id not in seen
                        ):
                            raise TypeError
                    except (KeyError, TypeError):
                        instance = self._feed_one(r, src)
                        seen = self._op_ids.setdefault(instance, set())
                    else:
                        if op_id:
                            seen.add(op_id)
                        rec = _new(Op, (*f, instance, op_id, src))
                        ops = ops_of.get(user)
                        if ops is None:
                            ops = ops_of[user] = UserOps()
                        ops.ops.append(rec)  # and sorted out as UserOps.add does:
                        if outcome == OK:
                            if op == READ:
                                if version is not None:
                                    ops.reads.append(rec)
                            elif op == UPDATE:
                                if wid is not None:
                                    ops.acked.append(rec)
                            elif version is not None:
                                ops.foreign.append(rec)
                        if op == UPDATE and wid is not None:
                            writes[wid] = rec
                        operations += 1
                        dirty.add(user)
                elif kind == "landing":
                    try:
                        ns, wid, user, version, tx = _LANDING_FIELDS(r)
                        if not (
                            type(ns) is int is type(user) is type(version)
                            and 0 <= ns < TIME_LIMIT
                            and (wid is None or type(wid) is str)
                            and (tx is None or type(tx) is int)
                        ):
                            raise TypeError
                    except (KeyError, TypeError):
                        instance = self._feed_one(r, src)
                        seen = self._op_ids.setdefault(instance, set())
                    else:
                        landings = landings_of.get(user)
                        if landings is None:
                            landings = landings_of[user] = []
                        landings.append(_new(Landing, (ns, wid, user, version, tx, instance, src)))
                        dirty.add(user)
                else:
                    instance = self._feed_one(r, src)
                    seen = self._op_ids.setdefault(instance, set())
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
