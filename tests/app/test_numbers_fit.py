"""Numbers that stay on screen (issue 32, item 4): on a long run the totals column
("DB writes 87,221 in 17,864 tx") outgrew its room and the whole column (hit ratio,
reads, updates acked) vanished; now the totals that do not fit are abbreviated, and only
those."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from cachetui.app.widgets.metrics_strip import GAP, Rates, _numbers, choose_layout, compact
from cachetui.engine import Engine, EngineConfig


def shown(table, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(table)
    return " ".join(console.export_text().split())


def test_counts_in_few_cells():
    assert [compact(n) for n in (0, 9_999, 10_000, 17_864, 87_221, 1_234_567, 35_000_000)] == [
        "0",
        "9,999",
        "10k",
        "18k",
        "87k",
        "1.2M",
        "35M",
    ]


async def test_a_long_run_keeps_every_column_and_abbreviates_only_what_does_not_fit(tmp_path):
    async with Engine(EngineConfig(db_path=str(tmp_path / "p.db"))) as engine:
        base = engine.metrics
    _, columns, widths = choose_layout(0, 0)  # the richest layout, each column at its room
    width = sum(widths) + GAP * (len(columns) - 1)  # just wide enough for it
    short = dataclasses.replace(base, reads=1_234, updates=567, db_writes=890, db_transactions=12)
    text = shown(_numbers(short, Rates(), False, width=width, height=4), width)
    assert "DB writes 890 in 12 tx" in text and "reads 1,234" in text
    long = dataclasses.replace(
        base, reads=412_345, updates=99_812, db_writes=87_221, db_transactions=17_864
    )
    text = shown(_numbers(long, Rates(), False, width=width, height=4), width)
    for label in ("hit ratio", "reads", "updates acked", "lost writes", "DB tx/s", "retries"):
        assert label in text, text
    assert "DB writes 87k in 18k tx" in text
    assert "updates acked 99,812" in text  # it fits: left whole


def test_numbers_too_narrow_for_every_layout_leave_pairs_out_whole():
    """At 60×15 the numbers had 28 cells and two lines: the smallest layout (hit ratio and
    pending side by side, 32 cells) was cut and pending showed no number. Now they stack,
    and narrower still a pair is left out whole, never cut."""
    lines, columns, widths = choose_layout(28, 2)
    assert (lines, columns) == (2, (("hit ratio", "pending"),)) and sum(widths) <= 28
    lines, columns, widths = choose_layout(28, 1)  # one line: hit ratio alone
    assert (lines, columns) == (1, (("hit ratio",),)) and sum(widths) <= 28
