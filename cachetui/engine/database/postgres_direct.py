"""Connections straight to a PostgreSQL server, outside an engine's pool and its link:
``cachetui reset``'s queries, the run schemas of ``bench`` and ``compare``, ``--talk``'s
schema. Each statement is bounded by ``--db-timeout`` as the engine's are: the server's
``statement_timeout`` (a statement waiting on a lock another session holds), and a reply
deadline a little later (a network that holds the reply: the server's timeout can fire
only for a statement it got). Either one is :class:`DatabaseUnavailable`, one line that
names what was being done.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import pq

from cachetui.engine.database.postgres_conninfo import conninfo
from cachetui.engine.database.postgres_errors import connect_problem
from cachetui.engine.database.postgres_sessions import NoReply, reply_within
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.stores.redis_url import mask_url


def reply_timeout(timeout: float) -> float:
    """How long a reply may take: ``timeout`` (--db-timeout), plus up to 1 s for the
    server's own statement timeout to answer first."""
    return timeout + min(timeout, 1.0)


def overdue(doing: str, timeout: float, exc: BaseException) -> DatabaseUnavailable | None:
    """The one line for a statement that took longer than ``timeout`` (``exc`` the
    server's statement timeout, or :class:`NoReply`); None for any other error."""
    if isinstance(exc, NoReply):
        why = "no reply: the network holds it, or the server hangs"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        why = "the server's statement_timeout: it waited on a lock another session holds"
    else:
        return None
    return DatabaseUnavailable(
        f"{doing}: no answer within --db-timeout {timeout:g} s ({why})", transient=True
    )


class Direct:
    """One connection (autocommit) whose every statement is bounded by ``timeout``."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout

    async def execute(self, doing: str, statement: Any, params: Any = None) -> list[Any]:
        """Run one statement; its rows ([] for none). Past ``timeout``: DatabaseUnavailable
        naming ``doing``; the server's other errors are raised as they are."""
        try:
            async with reply_within(self.conn, reply_timeout(self.timeout)):
                cur = await self.conn.execute(statement, params)
                result = cur.pgresult
                if result is None or result.status != pq.ExecStatus.TUPLES_OK:
                    return []
                return list(await cur.fetchall())
        except (psycopg.Error, OSError) as exc:
            problem = overdue(doing, self.timeout, exc)
            if problem is None:
                raise
            raise problem from None


@contextlib.asynccontextmanager
async def direct(url: str, timeout: float) -> AsyncIterator[Direct]:
    """A connection to the server at ``url`` (connect timeout and statement timeout
    ``timeout``, libpq's conventions passing through), closed on the way out."""
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo(url, timeout), autocommit=True)
    except (psycopg.Error, OSError) as exc:
        raise DatabaseUnavailable(
            f"cannot open database {mask_url(url)}: {connect_problem(exc, url)}"
        ) from None
    try:
        yield Direct(conn, timeout)
    finally:
        if not conn.closed:
            await conn.close()
