"""The write-behind queue: one pending write per user, coalesced, bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cachetui.engine.profile import Profile


class _Pending:
    __slots__ = ("profile", "first_queued", "coalesced", "retries", "in_flight", "requeued_at")

    def __init__(self, profile: Profile, now: float) -> None:
        self.profile = profile
        self.first_queued = now  # when the oldest write not yet in the DB was queued
        self.coalesced = 0  # updates absorbed into this pending write
        self.retries = 0  # failed attempts to write it
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


class WriteQueue:
    """Pending writes keyed by user, oldest first. ``max_pending`` bounds the number of
    users with a pending write; a new user waits in :meth:`wait_for_room` (backpressure)."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._entries: dict[int, _Pending] = {}
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._entries

    def user_ids(self) -> set[int]:
        return set(self._entries)

    def get(self, user_id: int) -> Profile | None:
        entry = self._entries.get(user_id)
        return None if entry is None else entry.profile

    def resize(self, max_pending: int) -> None:
        """Change the bound; callers waiting for room re-check at once."""
        self.max_pending = max_pending
        self._room.set()

    def has_room_for(self, user_id: int) -> bool:
        return user_id in self._entries or len(self._entries) < self.max_pending

    async def wait_for_room(self, user_id: int) -> None:
        while not self.has_room_for(user_id):
            self._room.clear()
            await self._room.wait()

    def put(self, profile: Profile, now: float) -> bool:
        """Queue the newest value of a user; True when it coalesced into a pending write."""
        entry = self._entries.get(profile.user_id)
        if entry is None:
            self._entries[profile.user_id] = _Pending(profile, now)
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
        for entry in self._entries.values():
            if len(profiles) == size:
                break
            if entry.in_flight:
                continue
            entry.in_flight = True
            profiles.append(entry.profile)
            queued_at.append(entry.first_queued)
        return Batch(profiles, queued_at)

    def landed(self, batch: Batch) -> None:
        """The batch committed: drop the writes it carried, keep newer ones queued."""
        for profile in batch.profiles:
            entry = self._entries.get(profile.user_id)
            if entry is None:
                continue
            if entry.profile.version == profile.version:
                del self._entries[profile.user_id]
            else:
                entry.in_flight = False
                entry.coalesced = 0
                entry.retries = 0
                entry.first_queued = entry.requeued_at or entry.first_queued
                entry.requeued_at = None
        if len(self._entries) < self.max_pending:
            self._room.set()

    def failed(self, batch: Batch) -> int:
        """The batch did not commit: its writes stay queued. Returns how many newer
        writes, queued while the batch was in flight, now coalesce with them."""
        coalesced = 0
        for profile in batch.profiles:
            entry = self._entries.get(profile.user_id)
            if entry is not None:
                entry.in_flight = False
                entry.retries += 1
                if entry.requeued_at is not None:
                    entry.requeued_at = None
                    entry.coalesced += 1
                    coalesced += 1
        return coalesced

    def clear(self) -> list[Profile]:
        """Drop everything (a crash); returns the newest pending value of each user."""
        lost = [entry.profile for entry in self._entries.values()]
        self._entries.clear()
        self._room.set()
        return lost

    def oldest_age(self, now: float) -> float:
        """How long the oldest write not yet in the database has waited."""
        if not self._entries:
            return 0.0
        return now - min(entry.first_queued for entry in self._entries.values())

    def snapshot(self, now: float) -> list[PendingWrite]:
        return [
            PendingWrite(
                profile=e.profile,
                coalesced=e.coalesced,
                age=now - e.first_queued,
                retries=e.retries,
                in_flight=e.in_flight,
            )
            for e in self._entries.values()
        ]
