"""Auto-pipelining for the Redis store: the commands that concurrent callers issue during
one turn of the event loop go to the server as one pipeline (``transaction=False``),
and each caller gets its own reply. redis-py has no such mode (ioredis calls it
auto-pipelining); without it every command pays the client's whole per-command cost
(a connection taken from the pool and given back, a write, a wake-up): measured here,
that cost held the dashboard's workload to under half its target over Redis.

- **Order.** One pipeline is in flight at a time; the commands issued meanwhile wait and
  go out together in the next. So commands reach the server in the order they were
  issued: a delete issued after a set is never overtaken by it.
- **Atomicity.** Each command, and so each script call (EVALSHA), still runs whole and
  alone on the server; a pipeline is not a transaction: the callers' commands are
  independent, and one's error is that caller's alone.
- **Scripts** are called by SHA. A server that answers NOSCRIPT (restarted, or
  ``SCRIPT FLUSH``) gets the script loaded and the refused calls again, in one more
  pipeline: ``SCRIPT LOAD`` before them on the same connection.
- **Cancellation.** A caller cancelled before its command was sent withdraws it: it is
  never sent. One cancelled after it was sent has an unknown outcome, as a direct call
  whose reply it stopped waiting for: the command runs (the pipeline is the batcher's,
  not the caller's) and the caller sees CancelledError; what the engine does then is the
  same as for any cancelled cache call (it drops the user's entry: a delete that goes out
  after the pipeline in flight).
- **Failures** are each caller's: a connection error or timeout fails every command of
  that pipeline with the same RedisError a direct call raises (redis-py's retry, one
  reconnection, applies to the pipeline as to a command).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Commands in one pipeline at most; more wait for the next (a reply this long is read
#: in well under the socket timeout).
MAX_BATCH = 2048

_Command = tuple[tuple[Any, ...], "asyncio.Future[Any]"]
_UNKNOWN: Any = object()  # a command name whose reply callback was not looked up yet


class CommandBatcher:
    """Sends the commands of one event loop's callers as pipelines over ``client``.
    ``scripts`` maps each script's SHA1 to its source (to load it on NOSCRIPT).

    ``round_trips`` counts the pipelines sent and ``commands`` the commands in them:
    ``commands / round_trips`` is how many calls one round trip served."""

    def __init__(
        self,
        client: aioredis.Redis,
        scripts: Mapping[str, str],
        loop: asyncio.AbstractEventLoop,
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.loop = loop
        self._client = client
        self._scripts = scripts
        self._max_batch = max_batch
        self._queued: list[_Command] = []
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        #: Each command name's reply callback (redis-py's, e.g. SCRIPT LOAD's), or None.
        self._callbacks: dict[Any, Callable[..., Any] | None] = {}
        self.round_trips = 0
        self.commands = 0

    @property
    def queued(self) -> int:
        """Commands issued and not sent yet (withdrawn ones included until then)."""
        return len(self._queued)

    async def execute(self, *args: Any) -> Any:
        """Send the command ``args`` with the others of this loop turn; its reply, or
        the RedisError a direct call would raise."""
        if self._closed:
            raise RedisConnectionError("the Redis store is closed")
        future: asyncio.Future[Any] = self.loop.create_future()
        self._queued.append((args, future))
        if self._sender is None:
            self._sender = self.loop.create_task(self._send())
        # A caller cancelled here cancels ``future``: if not taken yet, it is skipped.
        return await future

    async def aclose(self) -> None:
        """Fail the commands not sent yet and stop sending (the pipeline in flight is
        cancelled: its callers' outcomes are unknown)."""
        self._closed = True
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            try:
                await sender
            except asyncio.CancelledError:
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise
        self._fail(self._queued, RedisConnectionError("the Redis store is closed"))
        self._queued = []

    async def _send(self) -> None:
        try:
            while self._queued:
                batch = self._queued[: self._max_batch]
                del self._queued[: self._max_batch]
                batch = [c for c in batch if not c[1].cancelled()]  # withdrawn: not sent
                if batch:
                    await self._round_trip(batch)
                # The callers just answered run first: their next commands join the next.
                await asyncio.sleep(0)
        finally:
            if self._sender is asyncio.current_task():
                self._sender = None

    async def _round_trip(self, batch: list[_Command]) -> None:
        try:
            replies = await self._pipeline([args for args, _ in batch])
            retry = [  # refused (never ran) and still awaited
                i
                for i, reply in enumerate(replies)
                if self._reloadable(reply, batch[i][0]) and not batch[i][1].cancelled()
            ]
            if retry:
                again = [batch[i][0] for i in retry]
                shas = list(dict.fromkeys(args[1] for args in again))
                loads = [("SCRIPT LOAD", self._scripts[sha]) for sha in shas]
                replies_again = await self._pipeline(loads + again)
                for i, reply in zip(retry, replies_again[len(loads) :], strict=True):
                    replies[i] = reply
        except asyncio.CancelledError:
            self._fail(batch, RedisConnectionError("the Redis store is closed"))
            raise
        except Exception as exc:  # noqa: BLE001 - every caller gets what a direct call would
            self._fail(batch, exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue  # its caller was cancelled after it was sent
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """One round trip: ``commands`` written at once on a connection of the pool, then
        their replies read (an error reply is that command's exception). A connection
        error or timeout makes redis-py's retry reconnect and send them once more, as
        for a direct call."""
        self.round_trips += 1
        self.commands += len(commands)
        pool = self._client.connection_pool
        connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            return await connection.retry.call_with_retry(
                lambda: self._exchange(connection, commands),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)

    async def _exchange(
        self, connection: AbstractConnection, commands: list[tuple[Any, ...]]
    ) -> list[Any]:
        """Write ``commands`` and read their replies under one deadline: no reply for a
        socket timeout (``connection.socket_timeout``) is a TimeoutError, as for a
        direct call. The replies are read without redis-py's timeout per reply (a timer
        set and cancelled for every command: the pipeline's largest cost after parsing);
        the deadline moves on once half of it has passed with replies still coming."""
        await connection.send_packed_command(connection.pack_commands(commands))
        limit = connection.socket_timeout
        replies: list[Any] = []
        read = connection.read_response
        callbacks = self._callbacks
        try:
            async with asyncio.timeout(limit) as deadline:
                clock = self.loop.time
                for args in commands:
                    try:
                        reply = await read(timeout=math.inf)
                    except ResponseError as exc:
                        reply = exc
                    else:
                        name = args[0]
                        callback = callbacks.get(name, _UNKNOWN)
                        if callback is _UNKNOWN:
                            callback = callbacks[name] = self._client.response_callbacks.get(name)
                        if callback is not None:
                            reply = callback(reply)
                    replies.append(reply)
                    when = deadline.when()
                    if when is not None and limit is not None and when - clock() < limit / 2:
                        deadline.reschedule(clock() + limit)
        except TimeoutError:
            # read_response dropped the connection when the deadline cancelled it
            raise RedisTimeoutError(f"Timeout reading from {connection.host}") from None
        except BaseException:
            # cancelled or failed between replies: the rest are still on the socket
            await connection.disconnect(nowait=True)
            raise
        return replies

    def _reloadable(self, reply: Any, args: tuple[Any, ...]) -> bool:
        return isinstance(reply, NoScriptError) and args[1] in self._scripts

    @staticmethod
    def _fail(batch: list[_Command], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
