"""Waiting for a connection of the PostgreSQL backend's pool: up to ``--db-timeout`` (the
pool's own back-pressure), or the engine's give-up moment
(:mod:`~cachetui.engine.database.giving_up`), and cut short when the server refuses
connections.

A refused connection (the server is down, or the link's ``reset`` partition stopped
listening) is an outage a caller need not wait for: psycopg_pool would retry its refills
in the background (after 1 s, then twice as long each time) while the callers wait up to
``--db-timeout``. The pool connects through :meth:`PoolWaits.connection_class`, which
notes each refusal: the callers waiting then fail at once with the outage's error, and so
do the calls that start while the last attempt was refused (one connection tried now,
its outcome shared by the calls that come while it is tried, never kept after it: a
healed link answers the next call). Once a connection opens again (the pool's, or the
one tried), calls wait for the pool as before: the pool reconnects at its next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cachetui.engine.database.giving_up import GivingUp, reschedule
from cachetui.engine.errors import DatabaseUnavailable

Connection = psycopg.AsyncConnection[Any]
#: ``where, seconds``: the error of a connection tried now (None: it opened).
Problem = Callable[[str, float], Awaitable[DatabaseUnavailable | None]]


def refused(exc: BaseException) -> bool:
    """Whether a connection attempt was refused (nothing listens there)."""
    return "connection refused" in str(exc).lower()


class PoolWaits:
    """The waits for one database's pooled connections, bounded by ``timeout`` and the
    give-up moment, ended at once by a refused connection."""

    def __init__(self, timeout: float, giving_up: GivingUp) -> None:
        self.timeout = timeout
        self.giving_up = giving_up
        #: The last connection attempt's refusal (None: it opened, or none was refused).
        self.refused: BaseException | None = None
        self._wakes: set[Callable[[], None]] = set()
        #: The connection being tried while refused, by ``where``: the calls that come
        #: meanwhile share its outcome.
        self._trials: dict[str, asyncio.Future[DatabaseUnavailable | None]] = {}

    def connection_class(self) -> type[Connection]:
        """The pool's connection class: psycopg's, noting each attempt's outcome."""
        waits = self

        class Watched(psycopg.AsyncConnection[Any]):
            @classmethod
            async def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
                try:
                    conn = await super().connect(conninfo, **kwargs)
                except psycopg.OperationalError as exc:
                    waits.note(exc)
                    raise
                waits.refused = None
                return conn

        return Watched

    def note(self, exc: BaseException) -> None:
        """A connection attempt failed: if refused, the waiting callers fail now."""
        if refused(exc):
            self.refused = exc
            for wake in list(self._wakes):
                wake()

    async def connection(
        self,
        pool: AsyncConnectionPool,
        stack: contextlib.AsyncExitStack,
        where: str,
        problem: Problem,
        busy: Callable[[str], DatabaseUnavailable],
    ) -> Connection:
        """A connection of ``pool`` (returned to it when ``stack`` closes). No connection
        in time, or the server refusing connections: DatabaseUnavailable, from
        ``problem(where, seconds)`` (which tries one connection now and words why), else
        ``busy(where)`` (every connection busy for the whole wait)."""
        if self.refused is not None:  # the last attempt was refused: no wait
            error = await self._still_refused(where, problem)
            if error is not None:
                raise error
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as limit:

                def wake() -> None:
                    reschedule(limit, loop.time())

                self._wakes.add(wake)
                try:
                    with self.giving_up.bound(self.timeout, partial(reschedule, limit)) as bound:
                        return await stack.enter_async_context(pool.connection(self.timeout))
                finally:
                    self._wakes.discard(wake)
        except (PoolTimeout, TimeoutError):
            if bound.given_up:
                raise DatabaseUnavailable(
                    f"{where}: no connection before the engine gave up waiting (closing)",
                    transient=True,
                ) from None
            error = await problem(where, self.giving_up.remaining(self.timeout))
            raise error or busy(where) from None

    async def _still_refused(self, where: str, problem: Problem) -> DatabaseUnavailable | None:
        """The error of a connection tried now while refusals go on (one try at a time per
        ``where``, shared by the calls that come while it runs); None once one opens."""
        trial = self._trials.get(where)
        if trial is None:
            trial = asyncio.ensure_future(problem(where, self.giving_up.remaining(self.timeout)))
            self._trials[where] = trial

            def done(finished: asyncio.Future[DatabaseUnavailable | None]) -> None:
                if self._trials.get(where) is finished:
                    del self._trials[where]

            trial.add_done_callback(done)
        error = await asyncio.shield(trial)  # a cancelled caller leaves it to the others
        if error is None:
            self.refused = None
        return error
