"""Giving up on a database across a network: the moment after which no call waits.

A partition (the link's ``blackhole``) holds a reply, or the connection a call waits for,
until the call's own timeout: ``--db-timeout``, up to an hour. ``close()`` has a bound of
its own (``flush_timeout``): it sets the moment it gives up (:meth:`GivingUp.set`), and
from then on no call waits any longer. A reply still in flight then is given up (its
connection closed: a commit sent on it may have landed or not), a connection still
awaited too; a call that begins later still gets up to :data:`GRACE`, so that a database
that answers is not given up on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

#: What a call waiting on the network gets at least, once the give-up moment has passed.
GRACE = 1.0


class Bound:
    """One call's deadline (a loop time): its own timeout from its start, brought forward
    to the give-up moment (never less than GRACE, or its own timeout if shorter, from its
    start). ``move(when)`` is told each new deadline."""

    def __init__(self, seconds: float, move: Callable[[float], None]) -> None:
        self.start = asyncio.get_running_loop().time()
        self.own = self.start + seconds
        self.floor = self.start + min(GRACE, seconds)
        self.when = self.own
        self._move = move

    def give_up_at(self, at: float | None) -> None:
        when = self.own if at is None else min(self.own, max(at, self.floor))
        if when != self.when:
            self.when = when
            self._move(when)

    @property
    def given_up(self) -> bool:
        """Whether the deadline is the give-up moment, not the call's own timeout."""
        return self.when < self.own


class GivingUp:
    """The give-up moment of one database's calls, and the calls bound by it."""

    def __init__(self) -> None:
        self.at: float | None = None  # a loop time; None: each call's own timeout
        self._bounds: set[Bound] = set()

    def set(self, seconds: float | None) -> None:
        """Give up ``seconds`` from now (None: no more; each call has its own timeout
        again, the calls in flight included)."""
        loop = asyncio.get_running_loop()
        self.at = None if seconds is None else loop.time() + max(0.0, seconds)
        for bound in list(self._bounds):
            bound.give_up_at(self.at)

    def remaining(self, seconds: float) -> float:
        """How long a call beginning now may wait, at most ``seconds``."""
        if self.at is None:
            return seconds
        left = self.at - asyncio.get_running_loop().time()
        return min(seconds, max(left, min(GRACE, seconds)))

    @contextlib.contextmanager
    def bound(self, seconds: float, move: Callable[[float], None]) -> Iterator[Bound]:
        """A call's deadline for the block: ``move(when)`` at once and whenever the
        give-up moment brings it forward (or back)."""
        bound = Bound(seconds, move)
        bound.give_up_at(self.at)
        if bound.when == bound.own:
            move(bound.own)
        self._bounds.add(bound)
        try:
            yield bound
        finally:
            self._bounds.discard(bound)


def reschedule(limit: asyncio.Timeout, when: float) -> None:
    """Move an ``asyncio.timeout`` block's deadline (a ``move`` for :meth:`GivingUp.bound`)."""
    if not limit.expired():
        limit.reschedule(when)
