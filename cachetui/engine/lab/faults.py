"""Fault knobs the lab injects into every database call the engine makes, and a switch
that makes the cache store unreachable."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from cachetui.engine.errors import DatabaseUnavailable, ValidationError

FaultListener = Callable[[str, object], None]


class Faults:
    """``db_down`` (every DB call fails), ``db_latency`` (seconds added to every DB call),
    ``db_error_rate`` (0..1: the share of DB calls that fail), ``cache_down`` (the cache
    store is treated as unreachable, as when a Redis server goes away). Invalid values
    raise ValidationError and change nothing."""

    def __init__(self, seed: int | None = None) -> None:
        self._db_down = False
        self._db_latency = 0.0
        self._db_error_rate = 0.0
        self._cache_down = False
        self._random = random.Random(seed)
        self._listener: FaultListener | None = None

    def set_listener(self, listener: FaultListener | None) -> None:
        self._listener = listener

    @property
    def db_down(self) -> bool:
        return self._db_down

    @db_down.setter
    def db_down(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise ValidationError(f"db_down must be True or False, got {value!r}")
        if value != self._db_down:  # only a change is an event
            self._db_down = value
            self._changed("db_down", value)

    @property
    def db_latency(self) -> float:
        return self._db_latency

    @db_latency.setter
    def db_latency(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
            raise ValidationError(f"db_latency must be 0–60 seconds, got {value!r}")
        if float(value) != self._db_latency:  # only a change is an event
            self._db_latency = float(value)
            self._changed("db_latency", value)

    @property
    def db_error_rate(self) -> float:
        return self._db_error_rate

    @db_error_rate.setter
    def db_error_rate(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValidationError(f"db_error_rate must be between 0 and 1, got {value!r}")
        if float(value) != self._db_error_rate:  # only a change is an event
            self._db_error_rate = float(value)
            self._changed("db_error_rate", value)

    @property
    def cache_down(self) -> bool:
        return self._cache_down

    @cache_down.setter
    def cache_down(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise ValidationError(f"cache_down must be True or False, got {value!r}")
        if value != self._cache_down:
            self._cache_down = value
            self._changed("cache_down", value)

    @property
    def db_faulty(self) -> bool:
        """Whether a database fault (outage, latency, error rate) is injected."""
        return self._db_down or self._db_latency > 0 or self._db_error_rate > 0

    @property
    def active(self) -> bool:
        return self._db_down or self._db_latency > 0 or self._db_error_rate > 0 or self._cache_down

    def describe(self) -> str:
        """A short human summary, empty when no fault is active."""
        parts = []
        if self._db_down:
            parts.append("DB down")
        if self._db_latency:
            parts.append(f"DB latency {self._db_latency * 1000:g} ms")
        if self._db_error_rate:
            parts.append(f"DB errors {self._db_error_rate:.0%}")
        if self._cache_down:
            parts.append("cache down")
        return ", ".join(parts)

    def clear(self) -> None:
        self.db_down = False
        self.db_latency = 0.0
        self.db_error_rate = 0.0
        self.cache_down = False

    async def before_db_call(self) -> None:
        """Apply the active faults to one database call: wait, then maybe fail."""
        if self._db_latency:
            await asyncio.sleep(self._db_latency)
        if self._db_down:
            raise DatabaseUnavailable("database is down (injected outage)")
        if self._db_error_rate and self._random.random() < self._db_error_rate:
            raise DatabaseUnavailable(
                f"database error (injected, error rate {self._db_error_rate:.0%})",
                transient=True,
            )

    def _changed(self, name: str, value: object) -> None:
        if self._listener is not None:
            self._listener(name, value)
