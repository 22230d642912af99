"""What ``cachetui reset`` finds that cachetui made, and removes.

On a PostgreSQL database (in the schema the URL's connections work in): its tables
(``profiles``, ``dead_letters``, ``cachetui_meta``, ``landed_writes``,
``cachetui_replaced``, their indexes and triggers going with them), the trigger functions
it created (``cachetui_foreign_*``, the lab's ``cachetui_lab_reject_<id>``), the outbox
file ``<user data dir>/outbox-<database id>.db`` and the benchmarks' leftover schemas
(every ``cachetui_bench_*`` schema but those of a live process on this host). On a SQLite
file: the file, its journal (``-wal``, ``-shm``) and its outbox ``<file>.outbox``. With a
``redis://`` queue: the stream ``cachetui:queue:<database id>`` and the keys under it
(heartbeats, withdrawn writes). A database whose tables cachetui did not make is refused:
:class:`Foreign`, and nothing is removed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetui.engine.database import run_schemas
from cachetui.engine.database.paths import SQLITE_HEADER, database_path_problem
from cachetui.engine.database.sqlite_statements import REQUIRED_COLUMNS
from cachetui.engine.errors import CacheTuiError, DatabaseUnavailable
from cachetui.engine.queue.url import parse_queue_url
from cachetui.engine.stores.redis_url import is_redis_url, mask_url

if TYPE_CHECKING:
    from cachetui.engine.database.postgres_direct import Direct

TABLES = run_schemas.TABLES
FUNCTIONS = run_schemas.FUNCTIONS


class Foreign(CacheTuiError):
    """The database holds tables cachetui did not make: nothing is removed."""


@dataclass
class Targets:
    """What a reset removes; ``lines`` describe it, one item each."""

    where: str
    lines: list[str] = field(default_factory=list)
    database_id: str = ""
    files: list[Path] = field(default_factory=list)
    redis_url: str = ""
    redis_keys: list[str] = field(default_factory=list)
    # PostgreSQL
    url: str = ""
    schema: str = ""
    tables: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    bench_schemas: list[str] = field(default_factory=list)
    #: --db-timeout: each statement's bound (the server's statement_timeout, a reply
    #: deadline).
    timeout: float = 10.0
    #: What is left alone and why (a schema named like a benchmark's holding the user's
    #: objects), one line each.
    notes: list[str] = field(default_factory=list)


def find(db: str, queue: str | None, timeout: float = 10.0) -> Targets:
    """What cachetui made at ``db`` (a PostgreSQL URL or a SQLite path) and in ``queue``.
    Raises Foreign, DatabaseUnavailable (the server does not answer) or StoreUnavailable."""
    if db.lower().startswith(("postgresql://", "postgres://")):
        targets = _postgres(db, timeout)
    else:
        targets = _sqlite(db)
    if queue and targets.database_id:
        _queue(targets, queue, db)
    return targets


def _postgres(url: str, timeout: float) -> Targets:
    return asyncio.run(_postgres_targets(url, timeout))


async def _postgres_targets(url: str, timeout: float) -> Targets:
    from psycopg import sql

    from cachetui.engine.database.postgres_direct import direct
    from cachetui.engine.database.postgres_schema import no_schema

    shown = mask_url(url)
    doing = f"reading what cachetui made in {shown}"
    async with direct(url, timeout) as conn:
        rows = await conn.execute(doing, "SELECT current_schema(), current_setting('search_path')")
        current, search_path = rows[0] if rows else (None, "")
        schema = str(current or "")
        info = conn.conn.info
        targets = Targets(f"PostgreSQL at {info.host}:{info.port}/{info.dbname}", url=url)
        targets.schema = schema
        targets.timeout = timeout
        if current is None:
            targets.notes.append(no_schema(str(search_path)))
        found = {
            str(name)
            for (name,) in await conn.execute(
                doing,
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = ANY(%s)",
                (schema, list(TABLES)),
            )
        }
        if "profiles" in found:
            columns = {
                str(name)
                for (name,) in await conn.execute(
                    doing,
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = 'profiles'",
                    (schema,),
                )
            }
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing or "cachetui_meta" not in found:
                why = f"it lacks {', '.join(missing)}" if missing else "no cachetui_meta beside it"
                raise Foreign(
                    f"{shown}: its profiles table (schema {schema}) was not made by cachetui "
                    f"({why}); nothing removed"
                )
        if "cachetui_meta" in found:
            rows = await conn.execute(
                doing,
                sql.SQL("SELECT value FROM {}.cachetui_meta WHERE key = 'database_id'").format(
                    sql.Identifier(schema)
                ),
            )
            targets.database_id = str(rows[0][0]) if rows else ""
            targets.tables = [t for t in TABLES if t in found]
            targets.functions = [
                str(name)
                for (name,) in await conn.execute(
                    doing,
                    "SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
                    "ON n.oid = p.pronamespace WHERE n.nspname = %s "
                    "AND (p.proname = ANY(%s) OR p.proname LIKE 'cachetui\\_lab\\_reject\\_%%') "
                    "ORDER BY p.proname",
                    (schema, list(FUNCTIONS)),
                )
            ]
            await _refuse_dependants(conn, shown, targets)
    for table in targets.tables:
        targets.lines.append(f"table {schema}.{table}")
    for function in targets.functions:
        targets.lines.append(f"function {schema}.{function}() (and its trigger)")
    names = await run_schemas.list_schemas(url, timeout)
    live = set(names) - set(run_schemas.leftovers(names, every_host=True))
    gone = [n for n in names if n not in live]
    others = await run_schemas.foreign_objects(url, gone, timeout)
    targets.bench_schemas = [n for n in gone if not others.get(n)]
    for name in gone:
        if others.get(name):
            held = ", ".join(others[name][:3]) + (", …" if len(others[name]) > 3 else "")
            targets.notes.append(
                f"schema {name} is left alone: named like a benchmark's, but it holds "
                f"what cachetui does not make ({held})"
            )
    for name in targets.bench_schemas:
        targets.lines.append(f"schema {name} (a benchmark's leftover)")
    if targets.database_id:
        _files(targets, run_schemas.outbox_files(targets.database_id))
    return targets


def _drop_statements(targets: Targets) -> list[Any]:
    """The statements that remove the listed tables and functions, RESTRICT: an object of
    the user's that depends on one of them (a view, a foreign key) makes them fail."""
    from psycopg import sql

    statements = []
    if targets.tables:
        statements.append(
            sql.SQL("DROP TABLE IF EXISTS {}").format(
                sql.SQL(", ").join(
                    sql.Identifier(targets.schema, table) for table in targets.tables
                )
            )
        )
    if targets.functions:
        statements.append(
            sql.SQL("DROP FUNCTION IF EXISTS {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{}()").format(sql.Identifier(targets.schema, function))
                    for function in targets.functions
                )
            )
        )
    return statements


