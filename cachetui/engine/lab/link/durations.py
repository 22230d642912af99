"""Durations as the link's flags take them: ``300us``, ``2ms``, ``0.5s``, ``1s``.

A number (digits, an optional decimal point) and a unit, ``us`` (or ``µs``), ``ms`` or
``s``; a bare number is refused (milliseconds or seconds?), as are negative numbers,
exponents, ``nan`` and anything above :data:`MAX_DURATION`. Every problem is one
:class:`~cachetui.engine.errors.ValidationError` line naming the text and the forms.
"""

from __future__ import annotations

import math
import re

from cachetui.engine.digits import digit_problem
from cachetui.engine.errors import ValidationError

#: The longest duration a link takes (an RTT or a jitter): 10 s.
MAX_DURATION = 10.0
#: The forms, for help texts and error messages.
DURATION_FORMS = "a number and a unit: 300us, 2ms, 0.5s"

_UNITS = {"us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0}
_PATTERN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|μs|ms|s)", re.IGNORECASE)


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds from ``text`` (``"300us"`` → 0.0003); ValidationError (one line, with
    ``what`` in it: ``"--db-rtt"``, ``"rtt"``) for anything else, or above 10 s."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    if problem := digit_problem(text):
        raise ValidationError(f"{what}: {problem}", field=what)
    match = _PATTERN.fullmatch(text.strip())
    if match is None and text.strip().startswith("-"):
        raise ValidationError(
            f"{what}: a duration is never negative, got {shown!r} ({DURATION_FORMS})", field=what
        )
    if match is None:
        number = text.strip()
        hint = ""
        if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", number):
            hint = f" (give a unit: {number}ms or {number}s)"
        raise ValidationError(f"{what}: expected {DURATION_FORMS}, got {shown!r}{hint}", field=what)
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not math.isfinite(value) or value > MAX_DURATION:
        raise ValidationError(
            f"{what}: at most {format_duration(MAX_DURATION)}, got {shown!r}", field=what
        )
    return value


def format_duration(seconds: float) -> str:
    """``0.0003`` → ``"300us"``, ``0.002`` → ``"2ms"``, ``1.5`` → ``"1.5s"``: the shortest
    unit that keeps the number at least 1 (three significant digits at most)."""
    if seconds == 0:
        return "0ms"
    unit, scale = next(
        ((unit, scale) for unit, scale in (("s", 1.0), ("ms", 1e-3)) if seconds >= scale),
        ("us", 1e-6),
    )
    number = seconds / scale
    text = f"{number:.3g}" if number < 1000 else f"{number:.0f}"
    return f"{text}{unit}"


def check_seconds(value: object, *, what: str) -> float:
    """``value`` as seconds when it is a number from 0 to 10 (a bool is not one); else
    ValidationError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be seconds (a number), got {value!r}", field=what)
    if not (math.isfinite(value) and 0 <= value <= MAX_DURATION):
        raise ValidationError(
            f"{what} must be 0 to {format_duration(MAX_DURATION)}, got {value!r}", field=what
        )
    return float(value)
