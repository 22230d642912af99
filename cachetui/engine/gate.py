"""The gate that updates wait at while the engine drains (leaving write-behind, closing)."""

from __future__ import annotations

import asyncio


class Gate(asyncio.Event):
    """An :class:`asyncio.Event` whose state is also the attribute ``open`` (the hot
    paths' test, without a call)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = False

    def set(self) -> None:
        self.open = True
        super().set()

    def clear(self) -> None:
        self.open = False
        super().clear()
