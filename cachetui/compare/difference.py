"""The line that states the difference between the two sides, live: "write-behind: 84×
faster updates, 31× fewer DB transactions · 120 writes at risk"."""

from __future__ import annotations

from dataclasses import dataclass

from cachetui.engine import Engine, PaneSnapshot
from cachetui.engine.words import plural

#: Below this ratio two numbers are "about the same" and the line does not name a winner.
NOTABLE = 1.2


@dataclass(frozen=True, slots=True)
class SideNumbers:
    """One side over the metrics window (5 s): ``update_p50_us`` in µs (None: no update
    yet), DB ``transactions`` in the window, ``at_risk``: writes acknowledged and not in
    the database that a crash would lose (a memory queue's pending writes)."""

    label: str
    update_p50_us: float | None
    transactions: int
    pending: int
    at_risk: int
    lost: int


def side_numbers(label: str, engine: Engine, snapshot: PaneSnapshot) -> SideNumbers:
    """The side's numbers: its pending writes, those at risk and its lost writes as its
    ``snapshot`` (the one its half shows) has them; the latencies and transactions from
    the engine's 5 s window."""
    window = engine.metrics_window().current
    return SideNumbers(
        label=label,
        update_p50_us=window.update_p50_us,
        transactions=window.db_transactions,
        pending=snapshot.pending_count,
        at_risk=snapshot.writes_at_risk,
        lost=snapshot.metrics.lost_writes,
    )


def counted(count: int, noun: str) -> str:
    """``1 write``, ``120 writes``, ``1,200 writes``."""
    return f"{count:,} {plural(count, noun)}"


def times(ratio: float) -> str:
    """``84×``, ``2.5×``."""
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×".replace(".0×", "×")


def difference_line(a: SideNumbers, b: SideNumbers, *, timings: bool = True) -> str:
    """What sets the two sides apart now, in words; each claim names the side it favours.
    ``timings=False`` leaves latencies out (deterministic snapshots)."""
    claims: dict[str, list[str]] = {a.label: [], b.label: []}
    if timings and a.update_p50_us and b.update_p50_us:
        fast, slow = (a, b) if a.update_p50_us <= b.update_p50_us else (b, a)
        assert fast.update_p50_us and slow.update_p50_us
        ratio = slow.update_p50_us / fast.update_p50_us
        if ratio >= NOTABLE:
            claims[fast.label].append(f"{times(ratio)} faster updates")
    few, many = (a, b) if a.transactions <= b.transactions else (b, a)
    if many.transactions and many.transactions >= NOTABLE * max(few.transactions, 1):
        if few.transactions:
            claims[few.label].append(
                f"{times(many.transactions / few.transactions)} fewer DB transactions"
            )
        else:
            claims[few.label].append(f"no DB transactions (vs {many.transactions:,} in 5 s)")
    parts = [f"{label}: {', '.join(said)}" for label, said in claims.items() if said]
    risk = [s for s in (a, b) if s.at_risk]
    for side in risk:
        parts.append(f"{counted(side.at_risk, 'write')} at risk on {side.label}")
    for side in (a, b):
        if side.pending and not side.at_risk:
            parts.append(f"{side.pending:,} pending on {side.label} (durable queue)")
        if side.lost:
            parts.append(f"{counted(side.lost, 'write')} lost on {side.label}")
    if not parts:
        return "the same so far: press u (update), w (workload), o (outage) or c (crash)"
    return " · ".join(parts)
