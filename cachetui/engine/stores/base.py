"""The interface every cache store implements (in-process and Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cachetui.engine.profile import Profile

#: Called by a store when it drops an entry on its own: (user_id, profile, reason),
#: reason being "evict" (capacity), "expire" (TTL), "invalid" (a value that is not a
#: profile, e.g. written by hand) or "gone" (deleted behind the store's back); profile
#: is None when the store no longer has the value.
DropListener = Callable[[int, Profile | None, str], None]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What the Cache pane shows of one cached profile."""

    profile: Profile
    hits: int
    age: float  # seconds since the value was stored
    ttl_left: float | None  # seconds until it expires; None without a TTL


class CacheStore(ABC):
    """A bounded key → Profile store with eviction and optional TTL.

    ``local`` stores answer ``get_nowait`` without I/O; the engine uses it to keep
    the hit path free of awaits that suspend.
    """

    local: bool = False
    #: What the header shows, never with a password.
    description: str = ""
    #: Whether a simulated process crash empties this store (an in-process store
    #: dies with the process; an external one keeps its contents).
    lost_on_crash: bool = True

    def __init__(self) -> None:
        self._on_drop: DropListener | None = None

    def set_drop_listener(self, listener: DropListener | None) -> None:
        self._on_drop = listener

    # Local stores implement these three without I/O.
    def get_nowait(self, user_id: int) -> Profile | None:
        raise NotImplementedError(f"{type(self).__name__} is not a local store")

    def set_nowait(self, profile: Profile) -> None:
        raise NotImplementedError(f"{type(self).__name__} is not a local store")

    def delete_nowait(self, user_id: int) -> bool:
        raise NotImplementedError(f"{type(self).__name__} is not a local store")

    @abstractmethod
    async def get(self, user_id: int) -> Profile | None: ...

    @abstractmethod
    async def set(self, profile: Profile, *, fill: bool = False) -> None:
        """Store ``profile``. ``fill``: a value read from the database or the queue to
        answer a miss (a store shared between processes keeps a newer one)."""

    @abstractmethod
    async def delete(self, user_id: int) -> bool:
        """Drop the entry; True if there was one."""

    @abstractmethod
    async def clear(self) -> None: ...

    @abstractmethod
    async def entries(self, limit: int | None = None) -> list[CacheEntry]:
        """Every live entry (expired ones are dropped first), for the panes; with
        ``limit``, only the ``limit`` most recently stored (youngest first)."""

    @abstractmethod
    async def size(self) -> int: ...

    async def delete_many(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            await self.delete(user_id)

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """The cached profiles of these users, without counting a use or a hit."""
        wanted = set(user_ids)
        return {
            e.profile.user_id: e.profile
            for e in await self.entries()
            if e.profile.user_id in wanted
        }

    async def ping(self) -> None:  # noqa: B027 - optional hook
        """Raise StoreUnavailable when the store cannot be reached."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; raise StoreUnavailable when the store cannot be reached."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
