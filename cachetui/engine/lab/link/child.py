"""The link's relay in a child process, run by :class:`~cachetui.engine.lab.link.link.Link`:
``python -m cachetui.engine.lab.link.child CONFIG`` where CONFIG is a JSON object (listen,
target, rtt, jitter, interval).

The control channel is the child's stdin and stdout, one JSON object a line. The child
first writes ``{"ready": {"address": [HOST, PORT], "pid": PID}}`` (or ``{"error": …}`` and
exits 1), then every ``interval`` seconds ``{"stats": {…}}`` after a probe; it answers
each request ``{"id": N, "set": {"rtt"?, "jitter"?, "partition"?}}``, ``{"id": N,
"probe": true}``, ``{"id": N, "stats": true}`` or ``{"id": N, "stop": true}`` with
``{"id": N, "stats": {…}}`` or ``{"id": N, "error": "…"}``, once it has taken effect. It
ends at ``stop``, at the end of its stdin (the parent is gone) or at SIGTERM; it ignores
SIGINT (a Ctrl+C in a terminal reaches the whole process group: its parent stops it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.link.durations import check_seconds
from cachetui.engine.lab.link.relay import Relay, precise_loop
from cachetui.engine.lab.link.shaping import Shaping, check_partition


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    args = sys.argv[1:] if argv is None else list(argv)
    config = json.loads(args[0])
    loop = precise_loop()
    errors: list[str] = []
    loop.set_exception_handler(lambda _, context: errors.append(str(context.get("message"))))
    try:
        return loop.run_until_complete(serve(config))
    finally:
        loop.close()


def send(message: dict[str, Any]) -> None:
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the parent is gone: nothing to report to
        os._exit(0)


async def serve(config: dict[str, Any]) -> int:
    shaping = Shaping(float(config["rtt"]), float(config.get("jitter", 0.0)))
    listen = (str(config["listen"][0]), int(config["listen"][1]))
    target = (str(config["target"][0]), int(config["target"][1]))
    relay = Relay(listen, target, shaping)
    try:
        await relay.start()
    except OSError as exc:
        send({"error": f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}"})
        return 1
    send({"ready": {"address": list(relay.address), "pid": os.getpid()}})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    reporting = asyncio.ensure_future(report(relay, float(config.get("interval", 1.0))))
    try:
        while line := await reader.readline():
            request = json.loads(line)
            reply: dict[str, Any] = {"id": request.get("id")}
            try:
                await handle(relay, request)
            except (ValidationError, OSError) as exc:
                reply["error"] = str(exc)
            reply["stats"] = relay.stats()
            send(reply)
            if request.get("stop"):
                break
    finally:
        reporting.cancel()
        await relay.close()
    return 0


async def handle(relay: Relay, request: dict[str, Any]) -> None:
    changes = request.get("set", {})
    if "rtt" in changes:
        relay.shaping.rtt = check_seconds(changes["rtt"], what="rtt")
    if "jitter" in changes:
        relay.shaping.jitter = check_seconds(changes["jitter"], what="jitter")
    if "partition" in changes:
        relay.set_partition(check_partition(changes["partition"]))
    if changes:
        relay.probes.clear()  # the median is of probes under the new shaping
    if request.get("probe"):
        await relay.probe()


async def report(relay: Relay, interval: float) -> None:
    """Every ``interval`` seconds: a probe, then the stats."""
    while True:
        await relay.probe()
        send({"stats": relay.stats()})
        await asyncio.sleep(interval)


if __name__ == "__main__":
    raise SystemExit(main())
