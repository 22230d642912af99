"""A small TCP relay for tests, in the test's own event loop: it forwards bytes between a
client and a server, and can hold the server's replies for a while, or drop the
connection as soon as the next reply comes back (the request ran; its caller never
hears). What a slow or broken network does to a client, without netem.

Test-only: the PostgreSQL issue's link (a relay in a child process) may replace it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self


class DelayRelay:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        #: Seconds each reply is held from now on (0: forwarded at once).
        self.hold = 0.0
        self._reset_next = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def reset_next_reply(self) -> None:
        """Close the connection that next sends a reply, instead of delivering it."""
        self._reset_next = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pair = (writer, up_writer)
        for task in (
            asyncio.ensure_future(self._pipe(reader, up_writer, pair, replies=False)),
            asyncio.ensure_future(self._pipe(up_reader, writer, pair, replies=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        *,
        replies: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while chunk := await source.read(65536):
                if replies and self._reset_next:
                    self._reset_next = False
                    break
                if replies and self.hold:
                    due = loop.time() + self.hold
                    await asyncio.sleep(max(0.0, due - loop.time()))
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in pair:
                with contextlib.suppress(Exception):
                    writer.close()
