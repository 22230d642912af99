"""The action language of scenario steps: one short line per action, e.g. ``update 7 x30``.

Parsing is pure (it touches no engine), so a scenario file is fully checked before it runs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from cachetui.engine.config import WritePolicy
from cachetui.engine.digits import digit_problem
from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.link.durations import parse_duration as parse_link_duration
from cachetui.engine.profile import validate_changes

MAX_USERS = 1000  # users one action may name (a range)
MAX_REPEAT = 1000  # the N of ``xN``
MAX_WAIT = 60.0  # seconds a ``wait`` may last
MAX_LATENCY = 10.0  # seconds of injected DB latency
MAX_WORKER_RATE = 5000  # updates a second a scenario's worker may make
DEFAULT_WORKER_RATE = 200
DEFAULT_LANDED_WAIT = 30.0  # seconds ``await-landed`` waits at most by default
_WORKER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")

#: verb → (arguments, what it does): the reference the docs and the errors quote.
VERBS: dict[str, tuple[str, str]] = {
    "policy": (
        "NAME",
        "switch the write policy (write-through, write-behind, write-around, no-cache)",
    ),
    "read": ("USERS [xN]", "read the users; several users at once, each N times in a row"),
    "update": ("USERS [xN] [field=value ...]", "update the users (default: a new bio)"),
    "external": ("USERS [field=value ...]", "another service writes the database directly"),
    "invalidate": ("USERS", "drop the users' cache entries"),
    "flush": ("", "write every pending write to the database, and wait for it"),
    "crash": ("", "the process crashes: the cache and the write queue vanish"),
    "db-down": ("on|off", "database outage: every database call fails"),
    "cache-down": ("on|off", "cache outage: the cache store is unreachable, reads go to the DB"),
    "latency": ("DURATION", "added to every database call, e.g. 20ms (0: none)"),
    "db-rtt": (
        "DURATION",
        "the database this far away, e.g. 2ms: the link's RTT when a link is in front of "
        "the database server (--db-rtt), else the latency fault on every database call",
    ),
    "error-rate": ("RATE", "share of database calls that fail, e.g. 10% or 0.1"),
    "faults": ("off", "clear every injected fault"),
    "max-pending": ("N", "bound of the write-behind queue for this scenario"),
    "wait": ("DURATION", f"pause, e.g. 500ms or 2s (at most {MAX_WAIT:g}s)"),
    "follow": ("USER", "follow the user in all three panes; narration's {user}"),
    "reject-writes": (
        "USERS",
        "the database rejects every write of the users (a real trigger): a poison row",
    ),
    "accept-writes": ("USERS", "the database accepts the users' writes again"),
    "retry": ("[USERS]", "put the users' dead letters (all, without USERS) back in the queue"),
    "discard": ("USERS", "discard the users' dead letters (their updates are dropped)"),
    "queue": (
        "memory|outbox",
        "where write-behind's queue lives: in the process (lost on a crash) or a durable "
        "outbox file beside the database (pending writes land first)",
    ),
    "worker": (
        "NAME [RATE]",
        "start a `cachetui worker` process named NAME on this database and fleet queue "
        f"(write-behind, RATE updates a second, default {DEFAULT_WORKER_RATE}); needs "
        "--queue redis://…",
    ),
    "kill-worker": ("NAME", "SIGKILL the worker NAME mid-flight: its pending writes stay"),
    "await-landed": (
        "[DURATION]",
        "wait until every write a killed worker acknowledged has landed, at most DURATION "
        f"(default {DEFAULT_LANDED_WAIT:g}s)",
    ),
}
#: The ``queue`` action's places → queue URLs.
QUEUES = {"memory": "memory://", "outbox": "sqlite://"}
ALIASES = {
    "outage": "db-down",
    "external-write": "external",
    "sleep": "wait",
    "reject": "reject-writes",
    "accept": "accept-writes",
}
_USER_VERBS = (
    "read",
    "update",
    "external",
    "invalidate",
    "reject-writes",
    "accept-writes",
    "discard",
)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$")


class ActionError(ValueError):
    """An action line that does not parse; the message says why."""


@dataclass(frozen=True, slots=True)
class Action:
    """One parsed action. ``text`` is the line as written."""

    verb: str
    text: str
    users: tuple[int, ...] = ()
    repeat: int = 1
    changes: tuple[tuple[str, Any], ...] = ()
    value: Any = None

    @property
    def change_dict(self) -> dict[str, Any]:
        return dict(self.changes)


def parse_action(text: str) -> Action:
    """Parse one action line; raise :class:`ActionError` with a clear message."""
    if not isinstance(text, str):
        raise ActionError(f'an action must be text like "read 7", got {type(text).__name__}')
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ActionError(f"cannot split {text!r} into words: {exc}") from None
    if not tokens:
        raise ActionError("empty action")
    word = tokens[0].lower()
    verb = ALIASES.get(word, word)
    args = tokens[1:]
    if verb not in VERBS:
        raise ActionError(f"unknown action {tokens[0]!r}: use one of {', '.join(VERBS)}")
    try:
        if verb in _USER_VERBS:
            return _parse_user_action(verb, text, args)
        return _parse_other(verb, text, args)
    except ActionError as exc:
        usage = f"{verb} {VERBS[verb][0]}".strip()
        raise ActionError(f"{exc} (usage: {usage})") from None


def _parse_user_action(verb: str, text: str, args: list[str]) -> Action:
    if not args:
        raise ActionError(f"{verb} needs users, e.g. 7, 1-20 or 1,4,9")
    users = parse_users(args[0])
    repeat = 1
    changes: dict[str, Any] = {}
    for arg in args[1:]:
        if re.fullmatch(r"[xX×]\d+", arg):
            _digits_only(arg)
            if verb not in ("read", "update"):
                raise ActionError(f"{verb} cannot repeat ({arg!r})")
            repeat = int(arg[1:])
            if not 1 <= repeat <= MAX_REPEAT:
                raise ActionError(f"repeat count must be 1–{MAX_REPEAT}, got {repeat}")
        elif "=" in arg:
            if verb not in ("update", "external"):
                raise ActionError(f"{verb} takes no field=value ({arg!r})")
            field, _, value = arg.partition("=")
            if field == "followers":
                _digits_only(value)
            changes[field] = int(value) if field == "followers" and _is_int(value) else value
        else:
            raise ActionError(f"unexpected {arg!r}")
    if changes:
        try:
            changes = validate_changes(changes)
        except ValidationError as exc:
            raise ActionError(str(exc)) from None
    return Action(verb, text, users=users, repeat=repeat, changes=tuple(changes.items()))


def _parse_other(verb: str, text: str, args: list[str]) -> Action:
    if verb == "retry":  # every dead letter, or the users'
        if len(args) > 1:
            raise ActionError(f"retry takes at most one argument (users), got {len(args)}")
        return Action(verb, text, users=parse_users(args[0]) if args else ())
    if verb in ("flush", "crash"):
        _count(verb, args, 0)
        return Action(verb, text)
    if verb in ("worker", "kill-worker", "await-landed"):
        return _parse_fleet(verb, text, args)
    _count(verb, args, 1)
    arg = args[0]
    if verb == "policy":
        try:
            return Action(verb, text, value=WritePolicy.parse(arg))
        except ValidationError as exc:
            raise ActionError(str(exc)) from None
    if verb in ("db-down", "cache-down"):
        if arg.lower() not in ("on", "off"):
            raise ActionError(f"{verb} takes on or off, got {arg!r}")
        return Action(verb, text, value=arg.lower() == "on")
    if verb == "faults":
        if arg.lower() != "off":
            raise ActionError(f"faults takes only off, got {arg!r}")
        return Action(verb, text)
    if verb in ("latency", "wait"):
        seconds = parse_duration(arg)
        limit = MAX_WAIT if verb == "wait" else MAX_LATENCY
        if seconds > limit:
            raise ActionError(f"{verb} must be at most {limit:g}s, got {arg}")
        return Action(verb, text, value=seconds)
    if verb == "db-rtt":
        try:
            return Action(verb, text, value=parse_link_duration(arg, what="db-rtt"))
        except ValidationError as exc:
            raise ActionError(str(exc)) from None
    if verb == "error-rate":
        return Action(verb, text, value=_parse_rate(arg))
    if verb == "queue":
        if arg.lower() not in QUEUES:
            raise ActionError(f"queue takes memory or outbox, got {arg!r}")
        return Action(verb, text, value=QUEUES[arg.lower()])
    if verb == "max-pending":
        _digits_only(arg)
        if not _is_int(arg) or int(arg) < 1:
            raise ActionError(f"max-pending needs a whole number >= 1, got {arg!r}")
        return Action(verb, text, value=int(arg))
    # follow
    users = parse_users(arg)
    if len(users) != 1:
        raise ActionError(f"follow takes one user, got {arg!r}")
    return Action(verb, text, users=users)


def _parse_fleet(verb: str, text: str, args: list[str]) -> Action:
    """``worker NAME [RATE]``, ``kill-worker NAME``, ``await-landed [DURATION]``."""
    if verb == "await-landed":
        if len(args) > 1:
            raise ActionError(f"await-landed takes at most one argument, got {len(args)}")
        seconds = parse_duration(args[0]) if args else DEFAULT_LANDED_WAIT
        if seconds > MAX_WAIT:
            raise ActionError(f"await-landed must be at most {MAX_WAIT:g}s, got {args[0]}")
        return Action(verb, text, value=seconds)
    if not 1 <= len(args) <= (2 if verb == "worker" else 1):
        raise ActionError(f"{verb} takes {VERBS[verb][0]}, got {len(args)} arguments")
    name = args[0]
    if not _WORKER_NAME.fullmatch(name):
        raise ActionError(
            f"a worker's name is a letter, then letters, digits, - or _ (at most 32), got {name!r}"
        )
    if verb == "kill-worker":
        return Action(verb, text, value=name)
    rate = DEFAULT_WORKER_RATE
    if len(args) == 2:
        _digits_only(args[1])
        if not _is_int(args[1]) or not 1 <= int(args[1]) <= MAX_WORKER_RATE:
            raise ActionError(
                f"a worker's rate is 1 to {MAX_WORKER_RATE:,} updates a second, got {args[1]!r}"
            )
        rate = int(args[1])
    return Action(verb, text, value=(name, rate))


def _count(verb: str, args: list[str], wanted: int) -> None:
    if len(args) != wanted:
        what = "no argument" if wanted == 0 else "one argument"
        raise ActionError(f"{verb} takes {what}, got {len(args)}")


def parse_users(text: str) -> tuple[int, ...]:
    """``7``, ``1-20`` or ``1,4,9`` (and mixes: ``1-3,9``) → user ids, in order, unique."""
    _digits_only(text)
    users: dict[int, None] = {}
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not _is_int(low) or (dash and not _is_int(high)):
            raise ActionError(f"not a user, range or list of users: {text!r}")
        first, last = int(low), int(high) if dash else int(low)
        if first < 1 or last < first:
            raise ActionError(f"users are numbered from 1 and ranges go up: {text!r}")
        if last - first + 1 + len(users) > MAX_USERS:
            raise ActionError(f"at most {MAX_USERS} users per action: {text!r}")
        users.update(dict.fromkeys(range(first, last + 1)))
    return tuple(users)


def parse_duration(text: str) -> float:
    """``20ms``, ``1.5s``, ``2`` (seconds) → seconds."""
    _digits_only(text)
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ActionError(f"not a duration (like 20ms or 2s): {text!r}")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def _parse_rate(text: str) -> float:
    _digits_only(text)
    try:
        rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ActionError(f"not a rate (like 10% or 0.1): {text!r}") from None
    if not 0 <= rate <= 1:
        raise ActionError(f"a rate is between 0 and 1 (0% and 100%), got {text}")
    return rate


def _digits_only(text: str) -> None:
    """ActionError when a number holds a digit other than 0–9 (the one rule: digits)."""
    if problem := digit_problem(text):
        raise ActionError(problem)


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()
