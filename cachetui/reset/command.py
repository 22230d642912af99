"""``cachetui reset --db PATH|URL [--queue URL] [--yes]``: list what cachetui made there,
ask, remove it (see :mod:`cachetui.reset.targets`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cachetui.cli.option_checks import check_postgres_url, queue_url_argument
from cachetui.cli.option_types import db_timeout_argument
from cachetui.engine.errors import CacheTuiError
from cachetui.literal import printable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui reset",
        description="Remove what cachetui made in a database, after listing it and asking. "
        "On PostgreSQL (in the schema the URL works in): its tables profiles, dead_letters, "
        "cachetui_meta, landed_writes and cachetui_replaced (with their indexes and "
        "triggers), its trigger functions, the outbox file outbox-<database id>.db in your "
        "data directory, and the schemas benchmarks left behind (cachetui_bench_*, but "
        "those of a benchmark still running on this machine). On a SQLite file: the file, "
        "its -wal and -shm, and its outbox <file>.outbox. A database whose tables cachetui "
        "did not make, or one where objects of yours (a view, a foreign key) depend on its "
        "tables, is refused, and nothing is removed.",
    )
    parser.add_argument(
        "--db",
        required=True,
        metavar="PATH|URL",
        help="the SQLite file, or the PostgreSQL database (postgresql://USER@HOST:PORT/DBNAME)",
    )
    parser.add_argument(
        "--queue",
        type=queue_url_argument,
        metavar="URL",
        help="the durable queue it used: with redis://HOST:PORT/DB, also the stream "
        "cachetui:queue:<database id> and the keys under it (heartbeats); with "
        "sqlite:///PATH, that outbox file",
    )
    parser.add_argument(
        "--db-timeout",
        type=db_timeout_argument,
        metavar="S",
        default=10.0,
        help="PostgreSQL: connect timeout, and how long each statement may take, in seconds, "
        "0.01 to 3600 (default 10)",
    )
    parser.add_argument("--yes", action="store_true", help="remove without asking")
    return parser


def _error(message: str) -> int:
    print(f"cachetui reset: error: {printable(message)}", file=sys.stderr)
    return 2


def main(argv: Sequence[str], ask: Callable[[str], str] = input) -> int:
    from cachetui.reset.targets import find, remove

    args = build_parser().parse_args(list(argv))
    try:
        if args.db.lower().startswith(("postgresql://", "postgres://")):
            check_postgres_url(args.db)
        targets = find(args.db, args.queue, args.db_timeout)
    except CacheTuiError as exc:
        return _error(str(exc))
    for note in targets.notes:
        print(f"cachetui reset: {printable(note)}")
    if not targets.lines:
        print(f"cachetui reset: nothing of cachetui's in {printable(targets.where)}")
        return 0
    print(f"cachetui reset will remove, in {printable(targets.where)}:")
    for line in targets.lines:
        print(f"  {printable(line)}")
    if not args.yes:
        try:
            answer = ask("Remove them? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("cachetui reset: nothing removed")
            return 1
    try:
        remove(targets)
    except Exception as exc:  # noqa: BLE001 - a server's error, in one line
        first = str(exc).strip().splitlines()
        return _error(f"removing: {first[0] if first else type(exc).__name__}")
    count = len(targets.lines)
    print(f"cachetui reset: removed {count} item{'s' if count != 1 else ''}")
    return 0
