"""Opening a PostgreSQL database: cachetui's tables made, or migrated, only when they are
not current.

DDL takes ACCESS EXCLUSIVE locks (``ALTER TABLE``, ``CREATE OR REPLACE TRIGGER`` …): run at
every open, it would wait behind any long transaction on ``profiles`` and stall every
other instance behind it. So an open first reads, taking no lock another session waits
for: ``cachetui_meta`` says the schema's version and the digest of the DDL that made it
(:data:`SCHEMA_DIGEST`; any change to the schema's text changes it). When both are
current, no DDL runs and nothing is written. Otherwise the schema is made or migrated in
one transaction, one instance at a time (an advisory lock), after checking again.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, NamedTuple

import psycopg

from cachetui.engine.database import postgres_statements as sql
from cachetui.engine.errors import DatabaseUnavailable

#: The digest of the schema's DDL, stored in ``cachetui_meta.schema_digest``.
SCHEMA_DIGEST = hashlib.sha256(sql.SCHEMA.encode()).hexdigest()[:16]
#: One setup at a time, whichever the instance.
SETUP_LOCK = 7215007

_STATE = """
SELECT (SELECT oid FROM pg_database WHERE datname = current_database())::text || '/'
           || current_schema(),
       to_regclass(format('%I.cachetui_meta', current_schema())) IS NOT NULL,
       ARRAY(SELECT column_name::text FROM information_schema.columns
             WHERE table_name = 'profiles' AND table_schema = current_schema())
"""


class _State(NamedTuple):
    home: str  # where these tables live: the database's oid and the schema
    columns: set[str]  # of ``profiles`` (empty: no such table)
    meta: dict[str, str]

    @property
    def current(self) -> bool:
        meta = self.meta
        return (
            all(c in self.columns for c in sql.REQUIRED_COLUMNS)
            and meta.get("schema_version") == str(sql.SCHEMA_VERSION)
            and meta.get("schema_digest") == SCHEMA_DIGEST
            and meta.get("home") == self.home
            and bool(meta.get("database_id"))
        )


async def _state(conn: psycopg.AsyncConnection[Any]) -> _State:
    cur = await conn.execute(_STATE)
    home, has_meta, columns = await cur.fetchone() or ("", False, [])
    meta: dict[str, str] = {}
    if has_meta:
        cur = await conn.execute("SELECT key, value FROM cachetui_meta")
        meta = {str(k): str(v) for k, v in await cur.fetchall()}
    return _State(str(home or ""), {str(c) for c in columns}, meta)


def no_schema(search_path: str) -> str:
    """What to say when no schema of ``search_path`` exists (``current_schema()`` is
    null): the tables would have nowhere to go."""
    names = search_path.strip() or "(empty)"
    first = names.split(",")[0].strip().strip('"') or "NAME"
    return (
        f"no schema named in its search_path ({names}) exists in this database: create "
        f"it (psql -c 'CREATE SCHEMA {first}') or name another in options=-csearch_path=…"
    )


async def prepare(conn: psycopg.AsyncConnection[Any], path: str) -> str:
    """Make sure cachetui's tables are current in the connection's schema (see the
    module's docstring); the database's id. DatabaseUnavailable for a ``profiles`` table
    not made by cachetui, or for a search_path naming no schema that exists (nothing is
    touched)."""
    cur = await conn.execute("SELECT current_schema(), current_setting('search_path')")
    schema, search_path = await cur.fetchone() or (None, "")
    if schema is None:
        raise DatabaseUnavailable(f"cannot open database {path}: {no_schema(str(search_path))}")
    state = await _state(conn)
    if state.current:
        return state.meta["database_id"]
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        state = await _state(conn)  # another instance may have done it meanwhile
        if state.current:
            return state.meta["database_id"]
        missing = [c for c in sql.REQUIRED_COLUMNS if c not in state.columns]
        if state.columns and missing:
            raise DatabaseUnavailable(
                f"cannot open database {path}: its profiles table was not made by "
                f"cachetui (it lacks {', '.join(missing)})"
            )
        await conn.execute(sql.SCHEMA)
        # A copy of the tables elsewhere (createdb -T, pg_dump and restore) is another
        # database: it gets an id of its own, and never replays the original's queues.
        database_id = state.meta.get("database_id", "")
        if not database_id or state.meta.get("home", state.home) != state.home:
            database_id = uuid.uuid4().hex
        await conn.execute(
            "INSERT INTO cachetui_meta (key, value) VALUES ('database_id', %s), "
            "('schema_version', %s), ('schema_digest', %s), ('home', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (database_id, str(sql.SCHEMA_VERSION), SCHEMA_DIGEST, state.home),
        )
    return database_id
