"""``cachetui --talk``: the throwaway database a talk runs on, made afresh at each start,
and what talk mode sets (docs/talks.md, "Talk mode").

- No ``--db``: a new SQLite file, ``talk/profiles.db`` in the data directory (the file,
  its WAL and its outbox from the last talk are deleted first), seeded with the demo
  profiles; every database call pays :data:`TALK_DB_LATENCY` (the in-engine latency
  fault, shown in the header).
- ``--db postgresql://…``: the schema :data:`TALK_SCHEMA` in that database, dropped and
  created again (nothing else in the database is touched: every connection works in it
  through libpq's ``options=-csearch_path=cachetui_talk``), behind a link of
  :data:`TALK_DB_RTT` unless ``--db-rtt`` chose another.

The app binds ``X`` (reset the lab) in talk mode only: :mod:`cachetui.app.talk_mode`.
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from cachetui.engine.errors import DatabaseUnavailable, ValidationError
from cachetui.literal import printable

TALK_SCHEMA = "cachetui_talk"
TALK_DB_LATENCY = 0.010  # seconds: SQLite, the in-engine latency fault
TALK_DB_RTT = 0.002  # seconds: PostgreSQL, the link's round trip
TALK_FILE = Path("talk") / "profiles.db"  # in the data directory
#: What ``--help`` says about ``--talk``.
TALK_HELP = (
    "talk mode: a throwaway database made afresh at each start (a new SQLite file, "
    f"talk/profiles.db in your data directory, with a {TALK_DB_LATENCY * 1000:g} ms DB "
    f"latency; or with --db postgresql://… the schema {TALK_SCHEMA} there, dropped and "
    f"created again, behind a {TALK_DB_RTT * 1000:g} ms link); X resets the lab"
)


def add_talk_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--talk", action="store_true", help=TALK_HELP)


def prepare_talk(args: argparse.Namespace) -> None:
    """Make the talk's database afresh and point ``args`` at it (``--db``, and a PostgreSQL
    server's ``--db-rtt``). ValidationError for a ``--db`` that is not a PostgreSQL URL,
    DatabaseUnavailable if the server does not let the schema be made."""
    if args.db is None:
        args.db = fresh_sqlite_file()
    elif args.db.lower().startswith(("postgresql://", "postgres://")):
        args.db = fresh_schema(args.db, timeout=args.db_timeout)
        if args.db_rtt is None:
            args.db_rtt = TALK_DB_RTT
    else:
        raise ValidationError(
            "--talk makes its own SQLite file; with --talk, --db takes only a PostgreSQL "
            f"server (postgresql://…), not {printable(args.db[:60])!r}",
            field="db_path",
        )


def fresh_sqlite_file() -> str:
    """``talk/profiles.db`` in the data directory, with the last talk's file, WAL and
    outbox deleted: the app seeds it anew."""
    from cachetui.cli.option_checks import default_db_path

    path = Path(default_db_path()).parent / TALK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal", ".outbox", ".outbox-wal", ".outbox-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return str(path)


def fresh_schema(url: str, *, timeout: float) -> str:
    """Drop and create :data:`TALK_SCHEMA` in the database at ``url``; the URL whose
    connections work in it."""
    parts = urlsplit(url)
    if any(key == "options" for key, _ in parse_qsl(parts.query)):
        raise ValidationError(
            "--talk sets the connection's options (search_path) itself: remove options= "
            "from the --db URL",
            field="db_url",
        )
    # in a thread of its own: the caller may run an event loop (a test's)
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _make_schema(url, timeout)).result()
    option = "options=" + quote(f"-csearch_path={TALK_SCHEMA}", safe="")
    query = f"{parts.query}&{option}" if parts.query else option
    return urlunsplit(parts._replace(query=query))


async def _make_schema(url: str, timeout: float) -> None:
    """Drop and create :data:`TALK_SCHEMA`, each statement bounded by ``timeout``."""
    import psycopg
    from psycopg import sql

    from cachetui.engine.database.postgres_direct import direct

    schema = sql.Identifier(TALK_SCHEMA)
    doing = f"--talk making schema {TALK_SCHEMA}"
    try:
        async with direct(url, timeout) as conn:
            await conn.execute(doing, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
            await conn.execute(doing, sql.SQL("CREATE SCHEMA {}").format(schema))
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseUnavailable(f"--talk could not make schema {TALK_SCHEMA}: {first}") from None
