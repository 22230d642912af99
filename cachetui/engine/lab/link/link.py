"""The link as its owner sees it: a relay in a child process (see
:mod:`~cachetui.engine.lab.link.child`), started, shaped live and stopped from here.

::

    link = Link.for_url("redis://127.0.0.1:6379/0", rtt=0.002, jitter=0.0005)
    link.start()                          # returns once the child listens
    url = link.relay_url("redis://127.0.0.1:6379/0")   # connect here instead
    link.rtt = 0.05                       # live; so are jitter and partition
    link.partition = "blackhole"          # or "reset", or None
    link.measured_rtt()                   # seconds, refreshed every second (None: not yet)
    link.stop()                           # the child is gone (and reaped) on return

Every setter returns once the child has taken the change: bytes a client sends after it
are shaped by it. A child whose parent dies sees the end of its stdin and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from cachetui.engine.errors import CacheTuiError, ValidationError
from cachetui.engine.lab.link.durations import check_seconds, format_duration
from cachetui.engine.lab.link.shaping import Partition, check_partition
from cachetui.engine.lab.link.urls import Address, link_target, relay_url

#: Seconds a child has to start listening.
START_TIMEOUT = 10.0
#: Seconds a change waits for the child's answer.
ANSWER_TIMEOUT = 5.0


class LinkError(CacheTuiError):
    """The link's relay could not start, or stopped answering."""


