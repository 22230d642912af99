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
    """The cyclic garbage collector paused while a history is read or judged. The
    collector never untracks a tuple subclass, so each of a million records stays on
    its lists, and each full collection made while they are being made walks them all
    again (about a third of the time reading a file took). Nothing made here forms a
    cycle; the collector is restarted after, if it ran before."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
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
