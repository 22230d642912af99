"""Rows written as given on PostgreSQL: the demo profiles (COPY) and the scenarios'
rewind (an upsert the foreign-write trigger leaves alone), each in one transaction on a
connection the caller holds (its replies under the caller's deadline)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from cachetui.engine.database import postgres_statements as sql
from cachetui.engine.lab.demo_data import demo_profiles
from cachetui.engine.profile import Profile


async def copy_demo_profiles(
    conn: psycopg.AsyncConnection[Any],
    count: int,
    updated_at: str,
    seed: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Demo profiles 1..count if the table is empty (COPY, one transaction); the rows
    inserted. ``progress(rows so far)`` every 20,000 rows. Cancelled: rolled back."""
    async with conn.transaction():
        cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM profiles)")
        row = await cur.fetchone()
        if row and row[0]:
            return 0
        # No row was ever deleted here (cachetui_replaced is empty): no inserted row needs
        # its version lifted above an old one, so the insert trigger's per-row lookup is
        # skipped (it halved the time of a large seed).
        await conn.execute(
            "SELECT set_config('cachetui.restoring', 'on', true) "
            "WHERE NOT EXISTS (SELECT 1 FROM cachetui_replaced)"
        )
        async with conn.cursor().copy(f"COPY profiles ({sql.COLUMNS}) FROM STDIN") as copy:
            for n, profile in enumerate(demo_profiles(count, updated_at, seed=seed)):
                await copy.write_row(profile.as_row())
                if n % 20_000 == 19_999:
                    if progress is not None:
                        progress(n + 1)
                    await asyncio.sleep(0)
        if progress is not None:
            progress(count)
    return count


async def upsert_as_given(conn: psycopg.AsyncConnection[Any], profiles: Sequence[Profile]) -> None:
    """Upsert rows exactly as given: the transaction is marked so that the
    foreign-write trigger leaves it alone."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('cachetui.restoring', 'on', true)")
        async with conn.cursor() as cur:
            await cur.executemany(sql.UPSERT, [p.as_row() for p in profiles])
