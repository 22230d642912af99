"""The write-behind queue: one pending write per user, coalesced, bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cachetui.engine.profile import Profile


class _Pending:
    __slots__ = (
        "profile",
        "base_version",
        "first_queued",
        "coalesced",
        "retries",
        "attempts",
        "first_failed_at",
        "error",
        "in_flight",
        "requeued_at",
    )

    def __init__(self, profile: Profile, now: float, base_version: int) -> None:
        self.profile = profile
        #: The database version the first write not yet landed was built on: the flush
        #: writes only where the row still has it (else: a conflict).
        self.base_version = base_version
        self.first_queued = now  # when the oldest write not yet in the DB was queued
        self.coalesced = 0  # updates absorbed into this pending write
        self.retries = 0  # failed attempts to write it
        self.attempts = 0  # attempts the database refused for this row alone
        self.first_failed_at = ""  # when it was first refused (UTC ISO 8601)
        self.error = ""  # SQLite's message of the last refusal
        self.in_flight = False  # part of a batch being written right now
        self.requeued_at: float | None = None  # a newer write arrived while in flight


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """What the Write queue pane shows of one pending write."""

    profile: Profile
    coalesced: int
    age: float
    retries: int
    in_flight: bool
    #: The database version this write was built on (the flush's version guard).
    base_version: int = 0
    #: Times the database refused this row (a dead letter after ``max_attempts``).
    attempts: int = 0
    #: SQLite's message of the last refusal ('' if none).
    error: str = ""

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    @property
    def version(self) -> int:
        return self.profile.version


@dataclass(frozen=True, slots=True)
class Batch:
    """Writes taken from the queue to land in one transaction."""

    profiles: list[Profile]
    queued_at: list[float]
    base_versions: list[int]


class WriteQueue:
    """Pending writes keyed by user, oldest first. ``max_pending`` bounds the number of
    users with a pending write; a new user waits in :meth:`wait_for_room` (backpressure)."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        #: The pending writes by user (read it, never change it, outside this class: the
        #: write-behind fast path looks in it without a call).
        self.entries: dict[int, _Pending] = {}
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.entries

    def user_ids(self) -> set[int]:
        return set(self.entries)

    def users_oldest_first(self) -> list[int]:
        """The users with a pending write, in the order batches take them."""
        return list(self.entries)

    def get(self, user_id: int) -> Profile | None:
        entry = self.entries.get(user_id)
        return None if entry is None else entry.profile

    def resize(self, max_pending: int) -> None:
        """Change the bound; callers waiting for room re-check at once."""
        self.max_pending = max_pending
        self._room.set()

    def has_room_for(self, user_id: int) -> bool:
        return user_id in self.entries or len(self.entries) < self.max_pending

    async def wait_for_room(self, user_id: int) -> None:
        while not self.has_room_for(user_id):
            self._room.clear()
            await self._room.wait()

    def put(self, profile: Profile, now: float, base_version: int | None = None) -> bool:
        """Queue the newest value of a user; True when it coalesced into a pending write.
        A new entry's base version is ``base_version`` (default: the version before
        ``profile``'s); a coalesced one keeps the base of its first write."""
        entry = self.entries.get(profile.user_id)
        if entry is None:
            base = profile.version - 1 if base_version is None else base_version
            self.entries[profile.user_id] = _Pending(profile, now, base)
            return False
        entry.profile = profile
        if entry.in_flight:
            # The batch in flight carries an older version; this one must land after it.
            if entry.requeued_at is None:
                entry.requeued_at = now
                return False
            entry.coalesced += 1  # absorbed into the write queued behind the flight
            return True
        entry.coalesced += 1
        return True

    def take_batch(self, size: int) -> Batch:
        """Up to ``size`` writes, oldest first, marked in flight."""
        profiles: list[Profile] = []
        queued_at: list[float] = []
        bases: list[int] = []
        for entry in self.entries.values():
            if len(profiles) == size:
                break
            if entry.in_flight:
                continue
            entry.in_flight = True
            profiles.append(entry.profile)
            queued_at.append(entry.first_queued)
            bases.append(entry.base_version)
        return Batch(profiles, queued_at, bases)

    def entry_of(self, user_id: int) -> _Pending | None:
        """The user's pending entry (for the flusher's bookkeeping), or None."""
        return self.entries.get(user_id)

    def remove(self, user_id: int) -> Profile | None:
        """Take the user's pending write out of the queue (parked or discarded)."""
        entry = self.entries.pop(user_id, None)
        if len(self.entries) < self.max_pending:
            self._room.set()
        return None if entry is None else entry.profile

    def rebase(self, user_id: int, profile: Profile, base_version: int) -> None:
        """Replace the pending write with ``profile`` built on ``base_version`` (a
        conflict resolved by overwriting)."""
        entry = self.entries.get(user_id)
        if entry is not None:
            entry.profile = profile
            entry.base_version = base_version

    def landed(self, batch: Batch | list[Profile]) -> None:
        """The batch (or these of its writes) committed: drop the writes it carried,
        keep newer ones queued."""
        for profile in batch.profiles if isinstance(batch, Batch) else batch:
            entry = self.entries.get(profile.user_id)
            if entry is None:
                continue
            if entry.profile.version == profile.version:
                del self.entries[profile.user_id]
            else:
                entry.base_version = profile.version  # the row now holds the landed one
                entry.attempts = 0
                entry.in_flight = False
                entry.coalesced = 0
                entry.retries = 0
                entry.first_queued = entry.requeued_at or entry.first_queued
                entry.requeued_at = None
        if len(self.entries) < self.max_pending:
            self._room.set()

    def failed(self, batch: Batch | list[Profile], *, retry: bool = True) -> int:
        """The batch (or these of its writes) did not land: they stay queued. Returns
        how many newer writes, queued while they were in flight, now coalesce with them.
        ``retry``: count a failed attempt."""
        coalesced = 0
        profiles = batch.profiles if isinstance(batch, Batch) else batch
        for profile in profiles:
            entry = self.entries.get(profile.user_id)
            if entry is not None:
                entry.in_flight = False
                entry.retries += retry
                if entry.requeued_at is not None:
                    entry.requeued_at = None
                    entry.coalesced += 1
                    coalesced += 1
        return coalesced

    def updates_by_user(self) -> dict[int, int]:
        """Acknowledged updates each pending write carries (1 + those coalesced)."""
        return {uid: 1 + e.coalesced for uid, e in self.entries.items()}

    def clear(self) -> list[Profile]:
        """Drop everything (a crash); returns the newest pending value of each user."""
        lost = [entry.profile for entry in self.entries.values()]
        self.entries.clear()
        self._room.set()
        return lost

    def oldest_age(self, now: float) -> float:
        """How long the oldest write not yet in the database has waited."""
        if not self.entries:
            return 0.0
        return now - min(entry.first_queued for entry in self.entries.values())

    def snapshot(self, now: float) -> list[PendingWrite]:
        return [
            PendingWrite(
                profile=e.profile,
                coalesced=e.coalesced,
                age=now - e.first_queued,
                retries=e.retries,
                in_flight=e.in_flight,
                base_version=e.base_version,
                attempts=e.attempts,
                error=e.error,
            )
            for e in self.entries.values()
        ]