async def _refuse_dependants(conn: Direct, shown: str, targets: Targets) -> None:
    """Try the drops in a transaction rolled back: Foreign, naming them, if objects
    cachetui did not make depend on what it would remove (they would have to go too)."""
    import psycopg

    from cachetui.engine.database.postgres_errors import message

    doing = f"trying the removal in {shown}"
    try:
        async with conn.conn.transaction(force_rollback=True):
            await conn.execute(doing, "SET LOCAL lock_timeout = '5s'")
            for statement in _drop_statements(targets):
                await conn.execute(doing, statement)
    except psycopg.errors.DependentObjectsStillExist as exc:
        detail = (exc.diag.message_detail or "").strip().splitlines()
        named = "; ".join(detail[:3]) + ("; …" if len(detail) > 3 else "")
        raise Foreign(
            f"{shown}: objects cachetui did not make depend on its tables ({named}); "
            "nothing removed (drop or change them first)"
        ) from None
    except psycopg.errors.LockNotAvailable:
        raise Foreign(
            f"{shown}: its tables are in use (a running cachetui, or another program, holds "
            "them); nothing removed"
        ) from None
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"{shown}: cannot remove: {message(exc)}") from None


def _sqlite(path: str) -> Targets:
    if path == ":memory:":
        raise Foreign(":memory: is no file: there is nothing to remove")
    given = Path(path)
    targets = Targets(f"SQLite file {path}")
    problem = database_path_problem(path, writable=False)  # a folder, no file, unreadable
    if problem is not None:
        raise Foreign(f"--db {path}: {problem}; nothing removed")
    try:
        with given.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Foreign(f"--db {path}: cannot be read ({reason}); nothing removed") from None
    if header != SQLITE_HEADER:
        raise Foreign(f"{path}: not a SQLite database, so not cachetui's; nothing removed")
    try:
        with sqlite3.connect(f"{given.resolve().as_uri()}?mode=ro", uri=True) as db:
            tables = {str(n) for (n,) in db.execute("SELECT name FROM sqlite_master")}
            columns = {str(row[1]) for row in db.execute("PRAGMA table_info(profiles)")}
            row = None
            if "cachetui_meta" in tables:
                row = db.execute(
                    "SELECT value FROM cachetui_meta WHERE key = 'database_id'"
                ).fetchone()
        db.close()
    except sqlite3.Error as exc:
        raise Foreign(f"{path}: cannot read it ({exc}); nothing removed") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns] if columns else []
    if "cachetui_meta" not in tables or missing:
        why = f"its profiles table lacks {', '.join(missing)}" if missing else "no cachetui_meta"
        raise Foreign(f"{path}: not made by cachetui ({why}); nothing removed")
    targets.database_id = str(row[0]) if row else ""
    around = [f"{path}{tail}" for tail in ("", "-wal", "-shm", "-journal")]
    outbox = f"{path}.outbox"
    around += [f"{outbox}{tail}" for tail in ("", "-wal", "-shm", "-journal")]
    _files(targets, [Path(p) for p in around if Path(p).exists()])
    return targets


