"""What is pending, as the Write queue pane, the metrics and the pane snapshot count it:
the write queue, and with the fleet queue this instance's acknowledged writes that its
queue does not hold yet (sequenced in Redis, fed at the next tick)."""

from __future__ import annotations

from cachetui.engine.core import EngineCore
from cachetui.engine.queue.write_queue import PendingWrite


def pending_now(core: EngineCore, now: float) -> list[PendingWrite]:
    """The pending writes at ``now`` (a ``perf_counter()`` time), oldest first."""
    pending = core.queue.snapshot(now)
    fleet = core.fleet
    if fleet is None:
        return pending
    queued = {write.user_id: write.version for write in pending}
    unfed = [w for w in fleet.unfed(now) if w.version > queued.get(w.user_id, 0)]
    if not unfed:
        return pending
    mine = {write.user_id for write in unfed}
    kept = [write for write in pending if write.user_id not in mine]
    return sorted(kept + unfed, key=lambda write: -write.age)


def oldest_age(pending: list[PendingWrite]) -> float:
    """The age of the oldest pending write (0 when none)."""
    return max((write.age for write in pending), default=0.0)


def pending_count(core: EngineCore) -> int:
    """How many acknowledged writes are pending (a user's writes the fleet sequenced and
    this instance has not fed yet each count, until the feed coalesces them)."""
    fleet = core.fleet
    if fleet is None:
        return len(core.queue)
    entries = core.queue.entries
    unfed = 0
    for user_id, versions in fleet.unfed_versions.items():
        entry = entries.get(user_id)
        fed = 0 if entry is None else entry.profile.version
        unfed += sum(1 for version in versions if version > fed)
    return len(core.queue) + unfed
