"""Per-key locks, created on demand and dropped when nobody holds or waits for them."""

from __future__ import annotations

import asyncio


class _KeyLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self.users = 0


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[int, _KeyLock] = {}

    async def acquire(self, key: int) -> None:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = _KeyLock()
        lock.users += 1
        try:
            await lock.acquire()
        except BaseException:
            self._forget(key, lock)
            raise

    def release(self, key: int) -> None:
        lock = self._locks[key]
        lock.release()
        self._forget(key, lock)

    def _forget(self, key: int, lock: _KeyLock) -> None:
        lock.users -= 1
        if lock.users == 0:
            del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)

    def __contains__(self, key: object) -> bool:
        """Whether someone holds or waits for this key's lock."""
        return key in self._locks
