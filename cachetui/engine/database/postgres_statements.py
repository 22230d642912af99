"""The SQL of the PostgreSQL backend (:mod:`cachetui.engine.database.postgres`): its
schema and migrations, the trigger that recognises other programs' writes, and the
guarded batch write as one statement over arrays (one round trip per batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cachetui.engine.database.sqlite_statements import LANDINGS_KEPT, REQUIRED_COLUMNS
from cachetui.engine.profile import Profile

__all__ = ["LANDINGS_KEPT", "REQUIRED_COLUMNS"]

#: ``cachetui_meta.schema_version`` of the schema below (the SQLite schema's number:
#: the same tables).
SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    user_id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    bio TEXT NOT NULL,
    location TEXT NOT NULL,
    followers BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS write_id TEXT;
CREATE INDEX IF NOT EXISTS profiles_recent ON profiles (updated_at DESC, user_id);
CREATE TABLE IF NOT EXISTS dead_letters (
    user_id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    base_version BIGINT NOT NULL,
    db_version BIGINT,
    profile TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_failed_at TEXT NOT NULL,
    write_id TEXT
);
CREATE TABLE IF NOT EXISTS cachetui_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS landed_writes (
    id BIGSERIAL PRIMARY KEY,
    write_id TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    landed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cachetui_replaced (
    user_id BIGINT PRIMARY KEY, version BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION cachetui_foreign_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- cachetui gives every write a new write id: an UPDATE that keeps it, or sets it to
    -- NULL, without raising the version is another program's. A rewind (restore) marks
    -- its transaction and is left alone.
    IF current_setting('cachetui.restoring', true) IS DISTINCT FROM 'on'
       AND ((NEW.write_id IS NOT DISTINCT FROM OLD.write_id
             AND (NEW.write_id IS NOT NULL OR NEW.version <= OLD.version))
            OR (NEW.write_id IS NULL AND OLD.write_id IS NOT NULL
                AND NEW.version <= OLD.version)) THEN
        NEW.write_id := NULL;
        NEW.version := GREATEST(NEW.version, OLD.version + 1);
    END IF;
    RETURN NEW;
END $$;
-- WHEN: only an update that keeps the write id or clears it runs the function (a
-- cachetui write sets a new one: no PL/pgSQL call per row of a batch)
CREATE OR REPLACE TRIGGER cachetui_foreign_write BEFORE UPDATE ON profiles FOR EACH ROW
    WHEN (NEW.write_id IS NOT DISTINCT FROM OLD.write_id OR NEW.write_id IS NULL)
    EXECUTE FUNCTION cachetui_foreign_write();
-- a row deleted and inserted again comes back with no write id, above its old version
CREATE OR REPLACE FUNCTION cachetui_foreign_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the schema of the table the trigger is on, whatever the caller's search_path
    EXECUTE format('INSERT INTO %I.cachetui_replaced VALUES ($1, $2) ON CONFLICT '
                   '(user_id) DO UPDATE SET version = excluded.version', TG_TABLE_SCHEMA)
    USING OLD.user_id, OLD.version;
    RETURN OLD;
END $$;
CREATE OR REPLACE TRIGGER cachetui_foreign_delete AFTER DELETE ON profiles
    FOR EACH ROW EXECUTE FUNCTION cachetui_foreign_delete();
-- TRUNCATE skips the row triggers: it records every row's version first, as DELETE does
CREATE OR REPLACE FUNCTION cachetui_foreign_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.cachetui_replaced SELECT user_id, version FROM %I.profiles '
                   'ON CONFLICT (user_id) DO UPDATE SET version = excluded.version',
                   TG_TABLE_SCHEMA, TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER cachetui_foreign_truncate BEFORE TRUNCATE ON profiles
    FOR EACH STATEMENT EXECUTE FUNCTION cachetui_foreign_truncate();
CREATE OR REPLACE FUNCTION cachetui_foreign_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone BIGINT;
BEGIN
    IF current_setting('cachetui.restoring', true) IS DISTINCT FROM 'on' THEN
        EXECUTE format('DELETE FROM %I.cachetui_replaced WHERE user_id = $1 '
                       'RETURNING version', TG_TABLE_SCHEMA)
        INTO gone USING NEW.user_id;
        IF gone IS NOT NULL THEN
            NEW.write_id := NULL;
            NEW.version := GREATEST(NEW.version, gone + 1);
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER cachetui_foreign_insert BEFORE INSERT ON profiles
    FOR EACH ROW EXECUTE FUNCTION cachetui_foreign_insert();
"""
COLUMNS = "user_id, name, bio, location, followers, version, updated_at, write_id"
SELECT_MANY = f"SELECT {COLUMNS} FROM profiles WHERE user_id = ANY(%b)"
#: SELECT_MANY of one user (a lone cache miss): a plain key lookup, no array.
SELECT_ONE = f"SELECT {COLUMNS} FROM profiles WHERE user_id = %s"
RECENT = f"SELECT {COLUMNS} FROM profiles ORDER BY updated_at DESC, user_id LIMIT %s"
UPSERT = (
    f"INSERT INTO profiles ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, bio = excluded.bio, "
    "location = excluded.location, followers = excluded.followers, "
    "version = excluded.version, updated_at = excluded.updated_at, "
    "write_id = excluded.write_id"
)
DEAD_LETTER_COLUMNS = (
    "user_id, kind, version, base_version, db_version, profile, error, attempts, "
    "first_failed_at, last_failed_at, write_id"
)
SAVE_DEAD_LETTER = (
    f"INSERT INTO dead_letters ({DEAD_LETTER_COLUMNS}) VALUES "
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET "
    "kind = excluded.kind, version = excluded.version, base_version = excluded.base_version, "
    "db_version = excluded.db_version, profile = excluded.profile, error = excluded.error, "
    "attempts = excluded.attempts, first_failed_at = excluded.first_failed_at, "
    "last_failed_at = excluded.last_failed_at, write_id = excluded.write_id"
)
#: The guarded write of a batch, one statement: each input row is written only where the
#: row still has its base version. Only the rows not written come back, with the row's
#: version and write id, and whether their write id had a recorded landing (a replay);
#: every other input row was written. ``%(record)s``: record the landings of this batch.
#: The arrays go in binary (``%(…)b``): psycopg's text form of a text array quotes every
#: element through a regular expression, which cost as much as the statement itself.
GUARDED_BATCH = """
WITH input AS (
    SELECT * FROM unnest(
        %(user_id)b::bigint[], %(name)b::text[], %(bio)b::text[], %(location)b::text[],
        %(followers)b::bigint[], %(version)b::bigint[], %(updated_at)b::text[],
        %(write_id)b::text[], %(base)b::bigint[]
    ) AS t(user_id, name, bio, location, followers, version, updated_at, write_id, base)
),
written AS (
    UPDATE profiles p SET name = i.name, bio = i.bio, location = i.location,
        followers = i.followers, version = i.version, updated_at = i.updated_at,
        write_id = i.write_id
    FROM input i
    WHERE p.user_id = ANY(%(user_id)b::bigint[])  -- an index scan, not the whole table
      AND p.user_id = i.user_id AND p.version = i.base
    RETURNING p.user_id
),
recorded AS (
    INSERT INTO landed_writes (write_id, user_id, version, landed_at)
    SELECT i.write_id, i.user_id, i.version, i.updated_at
    FROM input i JOIN written w ON w.user_id = i.user_id
    WHERE %(record)s AND i.write_id IS NOT NULL
    ON CONFLICT (write_id) DO NOTHING
)
SELECT i.user_id, p.version, p.write_id,  -- what the row holds now, by index
       EXISTS (SELECT 1 FROM landed_writes l WHERE l.write_id = i.write_id)
FROM input i
LEFT JOIN profiles p ON p.user_id = i.user_id
WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.user_id = i.user_id)
"""
#: GUARDED_BATCH for a batch of one row (an uncontended write-through or write-around
#: caller): the same guard and the same answer, without the arrays and their joins.
GUARDED_ROW = """
WITH written AS (
    UPDATE profiles SET name = %(name)s, bio = %(bio)s, location = %(location)s,
        followers = %(followers)s, version = %(version)s, updated_at = %(updated_at)s,
        write_id = %(write_id)s::text
    WHERE user_id = %(user_id)s AND version = %(base)s
    RETURNING user_id
),
recorded AS (
    INSERT INTO landed_writes (write_id, user_id, version, landed_at)
    SELECT %(write_id)s::text, user_id, %(version)s, %(updated_at)s FROM written
    WHERE %(record)s AND %(write_id)s::text IS NOT NULL
    ON CONFLICT (write_id) DO NOTHING
)
SELECT %(user_id)s::bigint, p.version, p.write_id,
       EXISTS (SELECT 1 FROM landed_writes l WHERE l.write_id = %(write_id)s::text)
FROM (SELECT 1) AS one
LEFT JOIN profiles p ON p.user_id = %(user_id)s
WHERE NOT EXISTS (SELECT 1 FROM written)
"""
#: One row of a batch, alone (after the batch statement failed on a row the database
#: refuses): the same guard, the same answer.
GUARDED_ONE = """
WITH written AS (
    UPDATE profiles SET name = %(name)s, bio = %(bio)s, location = %(location)s,
        followers = %(followers)s, version = %(version)s, updated_at = %(updated_at)s,
        write_id = %(write_id)s
    WHERE user_id = %(user_id)s AND version = %(base)s
    RETURNING user_id
)
SELECT (SELECT count(*) FROM written) > 0
"""
RECORD_LANDING = (
    "INSERT INTO landed_writes (write_id, user_id, version, landed_at) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (write_id) DO NOTHING"
)
ROW_STATE = (
    "SELECT p.version, p.write_id, EXISTS (SELECT 1 FROM landed_writes l "
    "WHERE l.write_id = %s) FROM (SELECT 1) AS one "
    "LEFT JOIN profiles p ON p.user_id = %s"
)
LANDED = """
SELECT write_id FROM landed_writes WHERE write_id = ANY(%(ids)s)
UNION SELECT write_id FROM profiles WHERE user_id = ANY(%(users)s) AND write_id = ANY(%(ids)s)
"""
PRUNE_LANDINGS = "DELETE FROM landed_writes WHERE id <= (SELECT max(id) FROM landed_writes) - %s"
LAB_TRIGGER_PREFIX = "cachetui_lab_reject_"


