"""``cachetui worker`` processes a scenario starts beside the dashboard (the verbs
``worker``, ``kill-worker`` and ``await-landed``): each on the engine's database and fleet
queue, write-behind, updating its users at a steady rate and recording its history, so
that a step can SIGKILL one mid-burst and then judge, from that history and the
database, whether any write it acknowledged was lost.

A scenario's workers are stopped (SIGTERM: they flush and leave) whenever the scenario
returns to its baseline, steps back, or ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cachetui.engine import CacheTuiError, Engine

#: Seconds a worker may take to print its first status line (it has joined the fleet).
START_WITHIN = 30.0
#: Seconds a stopped worker may take to flush and leave before it is killed.
STOP_WITHIN = 10.0
#: What a worker's flusher waits between two landings (seconds).
WORKER_FLUSH = 0.2
PR_SET_PDEATHSIG = 1  # prctl(2)


class WorkerError(CacheTuiError):
    """A worker could not be started, or is not there to kill: the step's error."""


@dataclass(slots=True)
class Worker:
    """One ``cachetui worker`` process of the scenario."""

    name: str
    process: asyncio.subprocess.Process
    history: Path
    errors: Path
    killed: bool = False


@dataclass(slots=True)
class Landing:
    """What became of the writes a killed worker acknowledged."""

    name: str
    acknowledged: int  # updates its history says it acknowledged
    stranded: int  # of its writes, still in the fleet queue when it was killed
    left: int  # still in the fleet queue after the wait
    lost: int  # acknowledged, not in the database and not pending: should be 0
    claimed_by: list[str] = field(default_factory=list)


class FleetWorkers:
    """The worker processes of one scenario run, by name."""

    def __init__(self) -> None:
        self.workers: dict[str, Worker] = {}
        self._folder: Path | None = None
        self.killed: dict[str, Landing] = {}  # the workers killed, and their writes
        self._owners: dict[str, str] = {}  # a killed worker's owner id in the fleet
        self._held: dict[str, list[int]] = {}  # the partitions it held when killed
        self._tasks: set[asyncio.Task[None]] = set()  # reading the workers' status lines

    def names(self) -> list[str]:
        """The workers running, in the order started."""
        return [w.name for w in self.workers.values() if not w.killed]

    async def start(self, engine: Engine, name: str, rate: int) -> None:
        """Start worker ``name`` on ``engine``'s database and fleet queue, updating every
        user (uniformly) at ``rate`` a second; return once it has joined the fleet."""
        if name in self.workers:
            raise WorkerError(f"a worker named {name!r} was started already")
        if await engine.fleet_status() is None:
            raise WorkerError(
                "a worker needs the fleet queue: start cachetui on this database with "
                "--queue redis://HOST:6379/0 (docs/fleet.md)"
            )
        config = engine.config
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="cachetui-scenario-workers-"))
        history = self._folder / f"{name}.jsonl"
        errors = self._folder / f"{name}.err"
        args = ["--db", config.db_url or config.db_path, "--queue", config.queue_url]
        args += ["--policy", "write-behind", "--name", name, "--conflict", config.conflict]
        args += ["--rate", str(rate), "--read-ratio", "0", "--zipf", "0"]
        args += ["--profiles", "0", "--flush-interval", str(WORKER_FLUSH)]
        args += ["--claim-after", f"{config.claim_after:g}", "--history", str(history)]
        with errors.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cachetui",
                "worker",
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                preexec_fn=_dies_with_parent,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        worker = Worker(name, process, history, errors)
        self.workers[name] = worker
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_WITHIN)
        except TimeoutError:
            line = b""
        if not line:
            await self._end(worker, signal.SIGKILL)
            said = errors.read_text(errors="replace").strip().splitlines()
            why = said[-1] if said else f"no status line within {START_WITHIN:g} s"
            raise WorkerError(f"worker {name!r} did not start: {why}")
        # its status lines from now on are read and dropped (a full pipe would stall it)
        self._tasks.add(asyncio.get_running_loop().create_task(_drain(process.stdout)))
        await _share_taken(engine, name)

    async def kill(self, engine: Engine, name: str) -> None:
        """SIGKILL worker ``name`` (and reap it: on this host a process gone is seen dead
        at once); note which of its writes were still in the fleet queue."""
        worker = self.workers.get(name)
        if worker is None or worker.killed:
            running = ", ".join(self.names()) or "none"
            raise WorkerError(f"no worker named {name!r} is running (running: {running})")
        owner = await self._owner(engine, name)
        await self._end(worker, signal.SIGKILL)
        pending = await engine.fleet_pending(1_000_000)
        stranded = sum(1 for p in pending if p.acknowledged_by == owner)
        self.killed[name] = Landing(name, 0, stranded, stranded, 0)
        self._owners[name] = owner

    async def await_landed(self, engine: Engine, timeout: float) -> None:
        """Wait until no write a killed worker acknowledged is left in the fleet queue
        (flushing this instance's share meanwhile), at most ``timeout`` seconds; then
        judge each killed worker's writes against the database."""
        deadline = time.monotonic() + timeout
        owners = {name: self._owners[name] for name in self.killed}
        while True:
            pending = await engine.fleet_pending(1_000_000)
            left = {n: sum(p.acknowledged_by == o for p in pending) for n, o in owners.items()}
            if not any(left.values()) or time.monotonic() > deadline:
                break
            if engine.pending_writes():
                await engine.flush(timeout=engine.config.flush_timeout)
            await asyncio.sleep(0.1)
        status = await engine.fleet_status()
        names = {m.owner: m.name for m in status.members} if status is not None else {}
        for name, landing in self.killed.items():
            landing.left = left[name]
            acked = _acknowledged(self.workers[name].history)
            landing.acknowledged = sum(acked.values())
            newest = {user: version for user, (version, _) in _newest(acked).items()}
            rows = await engine.db_rows(list(newest))
            waiting = {p.user_id for p in pending}
            landing.lost = sum(
                1
                for user, version in newest.items()
                if user not in waiting and (rows.get(user) is None or rows[user].version < version)
            )
            landing.claimed_by = sorted(
                {
                    names.get(holder, holder)
                    for partition, (holder, _) in (status.holders.items() if status else ())
                    if partition in self._held.get(name, ())
                }
            )

    async def stop_all(self) -> None:
        """SIGTERM every worker still running (they flush and leave), then forget them."""
        workers = list(self.workers.values())
        await asyncio.gather(*(self._end(w, signal.SIGTERM) for w in workers if not w.killed))
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.workers.clear()
        self.killed.clear()
        self._owners.clear()
        self._held.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    async def _owner(self, engine: Engine, name: str) -> str:
        """Worker ``name``'s owner id in the fleet, and the partitions it holds now."""
        status = await engine.fleet_status()
        for member in status.members if status is not None else ():
            if member.name == name and member.live:
                self._held[name] = list(member.partitions)
                return member.owner
        raise WorkerError(f"worker {name!r} is not a live member of the fleet")

    async def _end(self, worker: Worker, how: signal.Signals) -> None:
        process = worker.process
        worker.killed = True
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(how)
            try:
                await asyncio.wait_for(process.wait(), STOP_WITHIN)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


