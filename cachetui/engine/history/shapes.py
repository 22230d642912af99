"""What a history record may hold (docs/verdicts.md, "Record format"), field by field:
each record read as the checker keeps it, or refused with a HistoryFormatError saying
which field held what. A record the checker cannot judge truly (a user that is a
string, a version that is not a number, a pending list that is a string, a time no
clock gives) is refused here, never judged wrongly or crashed on later.

The checker's fast path (:meth:`.checker.Checker.feed_batch`) checks the common shape
inline; anything else comes here, which says what is wrong or reads the odd shapes a
file may hold all the same (times as floats, no ``op_id``, fields it does not know)."""

from __future__ import annotations

from typing import Any

from cachetui.engine.history.facts import Epoch, Final, Landing
from cachetui.engine.history.records import FORMAT, OK, OPERATIONS, OUTCOMES, UPDATE

#: A time is an integer (ns of ``time.monotonic_ns()``: never negative) or a float of
#: one, below 2**63.
TIME_LIMIT = 2**63
#: The longest value a message shows (a field may hold a megabyte).
SHOWN = 40


class HistoryFormatError(ValueError):
    """A record the checker cannot read (its message says which field; ``src``, where
    it came from, when :meth:`.checker.Checker.feed_batch` raised it)."""

    src = 0


def shown(value: Any) -> str:
    """A field's value for a message: its JSON type's name and its repr, cut short."""
    text = repr(value)
    if len(text) > SHOWN:
        text = text[: SHOWN - 1] + "…"
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    return kind if value is None else f"{kind} {text}"


def named(value: Any) -> str:
    """A name read from a file: its repr (cut short) when a string, else :func:`shown`."""
    if type(value) is str:
        text = repr(value)
        return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
    return repr(value) if type(value) is int else shown(value)


def _bad(kind: str, name: str, value: Any, expected: str) -> HistoryFormatError:
    article = "an" if kind[0] in "aeiou" else "a"
    return HistoryFormatError(f"{article} {kind} whose {name} is {shown(value)}: {expected}")


def field(r: dict[str, Any], kind: str, name: str) -> Any:
    try:
        return r[name]
    except KeyError:
        article = "an" if kind[0] in "aeiou" else "a"
        raise HistoryFormatError(f"{article} {kind} without {name!r}") from None


def time_of(r: dict[str, Any], kind: str, name: str) -> int:
    value = field(r, kind, name)
    if (type(value) is int or type(value) is float) and 0 <= value < TIME_LIMIT:
        return int(value)  # (NaN is not between: orjson reads none, but a dict may hold one)
    raise _bad(kind, name, value, "expected a time (nanoseconds, 0 to 2**63)")


def integer(r: dict[str, Any], kind: str, name: str, *, null: bool = False) -> Any:
    value = field(r, kind, name)
    if type(value) is int or (null and value is None):
        return value
    raise _bad(kind, name, value, "expected an integer" + (" or null" if null else ""))


def text(r: dict[str, Any], kind: str, name: str, *, null: bool = False) -> Any:
    value = field(r, kind, name)
    if type(value) is str or (null and value is None):
        return value
    raise _bad(kind, name, value, "expected a string" + (" or null" if null else ""))


def op_fields(r: dict[str, Any]) -> tuple[Any, ...]:
    """An ``op`` record's fields in the order of :class:`~.facts.Op`'s first ten, and
    its op id (0 when it has none)."""
    kind = "op"
    op = field(r, kind, "op")
    if type(op) is not str or op not in OPERATIONS:
        raise HistoryFormatError(f"unknown operation {named(op)}")
    outcome = field(r, kind, "outcome")
    if type(outcome) is not str or outcome not in OUTCOMES:
        raise HistoryFormatError(f"unknown outcome {named(outcome)}")
    invoke = time_of(r, kind, "invoke_ns")
    complete = time_of(r, kind, "complete_ns")
    if complete < invoke:
        raise HistoryFormatError(
            f"an op that completes before it began (invoke_ns {invoke}, complete_ns {complete})"
        )
    version = integer(r, kind, "version", null=True)
    if version is None and op == UPDATE and outcome == OK:
        raise HistoryFormatError("an update acknowledged (ok) without the version it wrote")
    op_id = r.get("op_id", 0)
    if type(op_id) is not int:
        raise _bad(kind, "op_id", op_id, "expected an integer")
    return (
        invoke,
        complete,
        text(r, kind, "caller"),
        op,
        integer(r, kind, "user"),
        text(r, kind, "write_id", null=True),
        version,
        outcome,
        text(r, kind, "policy"),
        text(r, kind, "queue"),
        op_id,
    )


def landing(r: dict[str, Any], instance: str, src: int) -> Landing:
    kind = "landing"
    return Landing(
        time_of(r, kind, "ns"),
        text(r, kind, "write_id", null=True),
        integer(r, kind, "user"),
        integer(r, kind, "version"),
        integer(r, kind, "tx", null=True),
        instance,
        src,
    )


def final(r: dict[str, Any], src: int) -> Final:
    kind = "final"
    pending = field(r, kind, "pending")
    if type(pending) is not list or any(p is not None and type(p) is not str for p in pending):
        raise _bad(kind, "pending", pending, "expected a list of write ids")
    cache = field(r, kind, "cache")
    if cache is not None:
        if type(cache) is not dict:
            raise _bad(kind, "cache", cache, "expected an object or null")
        cache = (integer(cache, "final's cache", "version"),
                 text(cache, "final's cache", "write_id", null=True))  # fmt: skip
    return Final(
        time_of(r, kind, "ns"),
        integer(r, kind, "user"),
        integer(r, kind, "db_version", null=True),
        text(r, kind, "db_write_id", null=True),
        tuple(pending),
        text(r, kind, "parked", null=True),
        cache,
        text(r, kind, "policy"),
        src,
    )


def epoch(r: dict[str, Any], instance: str, src: int) -> Epoch:
    kind = "epoch"
    return Epoch(
        time_of(r, kind, "ns"),
        integer(r, kind, "epoch"),
        text(r, kind, "reason"),
        instance,
        src,
    )


def queue(r: dict[str, Any]) -> None:
    time_of(r, "queue", "ns")
    text(r, "queue", "queue")


#: A header's fields, when present: what each holds.
_HEADER_TEXT = ("host", "boot_id", "instance", "policy", "queue")


def header(r: dict[str, Any]) -> str:
    """A header's instance ("" when it names none), once its fields are as written."""
    kind = "header"
    if "format" in r and (type(r["format"]) is not int or r["format"] != FORMAT):
        raise HistoryFormatError(
            f"a header of format {named(r['format'])}: this cachetui reads format {FORMAT}"
        )
    for name in _HEADER_TEXT:
        if name in r:
            text(r, kind, name)
    for name in ("pid", "mono_anchor_ns"):
        if name in r:
            integer(r, kind, name)
    if "wall_anchor" in r and type(r["wall_anchor"]) not in (int, float):
        raise _bad(kind, "wall_anchor", r["wall_anchor"], "expected a number")
    if "run" in r:
        text(r, kind, "run", null=True)
    if "rotated" in r and type(r["rotated"]) is not bool:
        raise _bad(kind, "rotated", r["rotated"], "expected true or false")
    return str(r.get("instance", ""))