def lab_trigger_sql(user_id: int, reject: bool) -> list[str]:
    """The statements that install (or drop) the lab trigger refusing every update of the
    user (a function and a trigger named ``cachetui_lab_reject_<id>``)."""
    uid = int(user_id)
    name = f"{LAB_TRIGGER_PREFIX}{uid}"
    if not reject:
        return [f"DROP TRIGGER IF EXISTS {name} ON profiles", f"DROP FUNCTION IF EXISTS {name}()"]
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('cachetui.restoring', true) = 'on' THEN RETURN NEW; END IF; "
        f"RAISE EXCEPTION 'lab: every write of user {uid} is rejected'; END $$",
        f"CREATE OR REPLACE TRIGGER {name} BEFORE UPDATE ON profiles FOR EACH ROW "
        f"WHEN (NEW.user_id = {uid}) EXECUTE FUNCTION {name}()",
    ]


LAB_TRIGGERS = (
    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'profiles'::regclass "
    f"AND tgname LIKE '{LAB_TRIGGER_PREFIX}%'"
)


def guarded_write(rows: Sequence[tuple[Profile, int]], record: bool) -> tuple[str, dict[str, Any]]:
    """The statement and parameters writing ``rows`` (each with its base version) under
    the guard, in one round trip: a plain guarded UPDATE for one row (cheaper to plan
    than the array form), else one statement over arrays of every column."""
    if len(rows) == 1:
        profile, base = rows[0]
        return GUARDED_ROW, {**profile._asdict(), "base": base, "record": record}
    return GUARDED_BATCH, {
        "user_id": [p.user_id for p, _ in rows],
        "name": [p.name for p, _ in rows],
        "bio": [p.bio for p, _ in rows],
        "location": [p.location for p, _ in rows],
        "followers": [p.followers for p, _ in rows],
        "version": [p.version for p, _ in rows],
        "updated_at": [p.updated_at for p, _ in rows],
        "write_id": [p.write_id for p, _ in rows],
        "base": [base for _, base in rows],
        "record": record,
    }
