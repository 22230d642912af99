"""The PostgreSQL backend's connections, as sessions that can die: a deadline on every
reply, the pool's check of a connection that sat idle, and which errors leave a commit
of unknown outcome.

- **A reply that never comes.** A network partition (the link's ``blackhole``) holds a
  statement or its reply; the server's ``statement_timeout`` cannot fire for a statement
  it never got, and psycopg waits for ever. :func:`reply_within` gives up after the
  deadline (or the engine's give-up moment: :mod:`~cachetui.engine.database.giving_up`):
  it closes the connection first (psycopg would otherwise send a cancel request
  down the same dead path and wait 10 s for it), then interrupts the call, which raises
  :class:`NoReply`.
- **A connection the server ended while it sat in the pool** (``pg_terminate_backend``,
  a restart): :func:`check_idle` is the pool's check. Such a socket has something to read
  (the server's FATAL message, the end of the stream); only then is the connection
  checked with a round trip, and dropped for a new one when it fails. A connection that
  has nothing to say is handed out at once: no round trip on the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from cachetui.engine.database.giving_up import GivingUp
from cachetui.engine.errors import DatabaseUnavailable

Run = Callable[[str, str, Any], Awaitable[list[tuple[Any, ...]]]]
END_SESSION = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s"
SESSION_ALIVE = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"


class NoReply(psycopg.OperationalError):
    """No reply within the deadline: the connection was closed (a statement sent on it
    may or may not have run). An OperationalError, as a lost connection is.
    ``given_up``: the deadline was the engine's give-up moment (a close giving up)."""

    def __init__(self, seconds: float, *, given_up: bool = False) -> None:
        if given_up:
            text = "no reply before the engine gave up waiting (closing; a partition, or "
            text += "the server hangs)"
        else:
            text = f"no reply within {seconds:g} s (a partition, or the server hangs)"
        super().__init__(text)
        self.seconds = seconds
        self.given_up = given_up


@contextlib.asynccontextmanager
async def reply_within(
    conn: psycopg.AsyncConnection[Any], seconds: float, giving_up: GivingUp | None = None
) -> AsyncIterator[None]:
    """Run the block's statements on ``conn``; past ``seconds`` (or ``giving_up``'s
    moment, if sooner), close the connection and raise :class:`NoReply` (the pool then
    drops the connection)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    expired = False
    handle: asyncio.TimerHandle | None = None

    def expire() -> None:
        nonlocal expired
        expired = True
        conn.pgconn.finish()  # no cancel request: it would wait on the same dead path
        task.cancel()

    def move(when: float) -> None:
        nonlocal handle
        if handle is not None:
            handle.cancel()
        if not expired:
            handle = loop.call_at(when, expire)

    with (giving_up or GivingUp()).bound(seconds, move) as bound:
        try:
            yield
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise NoReply(seconds, given_up=bound.given_up) from None
            raise
        except psycopg.Error:
            if not expired:
                raise
            # The closed connection failed before the cancellation was delivered: take it.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0)
            if task.uncancel() > 0:
                raise asyncio.CancelledError from None  # someone else's cancellation too
            raise NoReply(seconds, given_up=bound.given_up) from None
        finally:
            if handle is not None:
                handle.cancel()


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - not Linux


async def check_idle(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check of a connection it is about to hand out: a round trip only when
    the server said something while the connection was idle (see the module's
    docstring); raises if the connection is broken."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    if _readable(conn.pgconn.socket):
        await AsyncConnectionPool.check_connection(conn)


#: SQLSTATE classes and codes after which a statement sent may have committed or not:
#: the connection failed (08), the server ended the session (57P01–57P03).
_SESSION_LOST_CLASSES = ("08",)
_SESSION_LOST_CODES = frozenset({"57P01", "57P02", "57P03"})


def outcome_unknown(exc: BaseException) -> bool:
    """Whether an error of a write leaves its commit's outcome unknown: the reply was
    lost (no reply in time, the connection closed or reset, the session ended), as
    opposed to the server's answer that the statement failed (then nothing committed)."""
    if isinstance(exc, NoReply | OSError):
        return True
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = getattr(exc, "sqlstate", None)
    if state is None:  # libpq's own: "server closed the connection unexpectedly", …
        return True
    return state[:2] in _SESSION_LOST_CLASSES or state in _SESSION_LOST_CODES


async def end_session(run: Run, pid: int, timeout: float) -> None:
    """End the server session ``pid`` (``pg_terminate_backend``) if it still runs, and
    wait until it is gone: a commit sent on it has then landed or never will. ``run``
    runs one statement on another session. DatabaseUnavailable if it is still there
    after ``timeout`` seconds, or the database does not answer."""
    where = "ending the session a lost commit was sent on"
    await run(where, END_SESSION, (pid,))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await run(where, SESSION_ALIVE, (pid,)):
        if loop.time() > deadline:
            raise DatabaseUnavailable(
                f"the server session {pid} a lost commit was sent on does not end",
                transient=True,
            )
        await asyncio.sleep(0.01)
