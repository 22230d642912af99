"""What the checker holds of each record: compact tuples (a history of a million
operations must fit), with ``src`` saying where the record came from
(``file_index << 32 | line``)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import NamedTuple


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a history is read or judged. It never
    untracks a tuple subclass, so each of a million records would stay on its lists,
    walked again by each full collection made while they are being made (a third of
    the time reading a file took). Nothing made here forms a cycle. After, what was
    made goes to the oldest generation as it is (``freeze`` then ``unfreeze``: two list
    splices), not through a young collection that would walk it all at once; the
    collector is restarted if it ran before."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


class Op(NamedTuple):
    invoke: int
    complete: int
    caller: str
    op: str
    user: int
    write_id: str | None
    version: int | None
    outcome: str
    policy: str
    queue: str
    instance: str
    op_id: int
    src: int


class Landing(NamedTuple):
    ns: int
    write_id: str | None
    user: int
    version: int
    tx: int | None
    instance: str
    src: int


class Final(NamedTuple):
    ns: int
    user: int
    db_version: int | None
    db_write_id: str | None
    pending: tuple[str | None, ...]
    parked: str | None
    cache: tuple[int, str | None] | None
    policy: str
    src: int


class Epoch(NamedTuple):
    ns: int
    epoch: int
    reason: str
    instance: str
    src: int


class UserOps:
    """One user's operations as fed, and the three kinds judging looks at, sorted out as
    they are fed (walking a million records again costs a cache miss each): the
    successful reads that returned a version, the acknowledged writes with an id, and
    the external writes that made a version."""

    __slots__ = ("ops", "reads", "acked", "foreign")

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.reads: list[Op] = []
        self.acked: list[Op] = []
        self.foreign: list[Op] = []

    def add(self, o: Op) -> None:
        """Keep ``o`` (:meth:`.checker.Checker.feed_batch` does the same inline)."""
        self.ops.append(o)
        if o.outcome == "ok":
            if o.op == "read":
                if o.version is not None:
                    self.reads.append(o)
            elif o.op == "update":
                if o.write_id is not None:
                    self.acked.append(o)
            elif o.version is not None:  # external
                self.foreign.append(o)
