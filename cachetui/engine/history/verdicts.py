"""Verdicts: the kinds of anomaly the checker finds, each violation with its evidence,
what each policy promises, and the report ``cachetui check`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cachetui.engine.errors import ValidationError

#: The kinds, in the order they are printed, with their titles.
KINDS: dict[str, str] = {
    "lost": "lost writes",
    "stale": "stale reads",
    "ryw": "read-your-writes violations",
    "monotonic": "monotonic-read violations",
    "version-down": "versions going down",
    "double-apply": "writes applied twice",
    "divergence": "cache ≠ database at close",
}


@dataclass(slots=True)
class Violation:
    """One anomaly: its kind, the user, the policy it is charged to (the write's for a
    lost write or a double apply, the read's for a read), the caller if one, whether it
    breaks what that policy promises, the evidence (the records that make it, each with
    its ``file`` and ``line`` when read from files) and, for a stale read, how far
    behind it was (``writes``, ``ms``)."""

    kind: str
    user: int
    policy: str
    promised: bool
    evidence: list[dict[str, Any]]
    caller: str | None = None
    writes: int = 0
    ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "user": self.user,
            "policy": self.policy,
            "caller": self.caller,
            "breaks_promise": self.promised,
            "evidence": self.evidence,
        }
        if self.kind == "stale":
            out["behind_writes"] = self.writes
            out["behind_ms"] = round(self.ms, 3)
        return out


@dataclass(slots=True)
class Report:
    """Every violation found, with the checker's notes (users it could not judge for
    lost writes, for want of a final record)."""

    violations: list[Violation] = field(default_factory=list)
    operations: int = 0
    unjudged_users: int = 0
    warnings: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Violation]:
        return [v for v in self.violations if v.kind == kind]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for v in self.violations:
            counts[v.kind] += 1
        return counts

    def stale_bounds(self) -> tuple[int, float]:
        """The most writes and ms any stale read was behind."""
        stale = self.of("stale")
        return max((v.writes for v in stale), default=0), max((v.ms for v in stale), default=0.0)

    def by_policy(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for v in self.violations:
            row = table.setdefault(v.policy, dict.fromkeys(KINDS, 0))
            row[v.kind] += 1
        return table

    def failing(self, fail_on: str) -> list[str]:
        """The kinds that fail under ``fail_on`` (see :func:`parse_fail_on`)."""
        kinds = parse_fail_on(fail_on)
        if kinds is None:  # promised
            return [k for k in KINDS if any(v.promised for v in self.of(k))]
        return [k for k in KINDS if k in kinds and self.of(k)]

    def lines(self) -> list[str]:
        """``lost writes: 3``, ``stale reads: 12 (max 2 writes, 840 ms)``…"""
        out = []
        counts = self.counts()
        for kind, title in KINDS.items():
            n = counts[kind]
            line = f"{title}: {n}"
            if kind == "stale" and n:
                writes, ms = self.stale_bounds()
                line += f" (max {writes} write{'s' if writes != 1 else ''}, {ms:.0f} ms)"
            promised = sum(1 for v in self.of(kind) if v.promised)
            if promised:
                line += f", {promised} breaking a promise"
            out.append(line)
        if self.unjudged_users:
            out.append(
                f"lost writes not judged for {self.unjudged_users} user"
                f"{'s' if self.unjudged_users != 1 else ''}: no final record (the process "
                "did not close; judge it with the file of a later run on the same database)"
            )
        return out

    def as_dict(self, fail_on: str = "promised") -> dict[str, Any]:
        writes, ms = self.stale_bounds()
        return {
            "operations": self.operations,
            "counts": self.counts(),
            "stale_max_writes": writes,
            "stale_max_ms": round(ms, 3),
            "by_policy": self.by_policy(),
            "failing": self.failing(fail_on),
            "unjudged_users": self.unjudged_users,
            "warnings": self.warnings,
            "violations": [v.as_dict() for v in self.violations],
        }


def parse_fail_on(value: str) -> frozenset[str] | None:
    """``promised`` → None (fail on broken promises only), ``none`` → nothing, else a
    comma-separated list of kinds. ValidationError naming an unknown kind."""
    value = value.strip().lower()
    if value == "promised":
        return None
    if value == "none":
        return frozenset()
    kinds = frozenset(k.strip() for k in value.split(",") if k.strip())
    unknown = sorted(kinds - KINDS.keys())
    if unknown or not kinds:
        raise ValidationError(
            f"--fail-on: unknown kind {', '.join(unknown) or repr(value)}: use promised, none "
            f"or a comma-separated list of {', '.join(KINDS)}",
            field="fail_on",
        )
    return kinds
