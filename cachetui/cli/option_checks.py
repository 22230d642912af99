"""Checks of the app's server and file options, made before anything connects or is
written: a PostgreSQL URL libpq can parse, the ``--cache`` and ``--queue`` URLs, a
``--db`` file, options that need a server (``--db-rtt``, ``--cache-rtt``, ``--jitter``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from cachetui.engine.database.paths import database_path_problem
from cachetui.engine.digits import digit_problem
from cachetui.engine.errors import ValidationError
from cachetui.engine.queue.url import parse_queue_url
from cachetui.engine.stores.factory import check_cache_url
from cachetui.engine.stores.redis_url import is_redis_url, mask_secrets, mask_url, parse_redis_url


def default_db_path() -> str:
    """``profiles.db`` in the user's data directory (created if needed)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("cachetui", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "profiles.db")


def check_postgres_url(url: str, option: str = "--db") -> None:
    """ValidationError, before anything connects, for a PostgreSQL URL libpq cannot parse
    or whose port is no port. libpq's own message quotes the offending token, which may
    be the password: it is masked there too (``***``), as in the URL."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    def masked(text: str) -> str:
        return mask_secrets(text, url)

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        problem = masked(str(exc).strip())
        raise ValidationError(f"{option} {mask_url(url)}: {problem}", field="db_url") from None
    for port in str(params.get("port") or "").split(","):
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            why = digit_problem(port) or f"got {masked(port)!r}"
            raise ValidationError(
                f"{option} {mask_url(url)}: expected a port from 1 to 65535, {why}",
                field="db_url",
            )


def check_server_options(
    *,
    db_url: str | None,
    cache_url: str,
    db_rtt: float | None,
    cache_rtt: float | None,
    jitter: float,
) -> None:
    """ValidationError naming the flags for server options that cannot apply (the
    engine's own message names its configuration's fields, not the command line's)."""
    if db_rtt is not None and db_url is None:
        raise ValidationError(
            "--db-rtt needs a PostgreSQL server (--db postgresql://…): a SQLite file has "
            "no network to delay (its latency fault, l, does that)",
            field="db_rtt",
        )
    if cache_rtt is not None and not is_redis_url(cache_url):
        raise ValidationError(
            "--cache-rtt needs a Redis cache (--cache redis://…): the in-process store has "
            "no network to delay",
            field="cache_rtt",
        )
    if jitter and db_rtt is None and cache_rtt is None:
        raise ValidationError(
            "--jitter shakes a link: give --db-rtt or --cache-rtt too", field="jitter"
        )


def url_argument(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse ``type`` that keeps a URL ``check`` accepts (it raises
    ValidationError, which becomes argparse's one-line error, exit status 2). For
    ``--cache``: :func:`check_cache_url`; for an option naming only a Redis server:
    :func:`cachetui.engine.stores.redis_url.parse_redis_url`."""

    def parse(text: str) -> str:
        try:
            check(text)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return parse


cache_url_argument = url_argument(check_cache_url)


def _check_queue_url(url: str) -> None:
    """``--queue``: memory://, sqlite://[/PATH], or a Redis server as ``--cache`` takes it."""
    if is_redis_url(url):
        parse_redis_url(url)
    else:
        parse_queue_url(url, "profiles.db")  # the :memory: check comes with --db


queue_url_argument = url_argument(_check_queue_url)


def check_db_argument(path: str, *, writable: bool = True, option: str = "--db") -> None:
    """ValidationError naming ``path`` as the user gave it and what is wrong with it
    (see :func:`~cachetui.engine.database.paths.database_path_problem`)."""
    problem = database_path_problem(path, writable=writable)
    if problem is not None:
        raise ValidationError(f"{option} {path}: {problem}", field="db_path")
