"""Instances register in the database's ``cachetui_meta`` table, one row each (key
``instance:<token>``, value JSON: name, policy, queue kind, conflict setting, claim_after,
and the last heartbeat in the *database's* clock, so hosts' clocks need not agree).

An instance whose queue kind or conflict setting differs from a live one's (heartbeat
younger than that one's claim_after) is refused at start with one line naming it. Dead
registrations are ignored and deleted. Check and insert are one transaction (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: the table locked), so two starting at once cannot both
pass. The registry uses a connection of its own (never the engine's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from cachetui.engine.background import stop_if_asked
from cachetui.engine.errors import ValidationError
from cachetui.engine.queue.outbox import LIVE_OWNERS, owner_alive

PREFIX = "instance:"
#: The longest a closing instance waits to delete its registration (seconds).
REMOVE_WITHIN = 2.0
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_PG_NOW = "extract(epoch from clock_timestamp())::float8"


class FleetMismatch(ValidationError):
    """Another live instance on the database uses another queue kind or conflict rule."""


@dataclass(frozen=True, slots=True)
class Registration:
    """What one instance says of itself."""

    token: str
    name: str
    policy: str
    queue: str  # "memory", "sqlite", "redis" or "fleet"
    conflict: str
    claim_after: float
    #: The host, and the process (``pid:start time:n``, as an outbox's owner): on this
    #: host a registration whose process is gone is dead at once.
    host: str = ""
    owner: str = ""

    def value(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "host": self.host,
                "owner": self.owner,
                "policy": self.policy,
                "queue": self.queue,
                "conflict": self.conflict,
                "claim_after": self.claim_after,
            }
        )


QUEUE_WORDS = {
    "memory": "memory queue",
    "sqlite": "sqlite outbox",
    "redis": "redis stream",
    "fleet": "fleet queue (redis)",
}


def refusal(mine: Registration, other: dict[str, Any]) -> str | None:
    """The one line refusing ``mine`` beside the live ``other``, or None if they agree."""
    diffs = []
    if other.get("queue") != mine.queue:
        theirs = QUEUE_WORDS.get(str(other.get("queue")), str(other.get("queue")))
        diffs.append(f"its queue is a {theirs}, this one's a {QUEUE_WORDS[mine.queue]}")
    if other.get("conflict") != mine.conflict:
        diffs.append(f"its --conflict is {other.get('conflict')}, this one's {mine.conflict}")
    if not diffs:
        return None
    return (
        f"instance {other.get('name')} ({other.get('policy')}) is running on this database: "
        + "; ".join(diffs)
        + " (one database, one queue kind and conflict rule)"
    )


def _live(rows: list[tuple[str, str, float]], now: float) -> tuple[list[dict[str, Any]], list[str]]:
    """The live registrations, and the keys of dead (or unreadable) ones: a heartbeat
    older than the registration's claim_after, or on this host a process gone. This
    process's own engines are one instance (host/pid): neither."""
    live, dead = [], []
    host, mine = socket.gethostname(), f"{os.getpid()}:"
    for key, value, _ in rows:
        try:
            data = json.loads(value)
            if data.get("host") == host and str(data.get("owner")).startswith(mine):
                continue  # this process: one instance (host/pid), whatever its engines
            age = now - float(data["heartbeat"])
            fresh = age < float(data.get("claim_after", 10.0))
            if fresh and data.get("host") == host and data.get("owner"):
                fresh = owner_alive(str(data["owner"]))
        except (ValueError, KeyError, TypeError):
            fresh = False
        if fresh:
            live.append(data)
        else:
            dead.append(key)
    return live, dead


