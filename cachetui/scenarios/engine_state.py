"""The engine's state a scenario sets aside on entry and puts back: at its baseline,
before every replay, and on leaving (see :mod:`~cachetui.scenarios.runner`)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from cachetui.engine import CacheTuiError, Engine, Profile, WritePolicy
from cachetui.engine.metrics.counters import Counters
from cachetui.scenarios.distance import LinkState, apply_links

#: The fault knobs saved on entry and restored on leaving (those this engine has).
FAULT_NAMES = ("db_down", "db_latency", "db_error_rate", "cache_down")


@dataclass(slots=True)
class EngineState:
    """The engine's state when the scenario started, restored on leaving (the baseline
    is made from it)."""

    policy: WritePolicy
    faults: dict[str, Any]
    max_pending: int
    flush_interval: float
    cache: list[Profile]
    metrics: Counters
    queue: str = "memory://"
    links: LinkState = field(default_factory=dict)  # each link's RTT and partition


def saved_faults(engine: Engine) -> dict[str, Any]:
    """The fault knobs of :data:`FAULT_NAMES` that ``engine`` has, as they are now."""
    return {
        name: getattr(engine.faults, name) for name in FAULT_NAMES if hasattr(engine.faults, name)
    }


def apply_faults(engine: Engine, faults: dict[str, Any]) -> None:
    for name, value in faults.items():
        if getattr(engine.faults, name) != value:
            setattr(engine.faults, name, value)


async def restore_engine(
    engine: Engine,
    state: EngineState,
    *,
    rejecting: set[int],
    letters_kept: Collection[int],
    rows: Iterable[Profile],
) -> None:
    """Put ``engine`` in ``state``. The writes of the users in ``rejecting`` are accepted
    again (and the set emptied), pending writes land (or are dropped by a crash when the
    database does not take them), dead letters of users not in ``letters_kept`` are
    discarded and the database ``rows`` are written back as they are given."""
    engine.faults.clear()
    await apply_links(engine, state.links, partitions=False)  # before the flush
    for user in sorted(rejecting):  # before the flush: let the rows land
        with contextlib.suppress(CacheTuiError):
            await engine.accept_writes(user)
    rejecting.clear()
    if engine.pending_writes():
        try:  # let them land; the rows the scenario wrote are put back just below
            await engine.flush(timeout=engine.config.flush_timeout)
        except CacheTuiError:
            await engine.crash()
    for letter in engine.dead_letters():  # the scenario's; restore_rows keeps them
        if letter.user_id not in letters_kept:
            with contextlib.suppress(CacheTuiError):
                await engine.discard_dead_letter(letter.user_id)
    if engine.config.queue_url != state.queue:
        with contextlib.suppress(CacheTuiError):
            await engine.set_queue(state.queue)
    await engine.restore_rows(rows)
    await engine.reset_cache(state.cache)
    engine.set_max_pending(state.max_pending)
    engine.set_flush_interval(state.flush_interval)
    await engine.set_policy(state.policy)
    apply_faults(engine, state.faults)
    await apply_links(engine, state.links)
    engine.reset_metrics(start_from=state.metrics)
