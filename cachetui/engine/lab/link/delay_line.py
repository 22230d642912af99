"""A relayed connection: two sockets (the client's, the server's) and a delay line each
way. A chunk that arrives is delivered at max(previous delivery that way, arrival +
RTT/2 + jitter): one task per direction delivers in arrival order, so order is kept and a
pipeline of requests pays one RTT, not one per request. A new connection pays one RTT
more (its handshake): what the client sends is taken as sent one RTT after the accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable

from cachetui.engine.lab.link.shaping import Shaping

#: Bytes a line holds before it stops reading its source (TCP's flow control does the rest).
HIGH_WATER = 4 * 1024 * 1024


class Side(asyncio.Protocol):
    """One socket of a relayed connection. What it receives goes into ``outgoing`` (the
    line toward the other side); the line coming from the other side writes into it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.outgoing: DelayLine | None = None
        self.ready = asyncio.Event()  # connected (the server's side: once the connect is done)
        self.writable = asyncio.Event()
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ready.set()

    def data_received(self, data: bytes) -> None:
        if self.outgoing is not None:
            self.outgoing.arrive(data)

    def eof_received(self) -> bool:
        if self.outgoing is not None:
            self.outgoing.arrive(None)
        return True  # half-closed: the other way keeps flowing

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        self.connection.abort(reset=exc is not None)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def reset(self) -> None:
        """Close with a RST (SO_LINGER 0), as a broken network path does."""
        if self.transport is None or self.transport.is_closing():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class DelayLine:
    """One direction of one connection: chunks from ``source`` delivered into ``sink``,
    each at max(previous delivery, max(arrival, ``not_before``) + one-way delay). A held
    chunk (blackhole) counts as arriving when the partition is lifted."""

    def __init__(
        self, shaping: Shaping, source: Side, sink: Side, *, not_before: float, partitioned: bool
    ) -> None:
        self.shaping = shaping
        self.source = source
        self.sink = sink
        self.not_before = not_before
        self.partitioned = partitioned  # False: the probe's lines, which no partition holds
        self.chunks: deque[tuple[float, bytes | None]] = deque()  # None: end of stream
        self.queued = 0  # bytes in ``chunks``
        self.delivered = 0  # bytes written into the sink
        self._previous = 0.0
        self._arrived = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._reading = True

    def arrive(self, data: bytes | None) -> None:
        self.chunks.append((self._loop.time(), data))
        if data is not None:
            self.queued += len(data)
            if self.queued > HIGH_WATER and self._reading and self.source.transport is not None:
                self._reading = False
                self.source.transport.pause_reading()
        self._arrived.set()

    async def run(self) -> None:
        """Deliver until the end of the stream has been passed on (a half-close)."""
        shaping = self.shaping
        while True:
            while not self.chunks:
                self._arrived.clear()
                await self._arrived.wait()
            arrival, data = self.chunks[0]
            arrival = max(arrival, self.not_before)
            while True:
                if self.partitioned and shaping.partition is not None:
                    await shaping.unpartitioned()
                if self.partitioned:
                    arrival = max(arrival, shaping.lifted_at)
                due = max(self._previous, arrival + shaping.one_way())
                await shaping.wait_until(due)
                if not (self.partitioned and shaping.partition is not None):
                    break  # else a partition began while the chunk was on its way: held
            self._previous = due
            await self.sink.ready.wait()
            await self.sink.writable.wait()
            self.chunks.popleft()
            transport = self.sink.transport
            assert transport is not None
            if transport.is_closing():
                return
            if data is None:
                if transport.can_write_eof():
                    transport.write_eof()
                return
            transport.write(data)
            self.queued -= len(data)
            self.delivered += len(data)
            if not self._reading and self.queued < HIGH_WATER // 2:
                self._reading = True
                if self.source.transport is not None and not self.source.transport.is_closing():
                    self.source.transport.resume_reading()


class Connection:
    """A client's connection through the relay: its side, the server's side, a line each
    way. ``abort()`` ends it (a RST both ways when ``reset``); ``on_closed`` is told once."""

    def __init__(
        self,
        shaping: Shaping,
        on_closed: Callable[[Connection], None],
        *,
        handshake: bool = True,
        partitioned: bool = True,
    ) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # The handshake a direct connection pays: the client sends from one RTT after its
        # SYN, the server answers from one and a half (what it sends first, say a greeting,
        # reaches the client two RTTs after the SYN).
        rtt = shaping.rtt if handshake else 0.0
        self.client = Side(self)
        self.server = Side(self)
        self.up = DelayLine(
            shaping, self.client, self.server, not_before=now + rtt, partitioned=partitioned
        )
        self.down = DelayLine(
            shaping, self.server, self.client, not_before=now + 1.5 * rtt, partitioned=partitioned
        )
        self.client.outgoing = self.up
        self.server.outgoing = self.down
        self._on_closed = on_closed
        self._closed = False
        self._tasks = [asyncio.ensure_future(self._run(line)) for line in (self.up, self.down)]
        self._done = 0

    async def _run(self, line: DelayLine) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await line.run()
        self._done += 1
        if self._done == 2:  # both ways ended: close (the end of each stream was passed on)
            self.abort(reset=False)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def held(self) -> int:
        """Bytes waiting in this connection's lines."""
        return self.up.queued + self.down.queued

    def abort(self, *, reset: bool) -> None:
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for side in (self.client, self.server):
            if side.transport is None:
                continue
            if reset:
                side.reset()
            elif not side.transport.is_closing():
                side.transport.close()
        self._on_closed(self)
