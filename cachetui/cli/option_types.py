"""The ``type`` functions of the app's numeric and named options (argparse turns the
ArgumentTypeError they raise into one line, exit status 2): whole numbers in a range,
seconds, megabytes, a write policy, a theme."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cachetui.engine.config import WritePolicy
from cachetui.engine.digits import check_digits
from cachetui.engine.errors import CacheTuiError


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        check_digits(text, argparse.ArgumentTypeError)
        try:
            value = int(text)
        except ValueError:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            shown = f"{value:,}" if len(text) <= 40 else f"{text[:40]}… ({len(text)} digits)"
            raise argparse.ArgumentTypeError(
                f"expected a number from {minimum} to {maximum:,}, got {shown}"
            )
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def seconds_argument(text: str) -> float:
    check_digits(text, argparse.ArgumentTypeError)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text}")
    return value


#: ``--db-timeout``'s range (EngineConfig's ``db_timeout``).
DB_TIMEOUT_RANGE = (0.01, 3600.0)


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type``: seconds from ``low`` to ``high``."""

    def parse(text: str) -> float:
        value = seconds_argument(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g} seconds, got {text}")
        return value

    return parse


#: ``--db-timeout``'s type: seconds in DB_TIMEOUT_RANGE.
db_timeout_argument = seconds_between(*DB_TIMEOUT_RANGE)

#: ``--flush-timeout``'s range (EngineConfig's ``flush_timeout``): an hour at most, so
#: that a quit cannot wait on a dead database for ever.
FLUSH_TIMEOUT_RANGE = (0.01, 3600.0)
flush_timeout_argument = seconds_between(*FLUSH_TIMEOUT_RANGE)


def policy_argument(text: str) -> str:
    try:
        return WritePolicy.parse(text).value
    except CacheTuiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def theme_names() -> list[str]:
    """Textual's built-in themes (what ctrl+p → "Theme" offers)."""
    from textual.theme import BUILTIN_THEMES

    return sorted(BUILTIN_THEMES)


def theme_argument(text: str) -> str:
    names = theme_names()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"unknown theme {text!r}; choose one of: {', '.join(names)}"
        )
    return text


def megabytes_argument(text: str) -> int:
    """``--history-max MB``: bytes."""
    check_digits(text, argparse.ArgumentTypeError)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected megabytes, got {text!r}") from None
    if not 0.01 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected 0.01 to 1000000 megabytes, got {text}")
    return int(value * 1_000_000)