class SQLiteRegistry:
    """The registry in a SQLite file (a connection of its own, run in a thread)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        # One call at a time on the connection: a cancelled beat's thread runs on.
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(
                self.path, timeout=1.0, isolation_level=None, check_same_thread=False
            )
        return self._db

    def _register(self, me: Registration, check: bool) -> None:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            if check:
                rows = db.execute(
                    f"SELECT key, value, {_SQLITE_NOW} FROM cachetui_meta "
                    "WHERE key LIKE 'instance:%' AND key != ?",
                    (PREFIX + me.token,),
                ).fetchall()
                now = float(db.execute(f"SELECT {_SQLITE_NOW}").fetchone()[0])
                live, dead = _live(rows, now)
                for other in live:
                    line = refusal(me, other)
                    if line:
                        raise FleetMismatch(line, field="queue_url")
                db.executemany("DELETE FROM cachetui_meta WHERE key = ?", [(k,) for k in dead])
            db.execute(
                "INSERT OR REPLACE INTO cachetui_meta (key, value) VALUES "
                f"(?, json_set(?, '$.heartbeat', {_SQLITE_NOW}))",
                (PREFIX + me.token, me.value()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _remove(self, token: str) -> None:
        db = self._conn()
        db.execute("DELETE FROM cachetui_meta WHERE key = ?", (PREFIX + token,))
        db.close()
        self._db = None

    def _locked(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            fn(*args)

    async def register(self, me: Registration, *, check: bool) -> None:
        await asyncio.to_thread(self._locked, self._register, me, check)

    async def remove(self, token: str) -> None:
        await asyncio.to_thread(self._locked, self._remove, token)


class PostgresRegistry:
    """The registry in a PostgreSQL schema, on a connection of the engine's pool (no
    connection of its own: a server at its limit of clients refuses nothing more)."""

    def __init__(self, pooled: Callable[[str, int], AbstractAsyncContextManager[Any]]) -> None:
        self._pooled = pooled

    async def register(self, me: Registration, *, check: bool) -> None:
        async with self._pooled("registering this instance", 5) as conn, conn.transaction():
            key = PREFIX + me.token
            if check:
                await conn.execute("LOCK TABLE cachetui_meta IN EXCLUSIVE MODE")
                cur = await conn.execute(
                    f"SELECT key, value, {_PG_NOW} FROM cachetui_meta "
                    "WHERE key LIKE 'instance:%%' AND key <> %s",
                    (key,),
                )
                rows = await cur.fetchall()
                cur = await conn.execute(f"SELECT {_PG_NOW}")
                row = await cur.fetchone()
                live, dead = _live(rows, float(row[0]))
                for other in live:
                    line = refusal(me, other)
                    if line:
                        raise FleetMismatch(line, field="queue_url")
                if dead:
                    await conn.execute("DELETE FROM cachetui_meta WHERE key = ANY(%s)", (dead,))
            await conn.execute(
                "INSERT INTO cachetui_meta (key, value) VALUES (%s, jsonb_set(%s::jsonb, "
                f"'{{heartbeat}}', to_jsonb({_PG_NOW}))::text) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, me.value()),
            )

    async def remove(self, token: str) -> None:
        async with self._pooled("removing this instance's registration", 1) as conn:
            await conn.execute("DELETE FROM cachetui_meta WHERE key = %s", (PREFIX + token,))


Registry = SQLiteRegistry | PostgresRegistry


def forget_registrations(path: str) -> None:
    """Delete every registration in the SQLite file ``path`` (a copy of a database, whose
    instances do not run on the copy); nothing if it has no ``cachetui_meta`` or is not a
    database (its open says so)."""
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(path)) as db, db:
        has_meta = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cachetui_meta'"
        ).fetchone()
        if has_meta:
            db.execute("DELETE FROM cachetui_meta WHERE substr(key, 1, 9) = 'instance:'")


class Heartbeat:
    """Register (refused on a mismatch), then beat every ``every`` seconds until stopped;
    each beat says what ``describe()`` says now (a queue switched live shows)."""

    def __init__(
        self, registry: Registry, describe: Callable[[], Registration], every: float = 0.5
    ) -> None:
        self.registry = registry
        self.describe = describe
        self.me = describe()
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        LIVE_OWNERS.add(self.me.owner)
        await self.registry.register(self.me, check=True)
        self._task = asyncio.create_task(self._beat(), name="cachetui-registry")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                self.me = self.describe()
                await self.registry.register(self.me, check=False)
            except Exception:  # noqa: BLE001 - a missed beat; the next one tries again
                pass
            stop_if_asked()  # a driver may have swallowed stop()'s cancel

    async def stop(self, *, remove: bool = True) -> None:
        """Stop beating; ``remove``: delete the registration too (at most 2 s; a close
        that gave up on the database does not wait on it: the row is dead after its
        claim_after, and cleaned then, as one left behind on an error)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        LIVE_OWNERS.discard(self.me.owner)
        if remove:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.registry.remove(self.me.token), REMOVE_WITHIN)
