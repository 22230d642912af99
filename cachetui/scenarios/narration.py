"""Narration templates: sentences whose numbers are filled in from what a step measured.

``"{updates} updates became {total.db_writes:database write}"`` — every ``{name}`` is a
value measured while the step ran (or, as ``total.NAME``, since the scenario started),
so the banner never claims a number the engine did not produce. A format spec made of
words pluralizes: ``{n:write}`` → "1 write" / "3 writes"; ``{n:entry|entries}`` and
``{n:write is|writes are}`` give both forms.
"""

from __future__ import annotations

import re
import string
from types import SimpleNamespace
from typing import Any

#: Counters measured as the change over the step (and, under ``total.``, since the start).
METRICS: dict[str, str] = {
    "reads": "reads",
    "hits": "reads served by the cache",
    "misses": "reads the cache could not serve",
    "updates": "updates acknowledged",
    "failed_updates": "updates that failed",
    "db_reads": "rows read from the database",
    "db_writes": "rows written to the database",
    "db_transactions": "database transactions that wrote a row (one whose rows were all "
    "refused is not counted)",
    "coalesced": "updates absorbed into an already pending write",
    "retries": "failed database attempts that will be retried",
    "lost_writes": "acknowledged writes lost (crash)",
    "evictions": "cache entries evicted for room",
    "expirations": "cache entries expired (TTL)",
    "external_writes": "database writes that bypassed the cache",
    "conflicts": "writes whose row another writer had changed since they were built",
    "rejections": "writes the database refused (each try of a poison row counts)",
    "discarded": "dead letters discarded",
}
#: Everything else a narration may name (value after the step).
VALUES: dict[str, str] = {
    "hit_ratio": "hits / reads of the step, e.g. 95%",
    "read_ms": "median read latency of the step, e.g. 21.3 ms",
    "update_ms": "median update latency of the step",
    "failed": "calls of the step that failed (reads, updates, external writes, flushes, "
    "policy switches)",
    "error": "the first error of the step, or 'no error'",
    "lost": "per user whose acknowledged writes the step's crash lost, the newest lost "
    "version: 'user 3 v9, user 4 v2', or 'nothing'",
    "lost_count": "how many users lost acknowledged writes in the step's crash",
    "replayed": "pending writes a durable queue replayed after the step's crash",
    "queue": "where the write-behind queue lives: 'memory' or the outbox file's name",
    "waiting": "calls still waiting (e.g. for room in the queue) when the step ended",
    "pending": "writes in the write-behind queue after the step",
    "max_pending": "the queue bound",
    "policy": "the write policy after the step",
    "latency": "injected database latency, e.g. '20 ms' or 'no added latency'",
    "flush_interval": "write-behind flush interval, e.g. '2 s'",
    "ttl": "cache TTL, e.g. '30 s' or 'no TTL'",
    "user": "the followed user (action: follow N)",
    "cache_version": "the followed user's version in the cache, e.g. v8, or 'nothing'",
    "queue_version": "the followed user's pending version, or 'nothing'",
    "queue_base": "the database version the followed user's pending write was built on, "
    "e.g. v1, or 'nothing'",
    "db_version": "the followed user's version in the database",
    "expires": "the followed user's entry: 'expires in 12 s (TTL)', 'never expires (no TTL)'"
    " or 'is not cached'",
    "dead_letters": "writes parked as dead letters after the step",
    "parked": "each dead letter: 'user 13 v2 (rejected), user 7 v3 (conflict)', or 'nothing'",
    "letter_kind": "the followed user's dead letter: rejected or conflict, or 'no dead letter'",
    "letter_version": "the version the followed user's dead letter holds, e.g. v2, or 'nothing'",
    "letter_base": "the database version that dead letter was built on, e.g. v1",
    "letter_db": "the database version when it was parked (a conflict's other writer), e.g. v3",
    "letter_error": "why it was parked (the database's message, or the conflict), or 'no error'",
    "distance": "how far the database is: '2.0 ms away through a link, measured 2.3 ms' or "
    "'2.0 ms away (latency added to each call: SQLite)' (action db-rtt)",
    "workers": "the scenario's workers running: 'a, b', or 'none' (action worker)",
    "killed": "the last worker killed (kill-worker), or 'nobody'",
    "stranded": "the writes it had acknowledged that were still in the fleet queue when "
    "it was killed",
    "claimed_by": "the instances holding its partitions after await-landed: 'b, vm/4711'",
    "claimed_landed": "of its stranded writes, those the survivors landed (await-landed)",
    "claimed_left": "of its stranded writes, those still in the fleet queue (await-landed)",
    "fleet_acked": "the updates its history says it acknowledged (await-landed)",
    "fleet_lost": "of those, the users whose newest acknowledged version is neither in the "
    "database nor pending: the verdict, 0 when nothing was lost (await-landed)",
}
#: ``{by_policy.POLICY.NAME}``: each policy's numbers since the scenario started (POLICY
#: with underscores: no_cache, write_through, write_behind, write_around).
BY_POLICY: dict[str, str] = {
    "reads": "reads made under the policy",
    "updates": "updates made under the policy",
    "read_ms": "their median read latency, e.g. 2.4 ms, or '–'",
    "update_ms": "their median update latency",
}
POLICY_NAMES = ("write_through", "write_behind", "write_around", "no_cache")
INT_VALUES = frozenset(METRICS) | {
    "failed",
    "lost_count",
    "replayed",
    "waiting",
    "pending",
    "max_pending",
    "dead_letters",
    "stranded",
    "claimed_landed",
    "claimed_left",
    "fleet_acked",
    "fleet_lost",
}
_STANDARD_SPEC = re.compile(r"^[bcdeEfFgGnosxX%]$")
_NOUN_SPEC = re.compile(r"^[A-Za-z][A-Za-z' -]*(\|[A-Za-z][A-Za-z' -]*)?$")


