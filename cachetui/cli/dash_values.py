"""Values that begin with a dash: ``--db-rtt -2ms`` must say that a duration is never
negative, not argparse's "expected one argument". argparse reads ``-2ms`` as an option
(only ``-2`` and ``-2.5`` count as numbers there), so every ``--FLAG -VALUE`` whose value
starts with a digit (``-2ms``, ``-1e3``, ``-.5s``) is handed over as ``--FLAG=-VALUE``:
the flag's own type then refuses it in one line naming the flag."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMBER_LIKE = re.compile(r"-\.?\d")


def attach_dash_values(argv: Sequence[str]) -> list[str]:
    """``argv`` with each ``--FLAG -VALUE`` (VALUE starting with a digit) as one
    ``--FLAG=-VALUE``; everything after ``--`` is left as it is."""
    out: list[str] = []
    for arg in argv:
        previous = out[-1] if out else ""
        if (
            _NUMBER_LIKE.match(arg)
            and previous.startswith("--")
            and previous != "--"
            and "=" not in previous
            and "--" not in out
        ):
            out[-1] = f"{previous}={arg}"
        else:
            out.append(arg)
    return out
