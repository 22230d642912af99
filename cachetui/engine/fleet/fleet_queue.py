"""The fleet queue: one write-behind queue in Redis shared by every instance on a
database (docs/fleet.md, "One queue for the fleet").

Keys, all under ``cachetui:queue:<database id>:fleet``:

- ``…:p<k>``: partition ``k``'s stream (a user is in partition ``user_id mod P``; P is
  fixed at the first open, in ``…:partitions``);
- ``…:head:<user>``: the user's newest sequenced row (a hash), what the next update of
  the user builds on, whichever instance makes it;
- ``…:lease:<k>``, ``…:lease:<k>:epoch``, ``…:members``, ``…:owner:<owner>``: who
  lands which partition (:mod:`.leases`);
- ``…:parked``: entries of an unknown format, moved aside (never guessed at).

An update is one call of the sequencer script (:data:`~.scripts.SEQUENCE`): the next
version and the entry, which carries the caller's changes and the row after them, in
one atomic step; the instance that holds the partition's lease feeds its entries, in
stream order, into its own write queue, whose flusher lands them; a landed entry is
deleted (``XDEL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from cachetui.engine.background import stop_if_asked
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.fleet.entries import (
    FORMAT,
    Entry,
    RawEntry,
    UnknownEntry,
    change_pairs,
    decode,
    pairs_to_dict,
    profile_of,
    row_pairs,
)
from cachetui.engine.fleet.leases import Leases
from cachetui.engine.fleet.scripts import EXPIRE_HEADS, FLOOR_HEAD, RAISE_HEAD, SEQUENCE
from cachetui.engine.profile import Profile
from cachetui.engine.queue.outbox import LIVE_OWNERS, this_owner
from cachetui.engine.queue.write_queue import WriteQueue
from cachetui.engine.stores.redis_pool import blocking_client
from cachetui.engine.stores.redis_url import mask_url

#: Partitions of a new fleet queue (kept in Redis: every instance uses the first's).
PARTITIONS = 8
#: Entries read from a partition at a time.
FEED_BATCH = 1000
HEARTBEAT_EVERY = 1.0
#: Seconds a withdrawn write stays void.
VOID_TTL = 3600
#: Seconds a head is kept after its write landed (nothing newer sequenced): a user updated
#: again within it costs one round trip; after it, the update reads the database's row.
#: A base read is taken by the sequencer within half of it (see scripts.SEQUENCE).
HEAD_TTL = 60.0


class FleetQueue:
    """The fleet queue as the engine's journal (:class:`~cachetui.engine.queue.outbox.
    Journal`): the sequencer, the partitions this instance leases, and the bookkeeping of
    the entries it fed into its write queue. Errors raise DatabaseUnavailable."""

    def __init__(self, url: str, claim_after: float, name: str = "") -> None:
        self.url = url
        self.claim_after = claim_after
        self._local = this_owner()
        self.owner = f"{socket.gethostname()}/{self._local}"
        self.name = name or self.owner
        self.path = ""
        self.persistence = ""
        self.prefix = ""
        self.partitions = PARTITIONS
        self.leases: Leases | None = None
        #: Writes of instances that were gone when this one fed them (claimed), and
        #: entries of an unknown format moved to ``…:parked``.
        self.claimed = 0
        self.parked = 0
        #: Background tasks to stop at close (the heartbeat, the fleet link's ticks).
        self.tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self._sequence_sha = ""
        self._ids: dict[int, list[tuple[bytes, int]]] = {}  # user → [(entry id, version)] fed
        self._next: dict[int, str] = {}  # partition → where its next read starts
        self.on_park: Callable[[int, str], None] | None = None

    # -- lifetime ----------------------------------------------------------------------------
    async def open(self, database_id: str) -> None:
        self.prefix = f"cachetui:queue:{database_id}:fleet"
        self.path = f"fleet queue {self.prefix} at {mask_url(self.url)}"
        try:
            self._client = blocking_client(
                self.url, pool_timeout=10, socket_timeout=5, socket_connect_timeout=5
            )
            client = self._client
            self._sequence_sha = await client.script_load(SEQUENCE)
            await client.set(f"{self.prefix}:partitions", PARTITIONS, nx=True)
            self.partitions = int(await client.get(f"{self.prefix}:partitions") or PARTITIONS)
            self.leases = Leases(
                self._require, self.prefix, self.owner, self.claim_after, self.partitions
            )
            await self.leases.load()
            await self.leases.beat(self.name)
            LIVE_OWNERS.add(self._local)
            self.persistence = await _persistence(client)
        except (RedisError, OSError, ValueError) as exc:
            await self.close()
            raise DatabaseUnavailable(f"cannot open the queue {self.path}: {exc}") from exc
        self.tasks.append(asyncio.get_running_loop().create_task(self._keep_beating()))

    async def close(self) -> None:
        LIVE_OWNERS.discard(self._local)
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, leases = self._client, self.leases
        if client is not None and leases is not None:
            with contextlib.suppress(RedisError, OSError):
                await leases.leave()
        self._client = None
        if client is not None:
            await client.aclose()

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            if self.leases is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self.leases.beat(self.name)
            stop_if_asked()

    # -- the sequencer -----------------------------------------------------------------------
    async def sequence(
        self,
        user_id: int,
        changes: dict[str, Any],
        write_id: str,
        updated_at: str,
        base: tuple[Profile, int] | None = None,
    ) -> Profile | int:
        """Assign the user's next version and append the entry, in one step; the row
        after the write. With no head: the Redis server's time (ms), to call again with
        ``base`` = (the database's row read after this answer, that time); a base read
        too long ago gets a new time (read it again)."""
        client = self._require()
        keys = [self._head(user_id), self.stream(self.partition_of(user_id))]
        keys.append(f"{self.prefix}:void:{write_id}")
        window = round(HEAD_TTL * 500)
        args: list[Any] = [FORMAT, self.owner, write_id, updated_at, window, len(changes)]
        args += [json.dumps(changes, ensure_ascii=False), *change_pairs(changes)]
        if base is not None:
            args += [base[1], *row_pairs(base[0])]
        try:
            try:
                found = await client.evalsha(self._sequence_sha, 3, *keys, *args)
            except NoScriptError:
                self._sequence_sha = await client.script_load(SEQUENCE)
                found = await client.evalsha(self._sequence_sha, 3, *keys, *args)
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(
                f"the queue {self.path}: {exc} (the write may have been queued)"
            ) from exc
        status = int(found[0])
        if status == 0:
            return int(found[1])
        if status < 0:
            raise DatabaseUnavailable(f"write {write_id} was withdrawn")
        return profile_of(pairs_to_dict(found[2]))

    async def head(self, user_id: int) -> Profile | None:
        """The user's newest sequenced row (None: no head, or only a floor): one round
        trip. DatabaseUnavailable if Redis does not answer."""
        try:
            fields = cast(dict[bytes, bytes], await self._require().hgetall(self._head(user_id)))
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        return profile_of(fields) if b"version" in fields else None

    def partition_of(self, user_id: int) -> int:
        return user_id % self.partitions

    def stream(self, partition: int) -> str:
        return f"{self.prefix}:p{partition}"

    def _head(self, user_id: int) -> str:
        return f"{self.prefix}:head:{user_id}"

    # -- feeding this instance's write queue -------------------------------------------------
    def lease_changes(self, taken: Sequence[int]) -> None:
        """Partitions taken now are read from their first entry; those no longer held,
        forgotten."""
        held = self.leases.held if self.leases is not None else {}
        for k in taken:
            self._next[k] = "-"
        for k in [k for k in self._next if k not in held]:
            del self._next[k]

    async def feed(self, queue: WriteQueue, now: float, live: set[str]) -> int:
        """Put the entries of the partitions held, in stream order, into ``queue`` (a
        user's entries coalesce there, built on the first one's base); how many.
        A partition stops at a new user the queue has no room for."""
        client = self._require()
        fed = 0
        for k in sorted(self._next):
            try:
                raw = cast(
                    list[RawEntry],
                    await client.xrange(self.stream(k), self._next[k], "+", count=FEED_BATCH),
                )
            except (RedisError, OSError) as exc:
                raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
            for item in raw:
                try:
                    entry = decode(item)
                except UnknownEntry as exc:
                    await self._park(k, item, str(exc))
                    self._next[k] = "(" + item[0].decode()
                    continue
                uid = entry.profile.user_id
                if not queue.has_room_for(uid):
                    break
                queue.put(entry.profile, now, base_version=entry.base_version)
                self._ids.setdefault(uid, []).append((entry.entry_id, entry.profile.version))
                self._next[k] = "(" + entry.entry_id.decode()
                fed += 1
                if entry.owner != self.owner and entry.owner not in live:
                    self.claimed += 1
        return fed

    def quiet(self, partition: int, queue: WriteQueue) -> bool:
        """Nothing of the partition is waiting in this instance's queue."""
        return not any(self.partition_of(uid) == partition for uid in self._ids if uid in queue)

    async def sizes(self) -> dict[int, int]:
        client = self._require()
        async with client.pipeline(transaction=False) as pipe:
            for k in range(self.partitions):
                pipe.xlen(self.stream(k))
            found = await pipe.execute()
        return {k: int(n) for k, n in enumerate(found)}

    async def _park(self, partition: int, item: RawEntry, reason: str) -> None:
        """Move an entry this version cannot read to ``…:parked`` (as it was, with why)."""
        entry_id, fields = item
        client = self._require()
        moved: dict[Any, Any] = {b"from": self.stream(partition), b"id": entry_id}
        moved[b"reason"] = reason
        moved.update({b"x." + name: value for name, value in fields.items()})
        async with client.pipeline(transaction=True) as pipe:
            pipe.xadd(f"{self.prefix}:parked", moved)
            pipe.xdel(self.stream(partition), entry_id)
            await pipe.execute()
        self.parked += 1
        if self.on_park is not None:
            self.on_park(partition, reason)

    # -- the Journal calls -------------------------------------------------------------------
    async def append_many(self, rows: Sequence[tuple[Profile, int]]) -> dict[int, Exception]:
        raise DatabaseUnavailable("the fleet queue appends through its sequencer only")

    async def withdraw(self, profile: Profile, previous: tuple[Profile, int] | None) -> None:
        if profile.write_id is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._require().set(
                    f"{self.prefix}:void:{profile.write_id}", "1", ex=VOID_TTL
                )

    async def landed(self, profiles: Sequence[Profile]) -> None:
        """These writes (or later ones of their users) are in the database: their entries
        and the earlier ones fed here are deleted; their heads expire (:data:`HEAD_TTL`)
        unless newer writes were sequenced since."""
        doomed: dict[int, list[bytes]] = {}
        for profile in profiles:
            uid = profile.user_id
            ids = self._ids.get(uid, [])
            keep = [(i, v) for i, v in ids if v > profile.version]
            doomed.setdefault(self.partition_of(uid), []).extend(
                i for i, v in ids if v <= profile.version
            )
            if keep:
                self._ids[uid] = keep
            else:
                self._ids.pop(uid, None)
        await self._xdel(doomed, profiles)

    async def rebase(self, profile: Profile, base_version: int) -> None:
        """A conflict overwritten: the user's entries fed so far land as ``profile``; the
        head moves up to it unless newer writes were sequenced since."""
        uid = profile.user_id
        self._ids[uid] = [(i, min(v, profile.version)) for i, v in self._ids.get(uid, [])]
        try:
            await self._require().eval(
                RAISE_HEAD, 1, self._head(uid), profile.version, *row_pairs(profile)
            )
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc

    async def remove(self, user_ids: Sequence[int]) -> None:
        """Parked as dead letters: their entries go, and the head becomes a floor, unless
        newer writes were sequenced since (the next update builds on the database, with
        a version above the parked one)."""
        doomed: dict[int, list[bytes]] = {}
        for uid in user_ids:
            ids = self._ids.pop(uid, [])
            doomed.setdefault(self.partition_of(uid), []).extend(i for i, _ in ids)
            if ids:
                with contextlib.suppress(RedisError, OSError):
                    await self._require().eval(FLOOR_HEAD, 1, self._head(uid), ids[-1][1])
        await self._xdel(doomed)

    async def mine(self) -> list[tuple[Profile, int]]:
        """Every entry still in the fleet queue, the newest per user (what is pending)."""
        newest: dict[int, tuple[Profile, int]] = {}
        for k in range(self.partitions):
            for entry in await self.entries(k):
                newest[entry.profile.user_id] = (entry.profile, entry.base_version)
        return list(newest.values())

    async def take_over(self) -> list[tuple[Profile, int]]:
        return []  # the leases hand partitions over, while running (see FleetLink)

    async def count(self) -> int:
        try:
            return sum((await self.sizes()).values())
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc

    async def entries(self, partition: int, limit: int | None = None) -> list[Entry]:
        """A partition's readable entries, oldest first."""
        try:
            raw = cast(
                list[RawEntry],
                await self._require().xrange(self.stream(partition), "-", "+", count=limit),
            )
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc
        found = []
        for item in raw:
            with contextlib.suppress(UnknownEntry):
                found.append(decode(item))
        return found

    # -- internals ---------------------------------------------------------------------------
    def _require(self) -> aioredis.Redis:
        if self._client is None:
            raise DatabaseUnavailable(f"the queue {self.path or self.url} is not open")
        return self._client

    async def _xdel(self, doomed: dict[int, list[bytes]], landed: Sequence[Profile] = ()) -> None:
        """Delete entries, and let the heads of ``landed`` expire: one round trip."""
        doomed = {k: ids for k, ids in doomed.items() if ids}
        if not doomed and not landed:
            return
        try:
            async with self._require().pipeline(transaction=False) as pipe:
                for k, ids in doomed.items():
                    pipe.xdel(self.stream(k), *ids)
                if landed:
                    heads = [self._head(p.user_id) for p in landed]
                    ttl = round(HEAD_TTL * 1000)
                    pipe.eval(EXPIRE_HEADS, len(heads), *heads, ttl, *(p.version for p in landed))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"the queue {self.path}: {exc}") from exc


async def _persistence(client: aioredis.Redis) -> str:
    with contextlib.suppress(RedisError):
        aof = (await client.config_get("appendonly")).get("appendonly", "")
        save = (await client.config_get("save")).get("save", "")
        if aof in ("yes", b"yes"):
            return "appendonly yes"
        if save:
            return "appendonly no, snapshots only: a Redis restart may lose recent entries"
        return "appendonly no, no snapshots: a Redis restart loses the queue"
    return "persistence unknown (CONFIG GET refused)"
