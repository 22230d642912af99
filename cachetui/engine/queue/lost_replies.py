"""The write-behind batches whose commit reply was lost, so that what they landed is
counted once.

A batch whose reply a partition loses (``OutcomeUnknown``: it may have committed) stays
queued; its retry's guarded write finds the rows that did land by their write ids
(``RowLanded``) and does not write them again. Those rows and their transaction were
not counted when sent (the call failed), nor are replays of another run's writes: the
rows found landed that this engine sent in a lost batch are counted at the retry, each
row once and each lost batch's transaction once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cachetui.engine.profile import Profile

#: Write ids remembered at most (a write coalesced into a newer one never comes back).
KEPT = 100_000


class LostReplies:
    """The write ids of the batches sent whose outcome is unknown, and which batch."""

    def __init__(self) -> None:
        self._batch_of: dict[str, int] = {}
        self._batches = itertools.count()

    def lost(self, profiles: Iterable[Profile]) -> None:
        """A batch of ``profiles`` was sent and its reply lost: it may have landed."""
        if len(self._batch_of) > KEPT:
            self._batch_of.clear()
        batch = next(self._batches)
        for profile in profiles:
            if profile.write_id is not None:
                self._batch_of[profile.write_id] = batch

    def landed(self, found: Iterable[Profile], sent: Iterable[Profile]) -> tuple[int, int]:
        """A retry wrote ``sent``; ``found`` of them had landed already (by write id).
        Returns (rows, transactions) of ``found`` that a lost batch of this engine landed,
        and forgets every write id of ``sent``."""
        batches = [self._batch_of.get(p.write_id or "") for p in found]
        mine = [b for b in batches if b is not None]
        for profile in sent:
            self._batch_of.pop(profile.write_id or "", None)
        return len(mine), len(set(mine))
