"""The checker: feed it records — live, as the recorder drains them, or from history
files — and ask for verdicts at any time (per user, recomputed only for the users new
records touched). The definitions are docs/verdicts.md's; :mod:`.judge` applies them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cachetui.engine.history.facts import Epoch, Final, Landing, Op
from cachetui.engine.history.judge import Context, judge_user
from cachetui.engine.history.records import OPERATIONS, OUTCOMES, UPDATE
from cachetui.engine.history.verdicts import Report, Violation

_new = tuple.__new__


class HistoryFormatError(ValueError):
    """A record the checker cannot read (its message says which field)."""


class Checker:
    """Feed records (the dicts of a history file's lines) with :meth:`feed`; a file's
    header first with :meth:`header` (its instance names the callers and writes that
    follow). :meth:`verdicts` judges what was fed so far."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.instance = ""
        self.instances: set[str] = set()
        self.operations = 0
        self._ops: dict[int, list[Op]] = {}
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
                    ops = self._ops[user] = []
                ops.append(rec)
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

    def feed_many(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.feed(record)

    def operations_fed(self) -> list[Op]:
        """Every operation fed, user by user (for :mod:`.edn`)."""
        return [o for user in sorted(self._ops) for o in self._ops[user]]

    def verdicts(self) -> Report:
        """Every violation in what was fed so far (users unchanged since the last call
        are not judged again)."""
        context = Context(
            writes=self._writes,
            epochs=sorted(self._epochs),
            single_instance=len(self.instances) <= 1,
            files=self.files,
        )
        for user in sorted(self._dirty):
            self._judged[user] = judge_user(
                user,
                self._ops.get(user, []),
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
