"""Commits of unknown outcome, and how they are settled.

A write-through, write-around or no-cache commit whose reply is lost (a partition, a
connection reset, the server ending the session) may have landed or not: the caller's
update fails with :class:`~cachetui.engine.errors.OutcomeUnknown`, and its user's cache
entry is dropped. The commit stays *unsettled* until the engine has read the row's write
id once the session it was sent on is over (so it cannot land later): then it is
*settled* — landed (the row holds its write id) or not — narrated as an event and
counted (``unknown_outcomes``, ``settled_landed``, ``settled_not_landed``). That user's
reads and updates settle it first (they fail while the database does not answer), and
a background task keeps trying, with the flusher's backoff, until every one is settled.
(The write-behind flusher needs none of this: its retry of a batch whose reply was lost
finds the rows that landed by their write ids.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cachetui.engine.database.base import Database
from cachetui.engine.errors import DatabaseUnavailable, OutcomeUnknown
from cachetui.engine.events import EventKind
from cachetui.engine.metrics.counters import Counters
from cachetui.engine.profile import Profile

#: Settled commits kept for :meth:`CommitSettler.settled`.
SETTLED_KEPT = 100
Outcome = Literal["landed", "not landed", "overwritten"]
Emit = Callable[[int, EventKind, int | None, int | None, float | None, str], None]


@dataclass(frozen=True, slots=True)
class UnsettledCommit:
    """A commit whose reply was lost: the write it carried (``profile``, built on
    ``base_version``) and why (``reason``)."""

    profile: Profile
    base_version: int
    reason: str
    session: object = field(default=None, repr=False, compare=False)

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    @property
    def write_id(self) -> str | None:
        return self.profile.write_id


@dataclass(frozen=True, slots=True)
class SettledCommit:
    """How a commit of unknown outcome turned out: ``"landed"`` (the row holds its write
    id), ``"not landed"`` (the row is still at its base version, or gone) or
    ``"overwritten"`` (another writer changed the row since: whether this write landed
    before it is not known; the row does not hold it). ``row``: the row read to decide."""

    user_id: int
    write_id: str | None
    version: int
    outcome: Outcome
    row: Profile | None


class CommitSettler:
    """The engine's commits of unknown outcome (see the module's docstring)."""

    def __init__(
        self,
        db: Database,
        emit: Emit,
        counters: Callable[[], Counters],
        retry: tuple[float, float],
    ) -> None:
        self._db = db
        self._emit = emit
        self._counters = counters
        self._retry = retry
        #: Per user, the commit not settled yet.
        self.unsettled: dict[int, UnsettledCommit] = {}
        self.settled: deque[SettledCommit] = deque(maxlen=SETTLED_KEPT)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def lost(self, op: int, profile: Profile, base_version: int, exc: OutcomeUnknown) -> None:
        """The reply to ``profile``'s commit was lost (``exc``): unsettled until settled
        (the caller has dropped the user's cache entry)."""
        self.unsettled[profile.user_id] = UnsettledCommit(
            profile, base_version, str(exc), exc.session
        )
        self._counters().unknown_outcomes += 1
        self._emit(
            op,
            EventKind.INVALIDATE,
            profile.user_id,
            profile.version,
            None,
            f"write {profile.write_id}: outcome unknown (it may have landed): cache entry "
            f"dropped until it is settled by the row's write id ({exc})",
        )
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._keep_settling())

    async def settle(self, user_id: int) -> None:
        """Settle the user's commit of unknown outcome, if any; DatabaseUnavailable while
        the database does not answer (it stays unsettled)."""
        async with self._lock:
            commit = self.unsettled.get(user_id)
            if commit is not None:
                await asyncio.shield(self._settle(commit))

    async def _settle(self, commit: UnsettledCommit) -> None:
        await self._db.end_session(commit.session)  # the commit cannot land any more
        rows = await self._db.fetch_many([commit.user_id])
        row = rows.get(commit.user_id)
        profile = commit.profile
        outcome: Outcome
        if row is not None and row.write_id is not None and row.write_id == profile.write_id:
            outcome = "landed"
        elif row is None or row.version <= commit.base_version:
            outcome = "not landed"
        else:
            outcome = "overwritten"
        if self.unsettled.get(commit.user_id) is not commit:
            return  # settled meanwhile (by a caller whose settle was cancelled)
        del self.unsettled[commit.user_id]
        self.settled.append(
            SettledCommit(commit.user_id, profile.write_id, profile.version, outcome, row)
        )
        c = self._counters()
        if outcome == "landed":
            c.settled_landed += 1
            c.db_writes += 1  # its row and its transaction, not counted when sent
            c.db_transactions += 1
        else:
            c.settled_not_landed += 1
        found = "no row" if row is None else f"the row is at v{row.version}"
        self._emit(
            0,
            EventKind.SETTLE,
            commit.user_id,
            profile.version,
            None,
            f"write {profile.write_id} of unknown outcome settled: {outcome} ({found}, "
            f"write id {None if row is None else row.write_id})",
        )

    async def _keep_settling(self) -> None:
        base, cap = self._retry
        delay = base
        while self.unsettled:
            for user_id in list(self.unsettled):
                try:
                    await self.settle(user_id)
                except DatabaseUnavailable:
                    break
            else:
                continue
            await asyncio.sleep(delay)
            delay = min(cap, delay * 2)

    async def settle_all(self) -> list[UnsettledCommit]:
        """Settle every commit of unknown outcome now (at close); those the database
        could not settle (it does not answer), which stay unsettled: their outcome is
        unknown."""
        for user_id in list(self.unsettled):
            with contextlib.suppress(DatabaseUnavailable):
                await self.settle(user_id)
        return list(self.unsettled.values())

    async def stop(self) -> None:
        """Stop settling in the background (at close); what is unsettled stays listed."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