def fleet_values(workers: FleetWorkers) -> dict[str, object]:
    """The narration's values of the fleet: the workers running, and what became of the
    last killed one's writes (its counts are 0 until ``await-landed`` judged them)."""
    landing = list(workers.killed.values())[-1] if workers.killed else None
    if landing is None:
        landing = Landing("nobody", 0, 0, 0, 0)
    return dict(
        workers=", ".join(workers.names()) or "none",
        killed=landing.name,
        stranded=landing.stranded,
        claimed_by=", ".join(landing.claimed_by) or "nobody",
        claimed_landed=landing.stranded - landing.left,
        claimed_left=landing.left,
        fleet_acked=landing.acknowledged,
        fleet_lost=landing.lost,
    )


def _libc() -> ctypes.CDLL | None:
    """The C library, loaded in this process (never in a child between fork and exec)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc() if sys.platform == "linux" else None


def _dies_with_parent() -> None:
    """In the child, before it runs: on Linux, SIGTERM it when the process that started
    it dies (a dashboard killed mid-scenario leaves no worker running). One system call,
    through the C library loaded beforehand."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


async def _share_taken(engine: Engine, name: str) -> None:
    """Wait until worker ``name`` holds partitions (at most :data:`START_WITHIN`): this
    instance gives one back once nothing of it is in its queue, so its queue is flushed
    meanwhile (a scenario's flush timer is paused)."""
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        status = await engine.fleet_status()
        if status is None or any(m.name == name and m.partitions for m in status.members):
            return
        if engine.pending_writes():
            await engine.flush(timeout=engine.config.flush_timeout)
        await asyncio.sleep(0.1)


async def _drain(stream: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await stream.readline():
            pass


def _acknowledged(history: Path) -> dict[tuple[int, int], int]:
    """The updates a history says were acknowledged: (user, version) → 1 (a killed
    process's last line may be cut: skipped)."""
    found: dict[tuple[int, int], int] = {}
    try:
        lines = history.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (
            isinstance(record, dict)
            and record.get("type") == "op"
            and record.get("op") == "update"
            and record.get("outcome") == "ok"
        ):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                found[(int(record["user"]), int(record["version"]))] = 1
    return found


def _newest(acked: dict[tuple[int, int], int]) -> dict[int, tuple[int, int]]:
    """Per user, the newest version acknowledged, and how many were."""
    newest: dict[int, tuple[int, int]] = {}
    for user, version in acked:
        top, count = newest.get(user, (0, 0))
        newest[user] = (max(top, version), count + 1)
    return newest
