"""The durable write-behind queue in a Redis Stream (``queue_url="redis://…"``).

Each acknowledgement appends one entry (``XADD``): the user's newest value, the
``base_version`` of its first write not yet landed, and the owner (this engine). The
stream's key names the database by its id (``cachetui:queue:<database id>``), so a
stream is never replayed into another database. A landed write's entries are deleted
(``XDEL``); a user whose older write landed while a newer one was queued gets one fresh
entry built on the landed version.

Owners prove they are alive with a heartbeat key (``SET … EX``) refreshed every second:
at start, the entries of owners that are gone are taken over and replayed. Gone: on this
host, the process is gone (its pid); on another, its last heartbeat is older than the
taker's ``claim_after`` (``--claim-after``, default 10 s), measured by the Redis server's
clock (the key's remaining time to live), so the hosts' clocks need not agree. A write
already in the database is recognised by its write id and dropped, never applied twice.
What this does not survive: a Redis without persistence (``appendonly no`` and no
snapshots) loses the stream when it restarts; :attr:`RedisStreamOutbox.persistence`
says what the server was configured with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import operator
import socket
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from cachetui.engine.background import stop_if_asked
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.profile import Profile
from cachetui.engine.queue.outbox import LIVE_OWNERS, owner_alive, this_owner
from cachetui.engine.stores.redis_pool import blocking_client
from cachetui.engine.stores.redis_url import mask_url

#: One stream entry: its id and its fields, as bytes.
Entry = tuple[bytes, dict[bytes, bytes]]

#: Seconds a heartbeat key lasts (longer than the longest ``claim_after``: a key gone is
#: a heartbeat older than any), and how often it is refreshed.
HEARTBEAT_TTL = 3660
HEARTBEAT_EVERY = 1.0
#: ``claim_after`` when none is given (EngineConfig's default).
CLAIM_AFTER = 10.0
#: Seconds a withdrawn write stays void (far longer than any request is in flight).
VOID_TTL = 3600
#: XADD unless the write was withdrawn (KEYS: the stream, the write's void key; ARGV:
#: the entry's fields and values). Atomic: an append either ran before the withdrawal
#: (and its scan finds the entry) or is refused.
APPEND_UNLESS_VOID = """
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV))
"""


class RedisStreamOutbox:
    """The outbox of one engine in a Redis Stream; same operations as
    :class:`~cachetui.engine.queue.outbox.Outbox`. Errors raise DatabaseUnavailable."""

    def __init__(self, url: str, owner: str | None = None, claim_after: float = CLAIM_AFTER):
        self.url = url
        #: An owner on another host whose last heartbeat is older (s) is gone.
        self.claim_after = claim_after
        #: ``host/pid:start:n``: on this host a dead process is seen at once (its pid);
        #: on another, when its heartbeat expires.
        self._local = owner or this_owner()
        self.owner = f"{socket.gethostname()}/{self._local}"
        self.path = ""  # set at open: "redis stream KEY at URL"
        self.persistence = ""  # "appendonly yes" / "appendonly no, no snapshots" …
        self._client: aioredis.Redis | None = None
        self._key = ""
        self._ids: dict[int, list[tuple[bytes, int]]] = {}  # user → [(entry id, version)]
        self._heartbeat: asyncio.Task[None] | None = None
        self._append_sha = ""

    async def open(self, database_id: str) -> None:
        self._key = f"cachetui:queue:{database_id}"
        self.path = f"redis stream {self._key} at {mask_url(self.url)}"
        try:
            # Blocking pool: concurrent calls wait for a connection (a full pool is not
            # a failed write); one waits at most as long as two calls may take.
            self._client = blocking_client(
                self.url, pool_timeout=10, socket_timeout=5, socket_connect_timeout=5
            )
            self._append_sha = await self._client.script_load(APPEND_UNLESS_VOID)
            await self._beat()
            self.persistence = await self._persistence()
            LIVE_OWNERS.add(self._local)
        except (RedisError, OSError, ValueError) as exc:
            await self.close()
            raise DatabaseUnavailable(f"cannot open the queue {self.path}: {exc}") from exc
        self._heartbeat = asyncio.get_running_loop().create_task(self._keep_beating())

    async def close(self) -> None:
        LIVE_OWNERS.discard(self._local)
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.delete(self._owner_key(self.owner))
            await client.aclose()

    async def append_many(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]:
        """Append each ``(profile, base_version)``: durable (as the server is) on return.
        An entry whose write was withdrawn meanwhile (:meth:`withdraw`: a late request)
        is not appended."""
        client = self._require()
        try:
            try:
                ids = await self._append(client, rows)
            except NoScriptError:  # the server lost its scripts (a restart, SCRIPT FLUSH)
                self._append_sha = await client.script_load(APPEND_UNLESS_VOID)
                ids = await self._append(client, rows)
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        for (profile, _), entry_id in zip(rows, ids, strict=True):
            if entry_id is not None:
                self._ids.setdefault(profile.user_id, []).append((entry_id, profile.version))
        return {}

    async def _append(
        self, client: aioredis.Redis, rows: Sequence[tuple[Profile, int]]
    ) -> list[bytes | None]:
        """One pipeline of EVALSHA (the script was loaded at open: no round trip to
        check it first); each entry's id, or None where its write is void."""
        async with client.pipeline(transaction=False) as pipe:
            for profile, base in rows:
                fields = [item for pair in self._fields(profile, base).items() for item in pair]
                pipe.evalsha(
                    self._append_sha, 2, self._key, self._void_key(profile.write_id or ""), *fields
                )
            return cast(list[bytes | None], await pipe.execute())

    async def withdraw(self, profile: Profile, previous: tuple[Profile, int] | None) -> None:
        """Remove the entry of ``profile``'s write, whose append has an unknown outcome
        (cancelled, timed out, the connection reset: its entry id was never learned), by
        its write id. First the write is marked void (``SET …:void:<write id> EX``), so
        an append still on its way is refused by the append script; then every entry
        with that write id is deleted. The entries before it stay (``previous`` is for
        the outbox file, which keeps one row per user)."""
        write_id = profile.write_id
        if write_id is None:
            await self._delete(profile.user_id, lambda version: version >= profile.version)
            return
        client = self._require()
        try:
            await client.set(self._void_key(write_id), "1", ex=VOID_TTL)
            doomed = [
                entry_id
                for entry_id, fields in await self._xrange()
                if fields.get(b"w", b"").decode() == write_id
            ]
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        entries = self._ids.get(profile.user_id, [])
        kept = [(i, v) for i, v in entries if i not in doomed]
        if kept:
            self._ids[profile.user_id] = kept
        else:
            self._ids.pop(profile.user_id, None)
        await self._xdel(doomed)

    async def landed(self, profiles: Sequence[Profile]) -> None:
        for profile in profiles:
            entries = self._ids.get(profile.user_id, [])
            newer = [(i, v) for i, v in entries if v > profile.version]
            await self._delete(profile.user_id, functools.partial(operator.ge, profile.version))
            if newer:  # a newer write queued behind the landed one: now built on it
                newest = await self._entry(newer[-1][0])
                if newest is not None:
                    await self.rebase(newest, profile.version)

    async def rebase(self, profile: Profile, base_version: int) -> None:
        """The user's entry is now ``profile`` built on ``base_version``."""
        old = [entry_id for entry_id, _ in self._ids.get(profile.user_id, [])]
        self._ids[profile.user_id] = []
        await self.append_many([(profile, base_version)])
        await self._xdel(old)

    async def remove(self, user_ids: Sequence[int]) -> None:
        for user_id in user_ids:
            await self._delete(user_id, lambda version: True)

    async def mine(self) -> list[tuple[Profile, int]]:
        """This engine's entries (newest per user), read back from the server."""
        folded = await self._fold(lambda owner: owner == self.owner)
        self._ids = {uid: ids for uid, (_, _, ids) in folded.items()}
        return [(profile, base) for profile, base, _ in folded.values()]

    async def take_over(self) -> list[tuple[Profile, int]]:
        """Take the entries of owners that are gone (on this host: the process is gone;
        elsewhere: its last heartbeat is older than ``claim_after``) and return them to
        replay."""
        try:
            entries = await self._xrange()
            owners = {fields[b"o"].decode() for _, fields in entries} - {self.owner}
            dead = {o for o in owners if not await self._alive(o)}
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        if not dead:
            return []
        folded = await self._fold(lambda owner: owner in dead)
        mine = await self._fold(lambda owner: owner == self.owner)
        taken = [(p, b, ids) for uid, (p, b, ids) in folded.items() if uid not in mine]
        for profile, base, ids in taken:
            await self.append_many([(profile, base)])
            await self._xdel(ids_only(ids))
        with contextlib.suppress(RedisError, OSError):  # their last heartbeats: not needed
            await self._require().delete(*(self._owner_key(owner) for owner in dead))
        return [(profile, base) for profile, base, _ in taken]

    async def count(self) -> int:
        try:
            return int(await self._require().xlen(self._key))
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc

    # -- internals -------------------------------------------------------------------------
    async def _alive(self, owner: str) -> bool:
        host, _, local = owner.rpartition("/")
        if host == socket.gethostname():
            return owner_alive(local)
        left_ms = int(await self._require().pttl(self._owner_key(owner)))
        if left_ms == -1:  # a key without an expiry (not ours): its age is unknown
            return True
        # -2: no key (older than HEARTBEAT_TTL); else its age is what its TTL lost
        return left_ms >= 0 and HEARTBEAT_TTL - left_ms / 1000 <= self.claim_after

    def _require(self) -> aioredis.Redis:
        if self._client is None:
            raise DatabaseUnavailable(f"the queue {self.path or self.url} is not open")
        return self._client

    def _fields(self, profile: Profile, base: int) -> dict[str | bytes | int | float, Any]:
        return {
            "u": profile.user_id,
            "v": profile.version,
            "b": base,
            "o": self.owner,
            "w": profile.write_id or "",
            "p": json.dumps(profile.as_dict(), ensure_ascii=False),
        }

    def _void_key(self, write_id: str) -> str:
        return f"{self._key}:void:{write_id}"

    def _owner_key(self, owner: str) -> str:
        return f"{self._key}:owner:{owner}"

    async def _beat(self) -> None:
        await self._require().set(self._owner_key(self.owner), "1", ex=HEARTBEAT_TTL)

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            with contextlib.suppress(RedisError, OSError):
                await self._beat()
            stop_if_asked()  # redis-py may have swallowed the close's cancel

    async def _persistence(self) -> str:
        client = self._require()
        try:
            aof = (await client.config_get("appendonly")).get("appendonly", "")
            save = (await client.config_get("save")).get("save", "")
        except ResponseError:  # CONFIG is disabled on this server
            return "persistence unknown (CONFIG GET refused)"
        if aof in ("yes", b"yes"):
            return "appendonly yes"
        if save:
            return "appendonly no, snapshots only: a Redis restart may lose recent entries"
        return "appendonly no, no snapshots: a Redis restart loses the stream"

    async def _xrange(self, start: bytes | str = "-", end: bytes | str = "+") -> list[Entry]:
        """The stream's entries from ``start`` to ``end`` (ids and fields as bytes)."""
        return cast(list[Entry], await self._require().xrange(self._key, start, end))

    async def _entry(self, entry_id: bytes) -> Profile | None:
        found = await self._xrange(entry_id, entry_id)
        return Profile(**json.loads(found[0][1][b"p"])) if found else None

    async def _delete(self, user_id: int, doomed: Callable[[int], bool]) -> None:
        entries = self._ids.get(user_id, [])
        drop = [i for i, v in entries if doomed(v)]
        self._ids[user_id] = [(i, v) for i, v in entries if not doomed(v)]
        if not self._ids[user_id]:
            del self._ids[user_id]
        await self._xdel(drop)

    async def _xdel(self, ids: list[bytes]) -> None:
        if not ids:
            return
        try:
            await self._require().xdel(self._key, *ids)
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc

    async def _fold(
        self, owned: Callable[[str], bool]
    ) -> dict[int, tuple[Profile, int, list[tuple[bytes, int]]]]:
        """Per user, the newest entry of the owners ``owned`` accepts: (profile, base,
        every entry id of that user with its version). Entries of withdrawn writes are
        left out, and deleted."""
        try:
            entries = await self._xrange()
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        entries = [(i, fields) for i, fields in entries if owned(fields[b"o"].decode())]
        void = await self._voided(entries)
        folded: dict[int, tuple[Profile, int, list[tuple[bytes, int]]]] = {}
        for entry_id, fields in entries:
            if entry_id in void:
                continue
            uid, version, base = int(fields[b"u"]), int(fields[b"v"]), int(fields[b"b"])
            ids = folded[uid][2] if uid in folded else []
            ids.append((entry_id, version))
            if uid not in folded or version >= folded[uid][0].version:
                folded[uid] = (Profile(**json.loads(fields[b"p"])), base, ids)
        return folded

    async def _voided(self, entries: list[Entry]) -> set[bytes]:
        """The ids of these entries whose write was withdrawn (:meth:`withdraw`), now
        deleted from the stream."""
        writes = sorted({w for _, f in entries if (w := f.get(b"w", b"").decode())})
        if not writes:
            return set()
        try:
            async with self._require().pipeline(transaction=False) as pipe:
                for write_id in writes:
                    pipe.exists(self._void_key(write_id))
                found = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        void = {w for w, hit in zip(writes, found, strict=True) if hit}
        doomed = [i for i, f in entries if f.get(b"w", b"").decode() in void]
        await self._xdel(doomed)
        return set(doomed)


def ids_only(entries: list[tuple[bytes, int]]) -> list[bytes]:
    return [entry_id for entry_id, _ in entries]
