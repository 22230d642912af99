"""What every bench table shares: progress goes to stderr (stdout keeps the rows), and a
latency is shown in µs."""

from __future__ import annotations

import sys
from typing import Any


def stderr_console() -> Any:
    """A Rich console on stderr (progress bars; stdout keeps the rows)."""
    from rich.console import Console

    return Console(file=sys.stderr)


def fmt_us(value: float | None) -> str:
    """A latency in µs for a table: ``1,234``, or ``–`` without a sample."""
    return "–" if value is None else f"{value:,.0f}"
