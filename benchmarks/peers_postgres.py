"""The PostgreSQL sides of benchmarks/peers.py (``--db postgresql://…``): the engine's
write-through update and no-cache read beside the bare statements a service would send.

    python benchmarks/peers.py --only postgres --db postgresql://postgres@127.0.0.1:5432/DB

Both sides work in one schema of their own in that database (created, seeded with
``USERS * 2`` profiles, dropped at the end): the engine updates and reads users
1..USERS, the peers USERS+1..2*USERS, so both go through the same table, indexes and
triggers. The peers use one connection of a psycopg_pool pool in autocommit, one
statement per operation (one round trip):

- update: ``UPDATE profiles SET …, version = %s, write_id = %s WHERE user_id = %s AND
  version = %s RETURNING version`` (the guard on the version, a new write id each time);
- read: ``SELECT <the columns> FROM profiles WHERE user_id = %s``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

from cachetui.engine import Engine, EngineConfig, WritePolicy
from cachetui.engine.database.postgres_statements import COLUMNS
from cachetui.engine.profile import utc_timestamp

USERS = 1_000
Side = Callable[[int], Awaitable[float]]  # runs n operations, returns ops/s

PEER_UPDATE = (
    "UPDATE profiles SET bio = %s, version = %s, updated_at = %s, write_id = %s "
    "WHERE user_id = %s AND version = %s RETURNING version"
)
PEER_SELECT = f"SELECT {COLUMNS} FROM profiles WHERE user_id = %s"
BIO = "Benchmarking the write-through path: commit, then cache, then ack."


def schema_url(url: str, schema: str) -> str:
    option = "options=" + quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}{option}"


async def _one_at_a_time(call: Callable[[int], Awaitable[Any]], keys: list[int]) -> float:
    start = time.perf_counter()
    for key in keys:
        await call(key)
    return len(keys) / (time.perf_counter() - start)


def _cycle(keys: range, n: int) -> list[int]:
    return [keys[i % len(keys)] for i in range(n)]


@contextlib.asynccontextmanager
async def sides(url: str) -> AsyncIterator[dict[str, dict[str, Side]]]:
    """``{"through": {"engine": …, "peer": …}, "read": {"engine": …, "peer": …}}``."""
    import psycopg
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool

    schema = f"cachetui_bench_peers_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        where = schema_url(url, schema)
        engine_users, peer_users = range(1, USERS + 1), range(USERS + 1, 2 * USERS + 1)
        common: dict[str, Any] = {"db_url": where, "cache_url": "memory://"}
        through = Engine(EngineConfig(policy=WritePolicy.WRITE_THROUGH, **common))
        bare = Engine(EngineConfig(policy=WritePolicy.NO_CACHE, **common))
        pool = AsyncConnectionPool(where, min_size=1, max_size=1, kwargs={"autocommit": True})
        async with through, bare, pool:
            await through.seed(2 * USERS)
            for uid in engine_users:
                await through.read(uid)  # warm: the current profile comes from the cache
            versions = {uid: 1 for uid in peer_users}
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT user_id, version FROM profiles WHERE user_id > %s", (USERS,)
                )
                versions.update({int(u): int(v) for u, v in await cur.fetchall()})
            stamp = utc_timestamp(time.time())

            async def engine_update(uid: int) -> None:
                await through.update(uid, {"bio": BIO})

            async def peer_update(uid: int) -> None:
                base = versions[uid]
                versions[uid] = base + 1
                write_id = f"peer:{uid}:{base + 1}"
                async with pool.connection() as conn:
                    cur = await conn.execute(
                        PEER_UPDATE, (BIO, base + 1, stamp, write_id, uid, base)
                    )
                    if await cur.fetchone() is None:
                        raise RuntimeError(f"peer update of user {uid} found no row at v{base}")

            async def peer_read(uid: int) -> None:
                async with pool.connection() as conn:
                    cur = await conn.execute(PEER_SELECT, (uid,))
                    await cur.fetchone()

            yield {
                "through": {
                    "engine": lambda k: _one_at_a_time(engine_update, _cycle(engine_users, k)),
                    "peer": lambda k: _one_at_a_time(peer_update, _cycle(peer_users, k)),
                },
                "read": {
                    "engine": lambda k: _one_at_a_time(bare.read, _cycle(engine_users, k)),
                    "peer": lambda k: _one_at_a_time(peer_read, _cycle(peer_users, k)),
                },
            }
    finally:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
