"""Engine configuration and the write policies."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cachetui.engine.errors import ValidationError
from cachetui.engine.queue.url import parse_queue_url
from cachetui.engine.stores.redis_url import mask_url


class WritePolicy(StrEnum):
    """How an update reaches the cache and the database (docs/engine.md, "Semantics")."""

    WRITE_THROUGH = "write-through"
    WRITE_BEHIND = "write-behind"
    WRITE_AROUND = "write-around"
    NO_CACHE = "no-cache"

    @classmethod
    def parse(cls, value: WritePolicy | str) -> WritePolicy:
        if isinstance(value, WritePolicy):
            return value
        try:
            return cls(str(value).strip().lower().replace("_", "-"))
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise ValidationError(
                f"unknown write policy {value!r}: choose one of {names}", field="policy"
            ) from None


EVICTIONS = ("lru", "lfu", "fifo")
CONFLICT_RULES = ("reject", "overwrite")
#: ``claim_after``'s range in seconds (``--claim-after``).
CLAIM_AFTER_RANGE = (2.0, 3600.0)


@dataclass(slots=True)
class EngineConfig:
    """Everything an :class:`Engine` needs; invalid values raise ValidationError."""

    #: The SQLite file ("" → ``profiles.db``, unless ``db_url`` is given).
    db_path: str = ""
    #: The database as a URL: a PostgreSQL server (``postgresql://…``, ``postgres://…``;
    #: libpq's conventions pass through), or ``sqlite:///PATH`` / a path (then it becomes
    #: ``db_path``). Not together with ``db_path``.
    db_url: str | None = None
    #: PostgreSQL: connections in the pool, and the connect and statement timeout (s).
    db_pool: int = 10
    db_timeout: float = 10.0
    #: A link (a TCP relay of our own in a child process, docs/link.md) in front of the
    #: database server / the Redis cache, adding this round-trip time (seconds; None:
    #: nothing in the path), and ``jitter`` (the p99 of a one-way lognormal delay).
    db_rtt: float | None = None
    cache_rtt: float | None = None
    jitter: float = 0.0
    cache_url: str = "memory://"
    policy: WritePolicy | str = WritePolicy.WRITE_THROUGH
    capacity: int = 1000
    eviction: str = "lru"
    ttl: float | None = None
    flush_interval: float = 0.5
    batch_size: int = 100
    max_pending: int = 10_000
    #: Row-permanent failures (constraint, trigger, mismatch) of one write-behind row
    #: before it is parked as a dead letter.
    max_attempts: int = 3
    #: What a write-behind write whose base version is gone does: "reject" parks it as a
    #: dead letter of kind conflict; "overwrite" replaces the row (version = db's + 1).
    conflict: str = "reject"
    #: Where the write-behind queue lives: "memory://" (in the process: lost on a crash),
    #: "sqlite://" (a durable outbox file ``<db_path>.outbox``; ``sqlite:///rel/path`` or
    #: ``sqlite:////abs/path`` choose it). See :mod:`cachetui.engine.queue.outbox`.
    queue_url: str = "memory://"
    #: First retry delay of a failed write-behind batch; doubles up to ``retry_cap``.
    retry_base: float = 0.05
    retry_cap: float = 2.0
    #: How long flush(), set_policy() and close() keep retrying a failing database.
    flush_timeout: float = 5.0
    #: Events kept in the ring buffer that ``Engine.recent_events()`` returns.
    event_buffer: int = 2000
    #: Seed of the random source behind ``db_error_rate`` (None: unseeded).
    fault_seed: int | None = None
    #: Wall clock (epoch seconds) for ``updated_at``; replaceable for deterministic tests.
    clock: Callable[[], float] = field(default=time.time)
    #: Monotonic seconds that place operations in ``Engine.metrics_window()``'s 1 s
    #: buckets (None: ``time.perf_counter``). Inject one to step time by hand (tests) or
    #: to share one clock between engines (a comparison, a benchmark).
    metrics_clock: Callable[[], float] | None = None
    #: Monotonic seconds the in-process cache counts its TTL in (None: ``time.monotonic``);
    #: inject one to let entries expire by hand (tests). Redis counts its own TTL.
    cache_clock: Callable[[], float] | None = None
    #: The history (docs/verdicts.md): records kept in memory, and a file to stream them
    #: to as JSON lines (None: memory only), capped at ``history_max_bytes`` with ``.1``.
    history_ring: int = 100_000
    history_path: str | None = None
    history_max_bytes: int | None = None
    #: A shared Redis Stream queue: entries of an owner whose last heartbeat is older
    #: than this many seconds (2 to 3600) are taken over (see
    #: :mod:`cachetui.engine.queue.stream`); on this host a dead process is seen at once.
    claim_after: float = 10.0
    #: The name this instance registers under in ``cachetui_meta`` (None: host/pid).
    instance_name: str | None = None
    #: A Redis server whose pub/sub makes a ``memory://`` cache a near cache: instances
    #: on one database announce the users they change and drop the ones others announce
    #: (:mod:`cachetui.engine.stores.near_cache`). None: no announcements.
    invalidate_url: str | None = None
    #: With a ``redis://`` queue: the fleet queue, shared by every instance on the
    #: database (a sequencer assigns versions; partitions leased for landing; see
    #: :mod:`cachetui.engine.fleet.fleet_queue`). ``cachetui worker`` sets it.
    fleet: bool = False

    def __post_init__(self) -> None:
        self.policy = WritePolicy.parse(self.policy)
        self.eviction = str(self.eviction).lower()
        if self.eviction not in EVICTIONS:
            raise ValidationError(
                f"unknown eviction {self.eviction!r}: choose one of {', '.join(EVICTIONS)}",
                field="eviction",
            )
        _positive_int("capacity", self.capacity)
        _positive_int("batch_size", self.batch_size)
        _positive_int("max_pending", self.max_pending)
        _positive_int("event_buffer", self.event_buffer)
        _positive_int("max_attempts", self.max_attempts)
        self.conflict = str(self.conflict).strip().lower()
        if self.conflict not in CONFLICT_RULES:
            raise ValidationError(
                f"unknown conflict rule {self.conflict!r}: choose one of "
                f"{', '.join(CONFLICT_RULES)}",
                field="conflict",
            )
        if self.ttl is not None:
            _positive_number("ttl", self.ttl)
        _positive_number("flush_interval", self.flush_interval)
        _positive_number("retry_base", self.retry_base)
        _positive_number("retry_cap", self.retry_cap)
        _positive_number("flush_timeout", self.flush_timeout, allow_zero=True)
        self._database()
        self._links()
        _positive_int("db_pool", self.db_pool)
        _positive_number("db_timeout", self.db_timeout)
        if not 0.01 <= self.db_timeout <= 3600:
            raise ValidationError(
                f"db_timeout must be 0.01 to 3600 seconds, got {self.db_timeout!r}",
                field="db_timeout",
            )
        parse_queue_url(self.queue_url, self.db_path)
        self._history()
        claim = self.claim_after
        if (
            isinstance(claim, bool)
            or not isinstance(claim, int | float)
            or not CLAIM_AFTER_RANGE[0] <= claim <= CLAIM_AFTER_RANGE[1]
        ):
            raise ValidationError(
                f"claim_after must be {CLAIM_AFTER_RANGE[0]:g} to {CLAIM_AFTER_RANGE[1]:g} "
                f"seconds, got {self.claim_after!r}",
                field="claim_after",
            )
        if not isinstance(self.cache_url, str) or "://" not in self.cache_url:
            raise ValidationError(
                f"cache_url must look like memory:// or redis://HOST:PORT/DB, got "
                f"{self.cache_url!r}",
                field="cache_url",
            )
        if self.invalidate_url is not None:
            _near_cache(self.invalidate_url, self.cache_url)

    def _database(self) -> None:
        """Settle ``db_path`` and ``db_url``: a PostgreSQL URL stays in ``db_url`` (and
        ``db_path`` names it, password masked); a SQLite one becomes ``db_path``."""
        if not isinstance(self.db_path, str):
            raise ValidationError("db_path must be a file path or ':memory:'", field="db_path")
        if self.db_url is None:
            self.db_path = self.db_path or "profiles.db"
            return
        if self.db_path and self.db_path != mask_url(str(self.db_url)):  # (a copy's)
            raise ValidationError(
                "give db_url or db_path, not both (db_url names a PostgreSQL server or "
                "a SQLite file, db_path a SQLite file)",
                field="db_url",
            )
        url = self.db_url.strip() if isinstance(self.db_url, str) else ""
        scheme, sep, rest = url.partition("://")
        if sep and scheme.lower() in ("postgresql", "postgres"):
            self.db_url = url
            self.db_path = mask_url(url)
        elif sep and scheme.lower() == "sqlite" and rest.startswith("/") and rest != "/":
            self.db_url, self.db_path = None, rest[1:]
        elif url and not sep:
            self.db_url, self.db_path = None, url
        else:
            raise ValidationError(
                f"unknown database URL {mask_url(url) if sep else url!r}: use a SQLite file "
                "path, sqlite:///PATH, or postgresql://USER@HOST:PORT/DBNAME",
                field="db_url",
            )

    def _history(self) -> None:
        _positive_int("history_ring", self.history_ring)
        if self.history_max_bytes is not None:
            _positive_int("history_max_bytes", self.history_max_bytes)
        if self.history_path is not None:
            if not isinstance(self.history_path, str) or not self.history_path:
                raise ValidationError("history_path must be a file path", field="history_path")
            folder = os.path.dirname(os.path.abspath(self.history_path))
            problem = "it is a folder" if os.path.isdir(self.history_path) else None
            if not os.path.isdir(folder):
                problem = f"no folder {folder}"
            if problem:
                raise ValidationError(
                    f"cannot write the history file {self.history_path!r}: {problem}",
                    field="history_path",
                )

    def _links(self) -> None:
        from cachetui.engine.lab.link.durations import check_seconds

        self.jitter = check_seconds(self.jitter, what="jitter")
        if self.db_rtt is not None:
            self.db_rtt = check_seconds(self.db_rtt, what="db_rtt")
            if self.db_url is None:
                raise ValidationError(
                    "db_rtt needs a database server (db_url='postgresql://…'): a SQLite "
                    "file has no network to delay (its latency fault does that)",
                    field="db_rtt",
                )
        if self.cache_rtt is not None:
            self.cache_rtt = check_seconds(self.cache_rtt, what="cache_rtt")
            if "://" not in self.cache_url or self.cache_url.lower().startswith("memory"):
                raise ValidationError(
                    "cache_rtt needs a Redis cache (cache_url='redis://…'): the in-process "
                    "store has no network to delay",
                    field="cache_rtt",
                )


def _near_cache(url: object, cache_url: str) -> None:
    from cachetui.engine.stores.redis_url import parse_redis_url

    if not isinstance(url, str):
        raise ValidationError(
            f"invalidate_url must be a redis:// URL, got {url!r}", field="invalidate_url"
        )
    try:
        parse_redis_url(url)
    except ValidationError as exc:
        raise ValidationError(f"invalidate_url: {exc}", field="invalidate_url") from None
    if cache_url.lower() != "memory://":
        raise ValidationError(
            "invalidate_url makes per-instance caches a near cache: it needs "
            "cache_url='memory://' (a Redis cache is one cache shared by the instances)",
            field="invalidate_url",
        )


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be an integer >= 1, got {value!r}", field=name)


def _positive_number(name: str, value: object, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0  # type: ignore[operator]
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(f"{name} must be a number {bound}, got {value!r}", field=name)
