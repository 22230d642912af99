"""Fresh PostgreSQL schemas for the runs of ``cachetui bench`` and ``cachetui compare``.

Over a database server there is no file to copy: each run (a policy of a benchmark, a
side of a comparison) works in a schema of its own, ``cachetui_bench_<host>_<pid>_<n>``
(``host``: this machine's name in ``[a-z0-9_]``; ``n`` counts the runs of the process),
selected with libpq's ``options=-csearch_path=…`` and dropped, with all it holds, when
the run ends. A process that dies first leaves its schemas behind: every run starts by
dropping those of this host whose process is gone (:func:`drop_leftovers`). The outbox
file a run's durable queue made in the data directory goes with its schema.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.stores.redis_url import mask_url

PREFIX = "cachetui_bench_"
#: The tables and trigger functions an engine makes in a PostgreSQL schema (the lab's
#: rejection functions are ``cachetui_lab_reject_<id>``): what a run's schema may hold.
TABLES = ("profiles", "dead_letters", "cachetui_meta", "landed_writes", "cachetui_replaced")
FUNCTIONS = (
    "cachetui_foreign_write",
    "cachetui_foreign_delete",
    "cachetui_foreign_truncate",
    "cachetui_foreign_insert",
)
LAB_FUNCTION_PATTERN = r"cachetui\_lab\_reject\_%"
#: PostgreSQL names are at most 63 bytes: the host's part is cut to this.
HOST_CHARS = 24
_NAME = re.compile(rf"^{PREFIX}([a-z0-9_]+)_(\d+)_(\d+)$")
_runs = itertools.count()


def host_tag(name: str | None = None) -> str:
    """``name`` (default: this machine's) in ``[a-z0-9_]``, at most HOST_CHARS long."""
    text = re.sub(r"[^a-z0-9_]", "_", (name or socket.gethostname()).lower())
    return text[:HOST_CHARS] or "host"


def new_schema_name() -> str:
    """The next run's schema: ``cachetui_bench_<host>_<pid>_<n>``."""
    return f"{PREFIX}{host_tag()}_{os.getpid()}_{next(_runs)}"


def parse_schema_name(name: str) -> tuple[str, int] | None:
    """``(host, pid)`` of a run's schema; None for any other name."""
    found = _NAME.match(name)
    return None if found is None else (found.group(1), int(found.group(2)))


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    return True


def leftovers(names: Iterable[str], *, every_host: bool = False) -> list[str]:
    """The run schemas among ``names`` whose process is gone: of this host, with a pid
    that no longer runs (``every_host``: and every other host's, whose processes this
    machine cannot see)."""
    here = host_tag()
    gone = []
    for name in names:
        parsed = parse_schema_name(name)
        if parsed is None:
            continue
        host, pid = parsed
        if (host == here and not pid_alive(pid)) or (every_host and host != here):
            gone.append(name)
    return sorted(gone)


def schema_url(url: str, schema: str) -> str:
    """``url`` whose connections work in ``schema`` (``options=-csearch_path=…``, after
    the URL's own options, or ``PGOPTIONS``'s, which an ``options`` would hide)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    given = next((v for k, v in pairs if k == "options"), os.environ.get("PGOPTIONS", ""))
    options = f"{given} -csearch_path={schema}".strip()
    kept = [pair for pair in parts.query.split("&") if pair and pair.partition("=")[0] != "options"]
    kept.append("options=" + quote(options, safe=""))
    return urlunsplit(parts._replace(query="&".join(kept)))


async def create_schema(url: str, timeout: float = 10.0) -> str:
    """A new run schema in the database at ``url``; its name."""
    import psycopg
    from psycopg import sql

    from cachetui.engine.database.postgres_direct import direct
    from cachetui.engine.database.postgres_errors import message

    name = new_schema_name()
    statement = sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name))
    async with direct(url, timeout) as conn:
        try:
            await conn.execute(f"creating schema {name} in {mask_url(url)}", statement)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"cannot create schema {name} in {mask_url(url)}: {message(exc)} (bench and "
                "compare run each policy in a schema of their own: the user needs CREATE "
                "on the database)"
            ) from None
    return name


async def list_schemas(url: str, timeout: float = 10.0) -> list[str]:
    """Every run schema in the database at ``url`` (any host's, any pid's)."""
    from cachetui.engine.database.postgres_direct import direct

    async with direct(url, timeout) as conn:
        rows = await conn.execute(
            f"listing the benchmarks' schemas in {mask_url(url)}",
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
            (PREFIX.replace("_", r"\_") + "%",),
        )
        return [str(name) for (name,) in rows]


async def foreign_objects(
    url: str, names: Iterable[str], timeout: float = 10.0
) -> dict[str, list[str]]:
    """For each run schema in ``names``, what it holds that an engine did not make (a
    table, view or sequence of another name, a function, a type): a schema named like a
    run's but holding the user's objects is not a run's, and is never dropped."""
    from cachetui.engine.database.postgres_direct import direct

    names = list(names)
    if not names:
        return {}
    async with direct(url, timeout) as conn:
        rows = await conn.execute(
            f"reading what the benchmarks' schemas hold in {mask_url(url)}",
            """
            SELECT n.nspname, format('%%s %%I.%%I', CASE c.relkind WHEN 'v' THEN 'view'
                   WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                   WHEN 'f' THEN 'foreign table' ELSE 'table' END, n.nspname, c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(%(names)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
              AND NOT (c.relkind IN ('r', 'p') AND c.relname = ANY(%(tables)s))
              AND NOT (c.relkind = 'S' AND EXISTS (
                  SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype IN ('a', 'i') AND t.relnamespace = c.relnamespace
                    AND t.relname = ANY(%(tables)s)))
            UNION ALL
            SELECT n.nspname, format('function %%I.%%I()', n.nspname, p.proname)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY(%(names)s) AND NOT p.proname = ANY(%(functions)s)
              AND p.proname NOT LIKE %(lab)s
            UNION ALL
            SELECT n.nspname, format('type %%I.%%I', n.nspname, t.typname)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = ANY(%(names)s) AND t.typrelid = 0 AND t.typelem = 0
            ORDER BY 1, 2
            """,
            {
                "names": names,
                "tables": list(TABLES),
                "functions": list(FUNCTIONS),
                "lab": LAB_FUNCTION_PATTERN,
            },
        )
        found: dict[str, list[str]] = {name: [] for name in names}
        for schema, thing in rows:
            found[str(schema)].append(str(thing))
    return found


async def drop_schemas(url: str, names: Iterable[str], timeout: float = 10.0) -> None:
    """Drop the run schemas ``names`` with all they hold, and the outbox files their
    durable queues made (``<user data dir>/outbox-<database id>.db``)."""
    import psycopg
    from psycopg import sql

    from cachetui.engine.database.postgres_direct import direct

    names = list(names)
    if not names:
        return
    async with direct(url, timeout) as conn:
        for name in names:
            doing = f"dropping schema {name} in {mask_url(url)}"
            ids: list[str] = []
            with suppress(psycopg.errors.UndefinedTable):  # never opened by an engine
                rows = await conn.execute(
                    doing,
                    sql.SQL("SELECT value FROM {}.cachetui_meta WHERE key = 'database_id'").format(
                        sql.Identifier(name)
                    ),
                )
                ids = [str(v) for (v,) in rows]
            await conn.execute(
                doing, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )
            for database_id in ids:
                remove_outbox(database_id)


def outbox_files(database_id: str) -> list[Path]:
    """The outbox file of a server's database and its journal files, those that exist."""
    from cachetui.engine.queue.url import server_outbox_path

    base = server_outbox_path(database_id)
    found = [Path(base + tail) for tail in ("", "-wal", "-shm", "-journal")]
    return [path for path in found if path.exists()]


def remove_outbox(database_id: str) -> None:
    for path in outbox_files(database_id):
        with suppress(FileNotFoundError):
            path.unlink()


async def drop_leftovers(url: str, timeout: float = 10.0) -> list[str]:
    """Drop the run schemas of this host whose process is gone (and that hold only what
    an engine makes: :func:`foreign_objects`); their names."""
    gone = leftovers(await list_schemas(url, timeout))
    others = await foreign_objects(url, gone, timeout)
    gone = [name for name in gone if not others.get(name)]
    await drop_schemas(url, gone, timeout)
    return gone
