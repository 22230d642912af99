"""Per-key locks, created on demand and dropped when nobody holds or waits for them."""

from __future__ import annotations

import asyncio


class _KeyLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self.users = 0


class KeyLocks:
    def __init__(self) -> None:
        #: The keys someone holds or waits for (``key in locks.held``: the hot paths'
        #: test, without a call).
        self.held: dict[int, _KeyLock] = {}

    async def acquire(self, key: int) -> None:
        lock = self.held.get(key)
        if lock is None:
            lock = self.held[key] = _KeyLock()
        lock.users += 1
        try:
            await lock.acquire()
        except BaseException:
            self._forget(key, lock)
            raise

    def release(self, key: int) -> None:
        lock = self.held[key]
        lock.release()
        self._forget(key, lock)

    def _forget(self, key: int, lock: _KeyLock) -> None:
        lock.users -= 1
        if lock.users == 0:
            del self.held[key]

    def __len__(self) -> int:
        return len(self.held)

    def __contains__(self, key: object) -> bool:
        """Whether someone holds or waits for this key's lock."""
        return key in self.held
