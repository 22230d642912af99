"""What the edit form (:class:`~cachetui.app.screens.edit.EditScreen`) is given in place
of an engine on the compare screen: reads and saves go to both sides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cachetui.compare.mirror import OpKind
from cachetui.engine import DeadLetter, Engine, PendingWrite, Profile

#: Issues one operation to both sides and answers with side A's profile (or its error).
Mirrored = Callable[[OpKind, int, dict[str, Any] | None], Awaitable[Profile]]


class EditTarget:
    """What the edit form needs of an engine, mirrored: its read loads the form through
    both sides; its save updates both and answers with side A's outcome."""

    def __init__(self, policy: str, mirrored: Mirrored, side_a: Engine) -> None:
        self._mirrored = mirrored
        self._side_a = side_a
        self.policy = policy

    async def read(self, user_id: int) -> Profile:
        return await self._mirrored("read", user_id, None)

    async def update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        return await self._mirrored("update", user_id, changes)

    # What the form loads without a read (no hit, no miss): side A's view of the user.
    def pending_writes(self) -> list[PendingWrite]:
        return self._side_a.pending_writes()

    def dead_letters(self) -> list[DeadLetter]:
        return self._side_a.dead_letters()

    async def cache_peek(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        return await self._side_a.cache_peek(user_ids)

    async def db_rows(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        return await self._side_a.db_rows(user_ids)
