"""The recorder: one record per operation, landing, epoch and (at close) per user,
written on the hot path as a tuple of plain values into the next slot of a fixed-size
ring (the newest ``ring_size``); a background task hands the new ones every tenth of a
second (and the hot path whenever the ring wraps) to the history file's writer thread,
which encodes them, and to the listeners.

Reads, updates and external writes are recorded with the ``perf_counter`` times the
engine takes anyway (:mod:`.records` says why those are ``time.monotonic_ns()``'s).
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast

from cachetui.engine.config import WritePolicy
from cachetui.engine.errors import EngineClosed, ProfileNotFound, ValidationError, WriteRejected
from cachetui.engine.history.callers import EXTERNAL_CALLER, current_caller
from cachetui.engine.history.records import (
    EXTERNAL,
    FAIL,
    INFO,
    OK,
    READ,
    UPDATE,
    Encoder,
    header,
)
from cachetui.engine.history.stream import HistoryFile

_caller = current_caller.get
#: A policy as the plain ``str`` it equals. A record holds only strings, numbers and None
#: (a plain tuple of those): the garbage collector untracks it at its first collection,
#: so a ring of 100,000 records costs the collector nothing. An enum member, or a
#: Profile (a tuple subclass, never untracked), would keep every record tracked and
#: every collection of the older generations would walk the whole ring (0.5–2 µs an
#: operation, measured with benchmarks/history.py).
_PLAIN: dict[str, str] = {p: p.value for p in WritePolicy}
_clock = time.perf_counter
#: Failures after which nothing was written: the operation ended ``fail``. Any other
#: failure of an update (outage, timeout, cancelled, interrupted by a crash) may have
#: written: ``info`` (neither acknowledged nor failed).
DEFINITE = (ValidationError, ProfileNotFound, WriteRejected, EngineClosed)
DRAIN_EVERY = 0.1  # seconds between two moves of new records to the ring and the file


class Written(Protocol):
    """What a record needs of a profile (a :class:`~cachetui.engine.profile.Profile`)."""

    @property
    def user_id(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def write_id(self) -> str | None: ...


class HistoryRecorder:
    """Always on. ``path``: stream the records there as JSON lines (``max_bytes``: the
    rotating cap of the file and its ``.1``)."""

    def __init__(
        self, ring_size: int = 100_000, path: str | None = None, max_bytes: int | None = None
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        # The ring: a fixed-size list written slot by slot, so that from the time it is
        # full each new record frees the one it replaces at once. Allocations and frees
        # of tracked objects stay even and recording never triggers the garbage
        # collector (appending to a list drained every 0.1 s did, every 700 operations).
        # ``_i``: the next slot; ``_done``: the first slot not drained yet (a drain runs
        # when the ring wraps, so no record is overwritten before the file and the
        # listeners have it).
        # It starts small and doubles up to ``ring_size`` (a bench's whole-run ring has a
        # bound never reached: it only grows).
        self.ring_size = max(2, ring_size)
        self._ring: list[tuple[Any, ...] | None] = [None] * min(self.ring_size, 1024)
        self._end = len(self._ring) - 1
        self._i = 0
        self._done = 0
        #: Every user an operation or a landing named (the final records' users).
        self.users: set[int] = set()
        self.transactions = 0
        #: How many records have been moved into the ring so far (a live judge's mark).
        self.drained = 0
        self.queue = "memory://"
        self.instance = ""
        #: Set before the engine starts to name a run on a database of its own in the
        #: file's header (``cachetui bench`` does): ``cachetui check`` refuses to judge
        #: files of different runs together (their rows' versions do not compare).
        self.run: str | None = None
        self.file: HistoryFile | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self._raw_listeners: list[Callable[[list[tuple[Any, ...]]], None]] = []
        self._live = Encoder(self.queue)
        self._queue_now: str | None = None  # the last queue record's URL

    # -- the hot path ----------------------------------------------------------------------
    def read(self, start: float, end: float, profile: Written, policy: str, op: int) -> None:
        i = self._i
        self._ring[i] = (
            "op", start, end, _caller(), READ, profile.user_id, profile.version,
            profile.write_id, OK, _PLAIN[policy], op,
        )  # fmt: skip
        if i == self._end:
            self._wrap()
        else:
            self._i = i + 1

    def update(self, start: float, end: float, profile: Written, policy: str, op: int) -> None:
        i = self._i
        self._ring[i] = (
            "op", start, end, _caller(), UPDATE, profile.user_id, profile.version,
            profile.write_id, OK, _PLAIN[policy], op,
        )  # fmt: skip
        if i == self._end:
            self._wrap()
        else:
            self._i = i + 1

    def _wrap(self) -> None:
        """The last slot was written: grow the ring (up to ``ring_size``), or drain and
        start again at the first slot."""
        ring = self._ring
        self._i += 1
        if len(ring) < self.ring_size:
            ring.extend([None] * min(len(ring), self.ring_size - len(ring)))
            self._end = len(ring) - 1
            return
        self.drain()
        self._i = self._done = 0

    def _add(self, record: tuple[Any, ...]) -> None:
        i = self._i
        self._ring[i] = record
        if i == self._end:
            self._wrap()
        else:
            self._i = i + 1

    def failed(
        self,
        start: float,
        name: str,
        user_id: int,
        exc: BaseException,
        policy: str,
        op: int,
        write_id: str | None = None,
    ) -> None:
        """An operation that raised: ``fail`` if nothing was written (a read, or an
        update refused before anything was written), else ``info``."""
        outcome = FAIL if name == READ or isinstance(exc, DEFINITE) else INFO
        self._add(
            ("op", start, _clock(), _caller(), name, user_id, None, write_id, outcome,
             str(policy), op)
        )  # fmt: skip

    def external(self, start: float, end: float, profile: Written, op: int) -> None:
        """The lab's external writer: a write with no write id, and the version it made."""
        self._add(
            ("op", start, end, EXTERNAL_CALLER, EXTERNAL, profile.user_id, profile.version,
             profile.write_id, OK, EXTERNAL, op)
        )  # fmt: skip

    def landed(self, profiles: Iterable[Written], *, found: bool = False) -> None:
        """Writes that landed in one transaction; ``found``: writes found in the database
        already (a durable queue's replay), not applied again (no transaction). A
        transaction that landed nothing (its rows all refused) takes no number, as it
        counts for nothing in the metrics' ``db_transactions``."""
        profiles = list(profiles)
        if not profiles:
            return
        now = _clock()
        tx = None
        if not found:
            self.transactions += 1
            tx = self.transactions
        for p in profiles:
            self._add(("landing", now, p.write_id, tx, p.version, p.user_id))

    def epoch(self, epoch: int, reason: str) -> None:
        self._add(("epoch", _clock(), epoch, reason, None, 0))

    def queue_changed(self, url: str) -> None:
        self._queue_now = url
        self._add(("queue", _clock(), url, None, None, 0))

    def final(
        self,
        user_id: int,
        db: Written | None,
        pending: Iterable[str | None],
        parked: str | None,
        cache: Written | None,
        policy: str,
    ) -> None:
        """The user's state at close: the database row (None: unknown, it did not
        answer), the write ids pending and parked, the cache entry."""
        self._add(
            (
                "final",
                _clock(),
                None if db is None else db.version,
                None if db is None else db.write_id,
                tuple(pending),
                user_id,
                parked,
                None if cache is None else cache.version,
                None if cache is None else cache.write_id,
                str(policy),
            )
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, instance: str, policy: str, queue: str) -> None:
        """Start streaming (header first) and the task that drains new records."""
        self.instance, self.queue = instance, queue
        self._live = Encoder(queue)
        if self.path is not None and self.file is None:
            try:
                self.file = HistoryFile(
                    self.path, header(instance, policy, queue, self.run), self.max_bytes
                )
            except OSError as exc:  # EngineConfig checked the folder: a race, or no space
                from cachetui.engine.history.stream import log

                log.error("history file %s: %s; not recording to it", self.path, exc)
        self._task = asyncio.get_running_loop().create_task(self._drain_loop())

    async def _drain_loop(self) -> None:
        while True:
            await asyncio.sleep(DRAIN_EVERY)
            self.drain()

    def drain(self) -> None:
        """Hand the records written since the last drain to the file and listeners."""
        start, end = self._done, self._i
        if start == end:
            return
        batch = cast("list[tuple[Any, ...]]", self._ring[start:end])
        self._done = end
        self.drained += len(batch)
        users = self.users
        users.update(map(_USER, batch))  # every record's user is its item 5 (0: none)
        users.discard(0)
        if self.file is not None:
            self.file.put(batch)
        for raw in self._raw_listeners:
            raw(batch)
        if self._listeners:
            dicts = list(self._live.dicts(batch))
            for listener in list(self._listeners):
                listener(dicts)
        elif self._queue_now is not None:  # as encoding the batch would have left it
            self._live.queue = self._queue_now

    def listen(self, listener: Callable[[list[dict[str, Any]]], None]) -> Callable[[], None]:
        """Call ``listener(records)`` with each batch of new records (as their JSON
        dicts; a live checker's feed); returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def listen_raw(self, listener: Callable[[list[tuple[Any, ...]]], None]) -> None:
        """Call ``listener(batch)`` with each batch of new records as the recorder holds
        them (tuples: :mod:`.records`), in order, after they join the ring (a live
        judge's feed, every ``DRAIN_EVERY`` s: small slices of the loop's time)."""
        self._raw_listeners.append(listener)

    def records(self) -> list[dict[str, Any]]:
        """The ring's records (the newest ``ring_size``) as their JSON dicts."""
        self.drain()
        return list(Encoder(self.queue).dicts(self.ring))

    def records_of(self, user: int) -> list[dict[str, Any]]:
        """The ring's records about ``user`` (operations, landings), with the epochs,
        as their JSON dicts (a timeline's)."""
        self.drain()
        mine = [r for r in self.ring if r[5] == user or r[0] == "epoch"]
        return list(Encoder(self.queue).dicts(mine))

    @property
    def ring(self) -> list[tuple[Any, ...]]:
        """The ring's records, oldest first (the newest ``ring_size``), as tuples."""
        ring, i = self._ring, self._i
        return [r for r in ring[i:] + ring[:i] if r is not None]

    async def stop(self) -> None:
        """Drain, stop the task and close the file (its thread writes what is left)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.drain()
        if self.file is not None:
            await asyncio.to_thread(self.file.close)
            self.file = None


_USER = operator.itemgetter(5)
