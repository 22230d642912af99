"""What the checker holds of each record: compact tuples (a history of a million
operations must fit), with ``src`` saying where the record came from
(``file_index << 32 | line``)."""

from __future__ import annotations

from typing import NamedTuple


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
