"""Words that agree with a count, for every message that names one ("1 write",
"2 writes"): one rule instead of the same conditional written at each message."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """``one`` when ``count`` is 1, else ``many`` (by default ``one`` + "s"):
    ``plural(n, "write")``, ``plural(n, "entry", "entries")``,
    ``plural(n, "write stays", "writes stay")``."""
    if count == 1:
        return one
    return one + "s" if many is None else many
