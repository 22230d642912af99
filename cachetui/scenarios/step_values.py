"""What a step's narration may say: the values measured while the step ran (each named
in :mod:`~cachetui.scenarios.narration`: ``METRICS`` and ``VALUES``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachetui.engine import Engine
from cachetui.engine.metrics.counters import LatencyHistogram, MetricsSnapshot
from cachetui.scenarios.distance import PolicyLatencies, distance
from cachetui.scenarios.fleet_workers import FleetWorkers, fleet_values
from cachetui.scenarios.narration import METRICS, duration


@dataclass(slots=True)
class StepLog:
    """What a step's calls met: how many failed (and the first error), the writes its
    crash lost (user, version), the pending writes a durable queue replayed."""

    failed: int = 0
    error: str = ""
    lost: list[tuple[int, int]] = field(default_factory=list)
    replayed: int = 0  # pending writes a durable queue replayed after a crash


async def step_values(
    engine: Engine,
    before: MetricsSnapshot,
    after: MetricsSnapshot,
    reads: LatencyHistogram,
    updates: LatencyHistogram,
    *,
    log: StepLog,
    waiting: int,
    flush_interval: float,
    follow: int | None,
    timings: bool,
    latencies: PolicyLatencies,
    fleet: FleetWorkers | None = None,
) -> dict[str, Any]:
    """The values of a step that ran from ``before`` to ``after`` (its ``reads`` and
    ``updates`` latencies, what its calls met in ``log``, ``waiting`` calls still waiting),
    with the followed user's (``follow``) and each policy's ``latencies`` since the
    baseline; ``timings=False``: durations hidden; ``fleet``: the workers the steps
    started, and what became of a killed one's writes."""
    config = engine.config
    values: dict[str, Any] = {
        name: getattr(after, name) - getattr(before, name) for name in METRICS
    }
    asked = values["hits"] + values["misses"]
    latency = engine.faults.db_latency
    lost = sorted(log.lost)
    values.update(
        hit_ratio=f"{values['hits'] / asked:.0%}" if asked else "no reads",
        read_ms=duration(reads.percentile(50), timings),
        update_ms=duration(updates.percentile(50), timings),
        failed=log.failed,
        error=log.error or "no error",
        lost=", ".join(f"user {u} v{v}" for u, v in lost) or "nothing",
        lost_count=len(lost),
        replayed=log.replayed,
        queue=Path(engine.queue_location).name if engine.queue_durable else "memory",
        waiting=max(0, waiting),
        pending=after.pending,
        max_pending=engine.max_pending,
        policy=engine.policy.value,
        latency=f"{latency * 1000:g} ms" if latency else "no added latency",
        flush_interval=f"{flush_interval:g} s",
        ttl=f"{config.ttl:g} s" if config.ttl else "no TTL",
        distance=distance(engine, timings),
        by_policy=latencies.values(timings),
    )
    letters = engine.dead_letters()
    values.update(
        dead_letters=len(letters),
        parked=", ".join(f"user {d.user_id} v{d.version} ({d.kind})" for d in letters) or "nothing",
    )
    values.update(await followed_values(engine, follow))
    values.update(fleet_values(fleet or FleetWorkers()))
    return values


async def followed_values(engine: Engine, user: int | None) -> dict[str, Any]:
    """The followed ``user``'s versions, cache entry and dead letter (None: nobody)."""
    letter = next((d for d in engine.dead_letters() if d.user_id == user), None)
    none = "nothing"
    letter_values = dict(
        letter_kind=letter.kind if letter else "no dead letter",
        letter_version=f"v{letter.version}" if letter else none,
        letter_base=f"v{letter.base_version}" if letter else none,
        letter_db=f"v{letter.db_version}" if letter and letter.db_version else none,
        letter_error=letter.error if letter else "no error",
    )
    if user is None:
        return dict(
            user="nobody",
            cache_version=none,
            queue_version=none,
            queue_base=none,
            db_version=none,
            expires="is not cached",
            **letter_values,
        )
    entry = next((e for e in await engine.cache_entries() if e.profile.user_id == user), None)
    queued = next((w for w in engine.pending_writes() if w.user_id == user), None)
    row = (await engine.db_rows([user])).get(user)
    if entry is None:
        expires = "is not cached"
    elif entry.ttl_left is None:
        expires = "never expires (no TTL)"
    else:
        expires = f"expires in {math.ceil(entry.ttl_left)} s (TTL)"
    return dict(
        user=user,
        cache_version=f"v{entry.profile.version}" if entry else "nothing",
        queue_version=f"v{queued.version}" if queued else "nothing",
        queue_base=f"v{queued.base_version}" if queued else "nothing",
        db_version=f"v{row.version}" if row else "nothing",
        expires=expires,
        **letter_values,
    )