class NarrationError(ValueError):
    """A template that cannot be filled; the message says why."""


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if _NOUN_SPEC.match(format_spec) and not _STANDARD_SPEC.match(format_spec):
            if not isinstance(value, int):
                raise NarrationError(f"{value!r} is not a number: a word spec needs one")
            return f"{value} {plural(value, format_spec)}"
        return str(super().format_field(value, format_spec))


_FORMATTER = _Formatter()


def plural(count: int, spec: str) -> str:
    """``plural(1, "write")`` → "write"; ``plural(2, "entry|entries")`` → "entries"."""
    one, bar, many = spec.partition("|")
    if count == 1:
        return one
    if bar:
        return many
    head, _, word = one.rpartition(" ")
    if word.endswith(("s", "x", "ch", "sh")):
        word += "es"
    elif word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        word = word[:-1] + "ies"
    else:
        word += "s"
    return f"{head} {word}" if head else word


def fill(template: str, values: dict[str, Any], totals: dict[str, int]) -> str:
    """The narration with every placeholder replaced by its measured value."""
    return _FORMATTER.vformat(template, (), {**values, "total": SimpleNamespace(**totals)})


def check(template: str) -> None:
    """Raise :class:`NarrationError` unless ``template`` names only known values and
    fills with sample values."""
    try:
        fields = [f for _, f, _, _ in _FORMATTER.parse(template) if f is not None]
    except ValueError as exc:  # a lone { or }
        raise NarrationError(f"narration: {exc} (write {{{{ or }}}} for a literal brace)") from None
    for field in fields:
        head, dot, rest = field.partition(".")
        if not field or field.isdigit():
            raise NarrationError("narration: a placeholder needs a name, like {db_writes}")
        if head == "by_policy":
            policy, _, name = rest.partition(".")
            if policy not in POLICY_NAMES or name not in BY_POLICY:
                raise NarrationError(
                    f"narration: unknown placeholder {{{field}}}: by_policy.POLICY.NAME "
                    f"takes a POLICY of {', '.join(POLICY_NAMES)} and a NAME of "
                    + ", ".join(BY_POLICY)
                )
        elif head == "total" and dot:
            if rest not in METRICS:
                raise NarrationError(
                    f"narration: unknown placeholder {{{field}}}: total. goes with one of "
                    + ", ".join(METRICS)
                )
        elif field not in METRICS and field not in VALUES:
            raise NarrationError(
                f"narration: unknown placeholder {{{field}}}; known: "
                + ", ".join([*METRICS, *VALUES])
                + ", total.<counter>, by_policy.<policy>.<name>"
            )
    samples: dict[str, Any] = {
        name: 2 if name in INT_VALUES else "x" for name in [*METRICS, *VALUES]
    }
    each = {name: 2 if name in ("reads", "updates") else "x" for name in BY_POLICY}
    samples["by_policy"] = SimpleNamespace(
        **{policy: SimpleNamespace(**each) for policy in POLICY_NAMES}
    )
    try:
        fill(template, samples, dict.fromkeys(METRICS, 2))
    except NarrationError as exc:
        raise NarrationError(f"narration: {exc}") from None
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        raise NarrationError(f"narration cannot be filled: {exc}") from None


def duration(seconds: float | None, timings: bool) -> str:
    """A latency as the narration says it (``timings=False``: hidden, for deterministic
    snapshots)."""
    if seconds is None:
        return "–"
    if not timings:
        return "…"  # timings hidden (deterministic snapshots)
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.1f} ms"
