"""Turning many concurrent callers into few database calls.

``BatchLoader``: concurrent cache misses become one ``IN (...)`` query.
``GroupCommit``: concurrent write-through/-around callers share one transaction; each
caller is answered only after the commit that holds its row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from cachetui.engine.profile import Profile

FetchMany = Callable[[list[int]], Awaitable[dict[int, Profile]]]
#: Writes ``(profile, base_version)`` rows in one transaction; returns, by user, the
#: error of each row that did not land (the others committed).
WriteMany = Callable[[Sequence[tuple[Profile, int]]], Awaitable[dict[int, Exception]]]


class BatchLoader:
    def __init__(self, fetch_many: FetchMany) -> None:
        self._fetch_many = fetch_many
        self._waiting: dict[int, list[asyncio.Future[Profile | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._inline = False  # a caller is reading its own row

    async def load(self, user_id: int) -> Profile | None:
        if self._task is None and not self._inline:
            # Nobody else is loading: read it now (no task, no extra loop turn); callers
            # arriving meanwhile share one query, as below.
            self._inline = True
            try:
                rows = await self._fetch_many([user_id])
            finally:
                self._inline = False
            return rows.get(user_id)
        future: asyncio.Future[Profile | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # let the callers of this loop iteration join
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    rows = await self._fetch_many(list(batch))
                except Exception as exc:  # noqa: BLE001 - handed to every caller
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for user_id, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(rows.get(user_id))
        finally:
            self._task = None


class GroupCommit:
    """An uncontended caller writes its row itself (no task, no extra loop turn);
    callers arriving while a commit is in flight queue up, and a task commits them in
    groups of at most ``max_group`` rows — so that, under heavy load, one group's
    callers prepare their next rows while the other group commits.

    A row the database refuses (or that conflicts) fails its own caller only: the
    others in its group commit.

    Cancellation never leaves a row to land later behind the caller's back: a queued
    row is withdrawn, and a caller whose row is already being committed waits for that
    commit to finish before the cancellation goes on.
    """

    def __init__(self, write_many: WriteMany, max_group: int = 32) -> None:
        self._write_many = write_many
        self.max_group = max_group
        self._group: list[tuple[tuple[Profile, int], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._inline = False  # a caller is committing its own row
        self._flight: asyncio.Future[None] | None = None  # done when the group lands

    async def write(self, profile: Profile, base_version: int) -> None:
        """Commit ``profile`` where its row still has ``base_version``; raises the
        row's own error (WriteRejected, WriteConflict) or the transaction's."""
        row = (profile, base_version)
        if self._task is None and not self._inline:
            self._inline = True
            try:
                failures = await self._write_many((row,))
                if failures:
                    raise failures[profile.user_id]
            finally:
                self._inline = False
                if self._group and self._task is None:
                    self._task = asyncio.get_running_loop().create_task(self._run())
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (row, future)
        self._group.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if any(queued is entry for queued in self._group):
                self._group.remove(entry)  # not taken yet: it will never be written
            elif self._flight is not None and not self._flight.done():
                await asyncio.wait([self._flight])  # being written: let it finish first
            raise

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._group:
                group = self._group[: self.max_group]
                del self._group[: self.max_group]
                self._flight = loop.create_future()
                try:
                    failures = await self._write_many([row for row, _ in group])
                except Exception as exc:  # noqa: BLE001 - handed to every caller
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled: the callers must not wait forever
                    for _, future in group + self._group:
                        if not future.done():
                            future.cancel()
                    raise
                finally:
                    self._flight.set_result(None)
                for (profile, _), future in group:
                    if not future.done():
                        failure = failures.get(profile.user_id)
                        if failure is None:
                            future.set_result(None)
                        else:
                            future.set_exception(failure)
        finally:
            self._task = None
