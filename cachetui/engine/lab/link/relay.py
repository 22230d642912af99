"""The relay: listens on one address, connects each client it accepts to one target
server, and carries the bytes through :mod:`delay lines <cachetui.engine.lab.link.delay_line>`
shaped live by one :class:`~cachetui.engine.lab.link.shaping.Shaping`.

Partitions: ``blackhole`` holds every byte (and the connect to the server of a client
accepted meanwhile) until it is lifted, then delivers them, as TCP's retransmissions
would; ``reset`` sends a RST both ways on every connection and stops listening, so a new
connect is refused, until it is lifted. A probe (one byte through a pair of delay lines
to an echo inside the relay) measures what the relay adds, every time :meth:`Relay.probe`
runs; with the last TCP connect time to the server it makes the measured RTT.

Run it in a loop whose selector has microsecond timeouts (:func:`precise_loop`): epoll's
are milliseconds, which would round a 150 µs half-RTT up to 1 ms.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import statistics
import struct
from collections import deque
from collections.abc import Callable

from cachetui.engine.lab.link.delay_line import Connection
from cachetui.engine.lab.link.shaping import Partition, Shaping

Address = tuple[str, int]

#: How long the relay tries to connect to the server for a client it accepted.
CONNECT_TIMEOUT = 10.0
#: ``select()`` takes descriptors below 1024; the relay refuses a client past this one.
MAX_FD = 1000
#: Probes the measured RTT is the median of.
PROBES_KEPT = 5


def tcp_rtt(sock: socket.socket | None) -> float | None:
    """The kernel's smoothed RTT of a TCP connection, in seconds (Linux's TCP_INFO;
    None elsewhere or for another kind of socket)."""
    option = getattr(socket, "TCP_INFO", None)
    if sock is None or option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, 104)
    except OSError:
        return None
    if len(info) < 72:
        return None
    return float(struct.unpack_from("I", info, 68)[0]) / 1e6  # tcpi_rtt, microseconds


def precise_loop() -> asyncio.AbstractEventLoop:
    """A new event loop over ``select()``, whose timeouts are microseconds."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def listening_socket(address: Address) -> socket.socket:
    """A TCP socket listening on ``address`` (port 0: any free port), SO_REUSEADDR set."""
    infos = socket.getaddrinfo(address[0], address[1], type=socket.SOCK_STREAM)
    family, kind, proto, _, where = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Relay:
    """``await start()`` binds and listens (OSError if it cannot); ``address`` is then
    where; ``set_partition``, ``shaping.rtt`` and ``shaping.jitter`` change it live;
    ``await close()`` drops everything."""

    def __init__(self, listen: Address, target: Address, shaping: Shaping) -> None:
        self.listen = listen
        self.target = target
        self.shaping = shaping
        self.address: Address = listen
        self.connections: set[Connection] = set()
        self.accepted = 0
        self.refused = 0  # clients dropped because the server could not be reached
        self.bytes_up = 0  # delivered to the server by connections now closed
        self.bytes_down = 0
        self.last_error: str | None = None
        #: Called with each error as it happens (``cachetui link`` prints them).
        self.on_error: Callable[[str], None] | None = None
        #: The kernel's smoothed RTT of a connection to the server (seconds): the network
        #: under the relay, as of the last connection seen.
        self.network_rtt: float | None = None
        #: The last probes' round trips (seconds) since the shaping last changed.
        self.probes: deque[float] = deque(maxlen=PROBES_KEPT)
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._opening: set[asyncio.Task[None]] = set()
        self._probe: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._probe_parts: list[asyncio.BaseTransport | asyncio.StreamWriter] = []
        self._probing = asyncio.Lock()
        self._probe_connection: Connection | None = None

    def _error(self, error: str) -> None:
        self.last_error = error
        if self.on_error is not None:
            self.on_error(error)

    async def start(self) -> None:
        self._listen(self.listen)

    def _listen(self, address: Address) -> None:
        self._listener = listening_socket(address)
        host, port = self._listener.getsockname()[:2]
        self.address = (host, port)
        self._accepting = asyncio.ensure_future(self._accept(self._listener))

    def _stop_listening(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None
        if self._listener is not None:
            # Now, not when the cancelled accept's callback runs: select() fails on a
            # closed descriptor.
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None

    async def close(self) -> None:
        self._stop_listening()
        for task in list(self._opening):
            task.cancel()
        for connection in list(self.connections):
            connection.abort(reset=False)
        self._close_probe()
        await asyncio.sleep(0)  # let the transports close

    def set_partition(self, partition: Partition | None) -> None:
        """Switch the partition; lifting ``reset`` listens again on the same address
        (OSError if another program took the port meanwhile)."""
        loop = asyncio.get_running_loop()
        before = self.shaping.partition
        self.shaping.set_partition(partition, loop.time())
        if partition == "reset":
            self._stop_listening()
            for task in list(self._opening):
                task.cancel()
            for connection in list(self.connections):
                connection.abort(reset=True)
        elif before == "reset" and self._listener is None:
            self._listen(self.address)

    @property
    def held(self) -> int:
        """Bytes waiting in the delay lines (held by a blackhole, or on their way)."""
        return sum(c.held for c in self.connections)

    def _closed(self, connection: Connection) -> None:
        self.connections.discard(connection)
        self.bytes_up += connection.up.delivered
        self.bytes_down += connection.down.delivered

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as exc:  # out of descriptors, say: keep listening
                self._error(f"accept: {exc.strerror or exc}")
                await asyncio.sleep(0.05)
                continue
            if client.fileno() >= MAX_FD:
                self._error("too many connections for select()")
                client.close()
                continue
            self.accepted += 1
            task = asyncio.ensure_future(self._open(client))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        connection = Connection(self.shaping, self._closed)
        self.connections.add(connection)
        try:
            await loop.connect_accepted_socket(lambda: connection.client, client)
        except OSError:
            client.close()
            connection.abort(reset=True)
            return
        if self.shaping.partition == "blackhole":  # the SYN to the server is held too
            await self.shaping.unpartitioned()
        if connection.closed:
            return
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: connection.server, *self.target), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            self.refused += 1
            if isinstance(exc, TimeoutError):
                reason = "timed out"
            else:  # asyncio's strerror names the address again: the system's words
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
            self._error(f"connect to {self.target[0]}:{self.target[1]}: {reason}")
            connection.abort(reset=True)  # the client sees its connection reset
            return
        if connection.closed:  # the client went away meanwhile
            assert connection.server.transport is not None
            connection.server.transport.close()

    async def probe(self) -> float | None:
        """Seconds one byte takes through a pair of delay lines shaped like the others
        (no partition holds it) to an echo in the relay and back; None on a timeout."""
        loop = asyncio.get_running_loop()
        timeout = 1.0 + 2 * self.shaping.rtt + 10 * self.shaping.jitter
        async with self._probing:
            if self._probe is None:
                await self._open_probe()
            assert self._probe is not None
            reader, writer = self._probe
            started = loop.time()
            writer.write(b"p")
            try:
                await asyncio.wait_for(reader.readexactly(1), timeout)
            except (TimeoutError, asyncio.IncompleteReadError, OSError):
                self._probe = None  # a late echo must not answer the next probe
                return None
            took = loop.time() - started
            self.probes.append(took)
            return took

    async def _open_probe(self) -> None:
        loop = asyncio.get_running_loop()
        self._close_probe()  # a probe that timed out
        mine, into_relay = socket.socketpair()
        from_relay, echo = socket.socketpair()
        connection = Connection(self.shaping, lambda _: None, handshake=False, partitioned=False)
        await loop.connect_accepted_socket(lambda: connection.client, into_relay)
        await loop.connect_accepted_socket(lambda: connection.server, from_relay)
        echo_transport, _ = await loop.connect_accepted_socket(lambda: _Echo(), echo)
        self._probe = await asyncio.open_connection(sock=mine)
        self._probe_parts = [echo_transport, self._probe[1]]
        self._probe_connection = connection

    def _close_probe(self) -> None:
        if self._probe_connection is not None:
            self._probe_connection.abort(reset=False)
        for part in self._probe_parts:
            part.close()
        self._probe_parts = []

    def measured_rtt(self) -> float | None:
        """The RTT a client sees through the link, measured: the median of the last
        probes since the shaping changed, plus the network's RTT under the relay (the
        kernel's estimate for a connection to the server; 0 before the first). None
        during a partition, and before the first probe."""
        if not self.probes or self.shaping.partition is not None:
            return None
        for connection in self.connections:
            transport = connection.server.transport
            if transport is not None and not transport.is_closing():
                self.network_rtt = tcp_rtt(transport.get_extra_info("socket")) or self.network_rtt
                break
        return statistics.median(self.probes) + (self.network_rtt or 0.0)

    def stats(self) -> dict[str, object]:
        return {
            "rtt": self.shaping.rtt,
            "jitter": self.shaping.jitter,
            "partition": self.shaping.partition,
            "measured_rtt": self.measured_rtt(),
            "probe_rtt": statistics.median(self.probes) if self.probes else None,
            "network_rtt": self.network_rtt,
            "connections": len(self.connections),
            "accepted": self.accepted,
            "refused": self.refused,
            "bytes_up": self.bytes_up + sum(c.up.delivered for c in self.connections),
            "bytes_down": self.bytes_down + sum(c.down.delivered for c in self.connections),
            "held": self.held,
            "listening": self._listener is not None,
            "error": self.last_error,
        }


class _Echo(asyncio.Protocol):
    """The probe's server: sends back what it gets."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)