def _files(targets: Targets, files: list[Path]) -> None:
    for path in files:
        if path not in targets.files:
            targets.files.append(path)
            targets.lines.append(f"file {path}")


def _queue(targets: Targets, queue: str, db: str) -> None:
    if is_redis_url(queue):
        import redis

        from cachetui.engine.stores.redis_errors import check_reachable

        check_reachable(queue)
        stream = f"cachetui:queue:{targets.database_id}"
        with redis.Redis.from_url(queue, socket_connect_timeout=5) as client:
            keys = [stream] if client.exists(stream) else []
            keys += sorted(k.decode() for k in client.scan_iter(match=f"{stream}:*", count=1000))
        targets.redis_url, targets.redis_keys = queue, keys
        for key in keys:
            targets.lines.append(f"redis key {key} at {mask_url(queue)}")
        return
    location = parse_queue_url(queue, db)  # sqlite:// alone: the outbox listed already
    if location.kind == "sqlite" and location.path:
        if Path(location.path).exists():
            _check_outbox(location.path, queue)
        found = [Path(location.path + t) for t in ("", "-wal", "-shm", "-journal")]
        _files(targets, [path for path in found if path.exists()])


def _check_outbox(path: str, queue: str) -> None:
    """Foreign unless ``path`` is an outbox file cachetui made (a SQLite file with its
    ``outbox_meta`` table)."""
    refused = f"--queue {queue}: {path} is not an outbox cachetui made"
    problem = database_path_problem(path, writable=False)
    if problem is not None and "SQLite" not in problem:  # a folder, not a file …
        raise Foreign(f"--queue {queue}: {path} {problem}; nothing removed")
    try:
        with open(path, "rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise Foreign(f"{refused} (not a SQLite file); nothing removed")
        with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as db:
            tables = {str(n) for (n,) in db.execute("SELECT name FROM sqlite_master")}
        db.close()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Foreign(f"{refused} (cannot read it: {reason}); nothing removed") from None
    except sqlite3.Error as exc:
        raise Foreign(f"{refused} (cannot read it: {exc}); nothing removed") from None
    if not {"outbox", "outbox_meta"} <= tables:
        raise Foreign(f"{refused} (no outbox_meta table); nothing removed")


def remove(targets: Targets) -> None:
    """Remove everything ``targets`` lists."""
    if targets.url:
        asyncio.run(_remove_postgres(targets))
    for path in targets.files:
        with suppress(FileNotFoundError):
            path.unlink()
    if targets.redis_keys:
        import redis

        client: Any
        with redis.Redis.from_url(targets.redis_url, socket_connect_timeout=5) as client:
            client.delete(*targets.redis_keys)


async def _remove_postgres(targets: Targets) -> None:
    from cachetui.engine.database.postgres_direct import direct

    if targets.tables or targets.functions:
        async with (
            direct(targets.url, targets.timeout) as conn,
            conn.conn.transaction(),  # one transaction, RESTRICT
        ):
            doing = f"removing what cachetui made in {mask_url(targets.url)}"
            for statement in _drop_statements(targets):
                await conn.execute(doing, statement)
    if targets.bench_schemas:
        await run_schemas.drop_schemas(targets.url, targets.bench_schemas, targets.timeout)
