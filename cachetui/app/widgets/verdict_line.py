"""The verdict line: each policy's verdict so far, in words, for the metrics strip's
title (``write-behind: 0 lost · 0 stale · RYW ✓``, ``write-around: 0 lost · 31 stale
(≤ 2 writes, ≤ 840 ms behind) · RYW ✓``). A policy with lost writes is never left out
for want of room: the others go first."""

from __future__ import annotations

from rich.text import Text

from cachetui.app.states import DARK, Palette
from cachetui.engine import PolicyVerdict, Verdicts
from cachetui.engine.words import plural

SEPARATOR = "  │  "


def policy_verdict(v: PolicyVerdict, palette: Palette = DARK) -> Text:
    """One policy's verdict: lost and stale always, the rest when broken."""
    bad = f"bold {palette.bad}"
    text = Text()
    text.append(f"{v.policy}: ", "bold")
    text.append(f"{v.lost:,} lost", bad if v.lost else "")
    text.append(" · ")
    text.append(f"{v.stale:,} stale", f"bold {palette.stale}" if v.stale else "")
    if v.stale:
        writes = plural(v.stale_writes, "write")
        text.append(f" (≤ {v.stale_writes:,} {writes}, ≤ {v.stale_ms:,.0f} ms behind)")
    text.append(" · RYW ")
    text.append(f"✗ {v.ryw:,}" if v.ryw else "✓", bad if v.ryw else palette.ok)
    if v.monotonic:
        text.append(" · monotonic ")
        text.append(f"✗ {v.monotonic:,}", bad)
    if v.version_down:
        text.append(" · ")
        text.append(f"{v.version_down:,} version down", bad)
    if v.double_apply:
        text.append(" · ")
        text.append(f"{v.double_apply:,} applied twice", bad)
    return text


def verdict_line(verdicts: Verdicts, current: str, width: int = 0, palette: Palette = DARK) -> Text:
    """Every policy that ran (a reset keeps it, at zero), the current one first, then
    those with lost writes; within ``width`` cells (0: no limit), dropping from the end the
    policies without lost writes ("+N more" says how many went)."""
    ran = [v for v in verdicts.policies.values() if v.policy and v.policy != "external"]
    ran.sort(key=lambda v: (v.policy != current, not v.lost))
    parts = [policy_verdict(v, palette) for v in ran]
    line = Text(SEPARATOR).join(parts)
    while width and line.cell_len > width and len(parts) > 1:
        droppable = [i for i, v in enumerate(ran) if not v.lost and i]
        if not droppable:
            break
        i = droppable[-1]
        del parts[i], ran[i]
        more = Text(f"{SEPARATOR}+{len(verdicts.policies) - len(parts)} more", "dim")
        line = Text(SEPARATOR).join(parts) + more
    return line