class Link:
    """A delay line between a client and the server at ``target``: a relay of our own in
    a child process, listening on ``listen`` (port 0: a free one; :attr:`address` says
    which once started). ``rtt`` and ``jitter`` are seconds (0 to 10)."""

    def __init__(
        self,
        target: Address,
        *,
        rtt: float,
        jitter: float = 0.0,
        listen: Address = ("127.0.0.1", 0),
        interval: float = 1.0,
    ) -> None:
        self.target = (str(target[0]), int(target[1]))
        self.listen = (str(listen[0]), int(listen[1]))
        self._rtt = check_seconds(rtt, what="rtt")
        self._jitter = check_seconds(jitter, what="jitter")
        self._partition: Partition | None = None
        if not 0 < interval <= 60:
            raise ValidationError(f"interval must be 0–60 seconds, got {interval!r}")
        self.interval = interval
        self.address: Address | None = None
        self.pid: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._stats: dict[str, Any] = {}
        self._ready: dict[str, Any] | None = None
        self._gone = False
        self._next_id = 0

    @classmethod
    def for_url(cls, url: str, *, rtt: float, jitter: float = 0.0, **options: Any) -> Link:
        """A link in front of the server ``url`` names (a ``redis://`` or ``postgresql://``
        URL; ValidationError otherwise)."""
        return cls(link_target(url), rtt=rtt, jitter=jitter, **options)

    def __repr__(self) -> str:
        where = f"{self.address[0]}:{self.address[1]}" if self.address else "not started"
        return (
            f"<Link {where} → {self.target[0]}:{self.target[1]} rtt {format_duration(self._rtt)}"
            f" jitter {format_duration(self._jitter)} partition {self._partition}>"
        )

    # --- the child's life -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and not self._gone

    def start(self) -> None:
        """Start the child and return once it listens (LinkError if it cannot, with its
        reason: the address is taken, say). Blocks for the child's start (≈ 0.3 s)."""
        if self._process is not None:
            raise LinkError("the link is already started")
        config = {
            "listen": list(self.listen),
            "target": list(self.target),
            "rtt": self._rtt,
            "jitter": self._jitter,
            "interval": self.interval,
        }
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[4])  # the folder holding cachetui/
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self._gone = False
        self._process = subprocess.Popen(
            [sys.executable, "-m", "cachetui.engine.lab.link.child", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            bufsize=1,
        )
        self.pid = self._process.pid
        self._reader = threading.Thread(target=self._read, name="cachetui-link", daemon=True)
        self._reader.start()
        with self._changed:
            self._changed.wait_for(lambda: self._ready is not None or self._gone, START_TIMEOUT)
            ready = self._ready
        if ready is None or "address" not in ready:
            reason = (ready or {}).get("error") or self._exit_reason()
            self.stop()
            raise LinkError(
                f"the link to {self.target[0]}:{self.target[1]} did not start: {reason}"
            )
        self.address = (str(ready["address"][0]), int(ready["address"][1]))
        if self._partition is not None:
            self._ask({"set": {"partition": self._partition}})

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the child (asking, then SIGTERM, then SIGKILL) and reap it: on return no
        process is left. Every connection through the link is closed. Idempotent."""
        process = self._process
        if process is None:
            return
        if not self._gone:
            with contextlib.suppress(LinkError):
                self._ask({"stop": True}, timeout=timeout)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout)
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self._process = None
        self._gone = True
        self.address = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import asyncio

        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    # --- shaping, live ----------------------------------------------------------------

    @property
    def rtt(self) -> float:
        return self._rtt

    @rtt.setter
    def rtt(self, value: float) -> None:
        value = check_seconds(value, what="rtt")
        if self.running:
            self._ask({"set": {"rtt": value}})
        self._rtt = value

    @property
    def jitter(self) -> float:
        """The 99th percentile of the jitter added to each chunk one way (its median is a
        tenth of it); 0: none."""
        return self._jitter

    @jitter.setter
    def jitter(self, value: float) -> None:
        value = check_seconds(value, what="jitter")
        if self.running:
            self._ask({"set": {"jitter": value}})
        self._jitter = value

    @property
    def jitter_p50(self) -> float:
        """The jitter's median one way: a tenth of :attr:`jitter` (its p99)."""
        return self._jitter / 10

    @property
    def partition(self) -> Partition | None:
        return self._partition

    @partition.setter
    def partition(self, value: Partition | None) -> None:
        value = check_partition(value)
        if self.running:
            self._ask({"set": {"partition": value}})
        self._partition = value

    def relay_url(self, url: str) -> str:
        """``url`` pointed at this link (which must be started): user, password,
        database and options kept."""
        if self.address is None:
            raise LinkError("the link is not started: it has no address yet")
        return relay_url(url, self.address)

    def measured_rtt(self) -> float | None:
        """The RTT measured through the link at its last report (every ``interval``
        seconds): the median of the last probes through the relay's delay lines (one a
        report, since the last change) plus the kernel's RTT of a connection to the
        server. None before the first report and during a partition."""
        with self._changed:
            value = self._stats.get("measured_rtt")
        return None if value is None else float(value)

    def probe(self) -> float | None:
        """Measure now (see :meth:`measured_rtt`), waiting for the answer."""
        self._ask({"probe": True}, timeout=ANSWER_TIMEOUT + 2 * self._rtt + 10 * self._jitter)
        return self.measured_rtt()

    def stats(self) -> dict[str, Any]:
        """The relay's counters now: connections, accepted, refused, bytes_up,
        bytes_down, held (bytes waiting), rtt, jitter, partition, measured_rtt,
        probe_rtt (what the relay adds), network_rtt (the kernel's RTT to the server),
        listening, error."""
        return dict(self._ask({"stats": True}).get("stats", {}))

    # --- the control channel ----------------------------------------------------------

    def _ask(self, request: dict[str, Any], timeout: float = ANSWER_TIMEOUT) -> dict[str, Any]:
        process = self._process
        if process is None or process.stdin is None or self._gone:
            raise LinkError(f"the link's relay is not running ({self._exit_reason()})")
        with self._changed:
            self._next_id += 1
            ident = self._next_id
            try:
                process.stdin.write(json.dumps({"id": ident, **request}) + "\n")
                process.stdin.flush()
            except (OSError, ValueError):
                raise LinkError(f"the link's relay is gone ({self._exit_reason()})") from None
            self._changed.wait_for(lambda: ident in self._answers or self._gone, timeout)
            answer = self._answers.pop(ident, None)
        if answer is None:
            raise LinkError(f"the link's relay did not answer ({self._exit_reason()})")
        if answer.get("error"):
            raise LinkError(f"the link's relay: {answer['error']}")
        return answer

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._changed:
                if "stats" in message:
                    self._stats = message["stats"]
                if "ready" in message:
                    self._ready = message["ready"]
                elif "id" in message:
                    self._answers[message["id"]] = message
                elif "error" in message and self._ready is None:
                    self._ready = {"error": message["error"]}
                self._changed.notify_all()
        with self._changed:
            self._gone = True
            self._changed.notify_all()

    def _exit_reason(self) -> str:
        process = self._process
        if process is None:
            return "not started"
        code = process.poll()
        if code is None:
            return "still running"
        last = ""
        if self._stderr is not None and not self._stderr.closed:
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            last = f": {lines[-1]}" if lines else ""
        return f"exited with status {code}{last}"
