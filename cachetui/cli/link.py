"""``cachetui link --listen HOST:PORT --to HOST:PORT --rtt D [--jitter D]``: the link's
relay in the foreground, in front of any TCP server (what ``--db-rtt`` and
``--cache-rtt`` start in a child process). Ctrl+C (or SIGTERM, SIGHUP) stops it.

:func:`duration_argument` is the argparse type of every duration flag (``--rtt``,
``--jitter``, and the app's ``--db-rtt``, ``--cache-rtt``, ``--jitter``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence

from cachetui.engine.digits import digit_problem
from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.link.durations import DURATION_FORMS, format_duration, parse_duration
from cachetui.engine.lab.link.relay import Relay, precise_loop
from cachetui.engine.lab.link.shaping import Shaping
from cachetui.engine.words import plural
from cachetui.literal import printable

Address = tuple[str, int]


def duration_argument(option: str) -> Callable[[str], float]:
    """An argparse ``type``: seconds from ``300us``, ``2ms``, ``0.5s`` (see
    :func:`~cachetui.engine.lab.link.durations.parse_duration`); anything else is
    argparse's one error line naming ``option``, exit status 2."""

    def parse(text: str) -> float:
        try:
            return parse_duration(text, what=option)
        except ValidationError as exc:
            # argparse puts "argument --rtt: " in front: the message without the name
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{option}: ")) from None

    return parse


def address_argument(*, any_port: bool) -> Callable[[str], Address]:
    """An argparse ``type``: ``HOST:PORT`` (``[::1]:PORT`` for IPv6; ``:PORT`` means
    127.0.0.1); port 0 (any free one) only when ``any_port``."""

    def parse(text: str) -> Address:
        shown = printable(text if len(text) <= 60 else text[:60] + "…")
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {shown!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise argparse.ArgumentTypeError(
                f"expected HOST:PORT (an IPv6 address in brackets: [::1]:PORT), got {shown!r}"
            )
        lowest = 0 if any_port else 1
        if problem := digit_problem(port_text):
            raise argparse.ArgumentTypeError(f"the port after the colon: {problem}")
        if not port_text.isdigit() or not lowest <= int(port_text) <= 65535:
            raise argparse.ArgumentTypeError(
                f"expected a port from {lowest} to 65535 after the colon, got {shown!r}"
            )
        return (host or "127.0.0.1", int(port_text))

    return parse


def where(address: Address) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{host}:{address[1]}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui link",
        description="A TCP relay that delays what it carries, as a network would: each "
        "chunk is forwarded RTT/2 (plus jitter) after it arrives, in order, so pipelined "
        "requests pay one RTT and a new connection one more. Put it in front of a "
        "database or a Redis server and point the client at --listen.",
        epilog="Example: cachetui link --listen 127.0.0.1:6380 --to 127.0.0.1:6379 --rtt 2ms, "
        "then redis-cli -p 6380 --latency. Durations: " + DURATION_FORMS + " (at most 10s).",
    )
    parser.add_argument(
        "--listen",
        required=True,
        type=address_argument(any_port=True),
        metavar="HOST:PORT",
        help="where clients connect (port 0: any free port, printed)",
    )
    parser.add_argument(
        "--to",
        required=True,
        type=address_argument(any_port=False),
        metavar="HOST:PORT",
        help="the server the relay connects each client to",
    )
    parser.add_argument(
        "--rtt",
        required=True,
        type=duration_argument("--rtt"),
        metavar="D",
        help="round-trip time the link adds: 300us, 2ms, 0.5s",
    )
    parser.add_argument(
        "--jitter",
        type=duration_argument("--jitter"),
        default=0.0,
        metavar="D",
        help="extra one-way delay per chunk, lognormal: 99%% of chunks get less than D, "
        "half less than D/10 (default: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    loop = precise_loop()
    try:
        return loop.run_until_complete(serve(args.listen, args.to, args.rtt, args.jitter))
    except KeyboardInterrupt:  # before the handlers were in place
        return 0
    finally:
        loop.close()


async def serve(listen: Address, to: Address, rtt: float, jitter: float) -> int:
    loop = asyncio.get_running_loop()
    try:
        await loop.getaddrinfo(to[0], to[1], type=socket.SOCK_STREAM)
    except OSError as exc:
        return _error(f"cannot find {where(to)}: {exc.strerror or exc}")
    relay = Relay(listen, to, Shaping(rtt, jitter))
    seen: set[str] = set()

    def report(error: str) -> None:  # each kind of error once, as it happens
        if error not in seen:
            seen.add(error)
            print(
                f"cachetui link: {printable(error)} (the client's connection is reset)",
                file=sys.stderr,
                flush=True,
            )

    relay.on_error = report
    try:
        await relay.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {listen[1]} is already in use (choose another, or 0 for any)"
        else:
            reason = exc.strerror or str(exc)
        return _error(f"cannot listen on {where(listen)}: {reason}")
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    shaped = f"rtt {format_duration(rtt)}"
    if jitter:
        shaped += f", jitter p50 {format_duration(jitter / 10)} p99 {format_duration(jitter)}"
    print(
        f"cachetui link: listening on {where(relay.address)}, relaying to {where(to)} "
        f"({shaped}); Ctrl+C stops",
        flush=True,
    )
    unreachable = await _unreachable(to)
    if unreachable:
        seen.add(f"connect to {to[0]}:{to[1]}: {unreachable}")  # said here, not again
        print(
            f"cachetui link: warning: {where(to)} does not answer now ({unreachable}); "
            "clients are reset until it does",
            file=sys.stderr,
            flush=True,
        )
    try:
        await stop.wait()
    finally:
        stats = relay.stats()
        await relay.close()
    accepted = relay.accepted
    connections = f"{accepted} {plural(accepted, 'connection')}"
    if relay.refused:
        connections += f" ({relay.refused} could not reach {where(to)})"
    print(
        f"cachetui link: stopped; {connections}, {stats['bytes_up']} bytes "
        f"to the server, {stats['bytes_down']} back",
        flush=True,
    )
    return 0


async def _unreachable(to: Address) -> str:
    """Why a connection to ``to`` fails now ("" when it opens): said once at start."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*to), 2.0)
    except TimeoutError:
        return "no answer within 2s"
    except OSError as exc:
        return os.strerror(exc.errno) if exc.errno else str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


def _error(message: str) -> int:
    print(f"cachetui link: error: {printable(message)}", file=sys.stderr)
    return 2
