"""Every step the engine takes is an Event; the EventLog keeps the recent ones."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum


class EventKind(StrEnum):
    HIT = "hit"  # cache hit
    MISS = "miss"  # cache miss
    QUEUE_HIT = "queue-hit"  # a miss served from the pending write queue
    DB_READ = "db-read"
    CACHE_FILL = "cache-fill"
    CACHE_SET = "cache-set"
    INVALIDATE = "invalidate"
    DB_WRITE = "db-write"  # rows written in one transaction (write-through/-around)
    ENQUEUE = "enqueue"  # write-behind: a new pending write
    COALESCE = "coalesce"  # write-behind: absorbed into a pending write
    BACKPRESSURE = "backpressure"  # write-behind: the caller waits for room
    FLUSH = "flush"  # write-behind: a batch landed in one transaction
    RETRY = "retry"  # a failed DB attempt that will be tried again
    EVICT = "evict"
    EXPIRE = "expire"
    ACK = "ack"  # an update was acknowledged
    CRASH = "crash"
    POLICY = "policy"
    EXTERNAL = "external"  # a DB write that bypassed the cache
    FAULT = "fault"  # a fault was switched on or off
    CACHE_DOWN = "cache-down"  # the cache store became unreachable: reads go to the DB
    CACHE_UP = "cache-up"  # the cache store answers again
    CONFLICT = "conflict"  # a write's base version was gone: another writer got there first
    DEAD_LETTER = "dead-letter"  # a write parked (rejected or conflicting), or retried/discarded
    REPLAY = "replay"  # write-behind: writes recovered from a durable queue after a crash
    SETTLE = "settle"  # a commit of unknown outcome settled by its row's write id
    ERROR = "error"


class Event:
    """One step: which operation, what happened, to which user and version, how long."""

    __slots__ = ("op_id", "kind", "user_id", "version", "duration", "at", "detail")

    def __init__(
        self,
        op_id: int,
        kind: EventKind,
        user_id: int | None,
        version: int | None,
        duration: float | None,
        at: float,
        detail: str,
    ) -> None:
        self.op_id = op_id
        self.kind = kind
        self.user_id = user_id
        self.version = version
        self.duration = duration  # seconds, for steps that take time
        self.at = at  # time.perf_counter() when it happened
        self.detail = detail

    def __repr__(self) -> str:
        return (
            f"Event(op={self.op_id}, {self.kind.value}, user={self.user_id}, "
            f"v={self.version}, duration={self.duration}, {self.detail!r})"
        )

    def fields(self) -> Step:
        """The event as the plain tuple the log keeps (:data:`Step`)."""
        return (self.op_id, self.kind, self.user_id, self.version, self.duration, self.at,
                self.detail)  # fmt: skip


#: An event as the log keeps it: ``(op_id, kind, user_id, version, duration, at,
#: detail)``, :class:`Event`'s fields in order. A plain tuple costs a fifth of an
#: Event to build (the hot paths add two or three per operation); the log makes the
#: Event only for whoever asks (a subscriber, ``recent``, ``for_op``).
Step = tuple[int, EventKind, int | None, int | None, float | None, float, str]

Subscriber = Callable[[Event], None]


class EventLog:
    """A ring buffer of recent events plus synchronous subscribers.

    Subscribers are called inline for every event, so they must be cheap (append to
    a list, set a flag); a UI renders what they collected at its own pace.
    """

    def __init__(self, size: int = 2000) -> None:
        self._ring: deque[Step] = deque(maxlen=size)
        #: The ring's own append: a hot path may log a step with ``append(step)``, then
        #: ``notify(step)`` if ``subscribed`` (what :meth:`add` does, without its call).
        self.append = self._ring.append
        #: Whether anyone subscribed (the hot paths skip the call when nobody did).
        self.subscribed = False
        self._subscribers: list[Subscriber] = []

    def emit(self, event: Event) -> None:
        self.add(event.fields())

    def add(self, step: Step) -> None:
        """Log one event given as its plain tuple (:data:`Step`)."""
        self.append(step)
        if self.subscribed:
            self.notify(step)

    def notify(self, step: Step) -> None:
        """Call the subscribers with the event ``step`` (already in the ring)."""
        event = Event(*step)
        for subscriber in self._subscribers:
            subscriber(event)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(event)`` for every future event; returns an unsubscribe."""
        self._subscribers.append(subscriber)
        self.subscribed = True

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            self.subscribed = bool(self._subscribers)

        return unsubscribe

    def recent(self, limit: int | None = None) -> list[Event]:
        steps = list(self._ring)
        return [Event(*step) for step in (steps if limit is None else steps[-limit:])]

    def for_op(self, op_id: int) -> list[Event]:
        return [Event(*step) for step in self._ring if step[0] == op_id]
