"""The options of ``cachetui`` itself and the engine configuration they make, shared by
:mod:`cachetui.cli.command`, :mod:`cachetui.serve.command` (which passes them on to every
tab's app) and :mod:`cachetui.compare.cli` (both sides take them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from cachetui.cli.near_cache_option import add_invalidate_option
from cachetui.engine.config import EVICTIONS, EngineConfig, WritePolicy
from cachetui.engine.database.paths import database_path_problem
from cachetui.engine.digits import check_digits, digit_problem
from cachetui.engine.errors import CacheTuiError, ValidationError
from cachetui.engine.lab.demo_data import MAX_SEED_PROFILES
from cachetui.engine.queue.url import parse_queue_url
from cachetui.engine.stores.factory import CACHE_URL_FORMS, check_cache_url
from cachetui.engine.stores.redis_url import is_redis_url, mask_secrets, mask_url, parse_redis_url
from cachetui.scenarios.loader import BUILTIN_NAMES, scenario_argument
from cachetui.scenarios.model import Scenario

DEFAULT_PROFILES = 1000
#: ``--cache``'s help, in ``cachetui``, ``cachetui serve`` and ``cachetui bench``.
CACHE_HELP = f"cache store: {CACHE_URL_FORMS} (default: memory://)"


def default_db_path() -> str:
    """``profiles.db`` in the user's data directory (created if needed)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("cachetui", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "profiles.db")


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        check_digits(text, argparse.ArgumentTypeError)
        try:
            value = int(text)
        except ValueError:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            shown = f"{value:,}" if len(text) <= 40 else f"{text[:40]}… ({len(text)} digits)"
            raise argparse.ArgumentTypeError(
                f"expected a number from {minimum} to {maximum:,}, got {shown}"
            )
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _seconds(text: str) -> float:
    check_digits(text, argparse.ArgumentTypeError)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text}")
    return value


#: ``--db-timeout``'s range (EngineConfig's ``db_timeout``).
DB_TIMEOUT_RANGE = (0.01, 3600.0)


def db_timeout_argument(text: str) -> float:
    """``--db-timeout``'s type: seconds in DB_TIMEOUT_RANGE."""
    value = _seconds(text)
    low, high = DB_TIMEOUT_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g} seconds, got {text}")
    return value


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


def _policy(text: str) -> str:
    try:
        return WritePolicy.parse(text).value
    except CacheTuiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def theme_names() -> list[str]:
    """Textual's built-in themes (what ctrl+p → "Theme" offers)."""
    from textual.theme import BUILTIN_THEMES

    return sorted(BUILTIN_THEMES)


def _theme(text: str) -> str:
    names = theme_names()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"unknown theme {text!r}; choose one of: {', '.join(names)}"
        )
    return text


def add_server_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options about the servers' connections: ``--db-pool``, ``--db-rtt``,
    ``--cache-rtt``, ``--jitter``, ``--db-timeout`` (the app's, and ``cachetui bench``'s)."""
    target.add_argument(
        "--db-pool",
        type=_int_at_least(1, 1000),
        metavar="N",
        default=10,
        help="PostgreSQL: connections in the pool (default 10)",
    )
    from cachetui.cli.link import duration_argument

    target.add_argument(
        "--db-rtt",
        type=duration_argument("--db-rtt"),
        metavar="D",
        help="put a link (a TCP relay of our own, docs/link.md) in front of the PostgreSQL "
        "server, adding this round-trip time (300us, 2ms, …)",
    )
    target.add_argument(
        "--cache-rtt",
        type=duration_argument("--cache-rtt"),
        metavar="D",
        help="the same in front of the Redis cache",
    )
    target.add_argument(
        "--jitter",
        type=duration_argument("--jitter"),
        metavar="D",
        default=0.0,
        help="with --db-rtt or --cache-rtt: a random one-way delay whose p99 is D (p50 D/10)",
    )
    target.add_argument(
        "--db-timeout",
        type=db_timeout_argument,
        metavar="S",
        default=10.0,
        help="PostgreSQL: connect and statement timeout in seconds, 0.01 to 3600 (default 10)",
    )


def add_app_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the app's options (all but --help and --version) to a parser or a group."""
    add_engine_options(target)
    target.add_argument(
        "--theme",
        type=_theme,
        metavar="NAME",
        help="colour theme: textual-dark (default), textual-light (for projectors), or any "
        "other built-in Textual theme; ctrl+p → Theme switches it live",
    )
    target.add_argument(
        "--scenario",
        type=scenario_argument,
        metavar="NAME",
        help="start straight into a guided scenario: "
        + ", ".join(BUILTIN_NAMES)
        + ", or the path of a .toml scenario file (docs/scenarios.md)",
    )
    add_history_options(target)


def add_engine_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The app's options that configure its engine (the database, the servers, the
    cache, the policy, the write-behind queue; not the screen's, nor the history's):
    shared with ``cachetui worker``."""
    target.add_argument(
        "--db",
        metavar="PATH|URL",
        help="SQLite file of profiles, or :memory:, or a PostgreSQL server as "
        "postgresql://USER@HOST:PORT/DBNAME (default: profiles.db in your data directory)",
    )
    add_server_options(target)
    target.add_argument(
        "--cache",
        type=cache_url_argument,
        metavar="URL",
        default="memory://",
        help=CACHE_HELP,
    )
    target.add_argument(
        "--policy",
        type=_policy,
        default=WritePolicy.WRITE_THROUGH.value,
        metavar="NAME",
        help="write policy at start: write-through (default), write-behind, write-around, no-cache",
    )
    target.add_argument(
        "--profiles",
        type=_int_at_least(0, MAX_SEED_PROFILES),
        default=DEFAULT_PROFILES,
        metavar="N",
        help=f"demo profiles to seed into an empty database (default {DEFAULT_PROFILES:,}; "
        f"at most {MAX_SEED_PROFILES:,})",
    )
    target.add_argument(
        "--capacity",
        type=_positive_int,
        default=100,
        metavar="N",
        help="cache capacity in entries (default 100)",
    )
    target.add_argument(
        "--eviction", choices=EVICTIONS, default="lru", help="eviction policy (default lru)"
    )
    target.add_argument(
        "--ttl",
        type=_seconds,
        default=None,
        metavar="S",
        help="cache entry time-to-live in seconds (default: none)",
    )
    target.add_argument(
        "--flush-interval",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="write-behind: flush the queue every S seconds (default 2)",
    )
    target.add_argument(
        "--batch-size",
        type=_positive_int,
        default=200,
        metavar="N",
        help="write-behind: flush at once when N writes are pending; at most N rows per "
        "transaction (default 200)",
    )
    target.add_argument(
        "--max-pending",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="write-behind: queue bound; beyond it updates wait (default 1000)",
    )
    target.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=3,
        metavar="N",
        help="write-behind: times a row the database rejects (a constraint, a trigger) is "
        "tried before it is parked as a dead letter (default 3)",
    )
    target.add_argument(
        "--conflict",
        choices=("reject", "overwrite"),
        default="reject",
        help="write-behind: a write whose row another writer changed is parked as a dead "
        "letter (reject, the default) or replaces the row (overwrite)",
    )
    target.add_argument(
        "--queue",
        type=queue_url_argument,
        metavar="URL",
        default="memory://",
        help="write-behind queue: memory:// (default; lost on a crash), sqlite:// (a durable "
        "outbox file <db>.outbox; sqlite:///PATH chooses it) or redis://HOST:PORT/DB (the "
        "fleet queue: durable, shared by every instance on the database); an update is "
        "acknowledged once it is in the queue",
    )
    add_invalidate_option(target)


def _megabytes(text: str) -> int:
    """``--history-max MB``: bytes."""
    check_digits(text, argparse.ArgumentTypeError)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected megabytes, got {text!r}") from None
    if not 0.01 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected 0.01 to 1000000 megabytes, got {text}")
    return int(value * 1_000_000)


def add_history_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    target.add_argument(
        "--history",
        metavar="FILE",
        help="stream the history (every read and update, landings, epochs, a final record "
        "per user at close) to FILE as JSON lines, for `cachetui check` (docs/verdicts.md)",
    )
    target.add_argument(
        "--history-max",
        type=_megabytes,
        metavar="MB",
        help="cap the history at MB megabytes: FILE rotates to FILE.1 (both stay under MB)",
    )


def scenario_link(args: argparse.Namespace, db_url: str | None) -> float | None:
    """The RTT of the link a ``--scenario`` that sets ``db-rtt`` gets on a PostgreSQL
    server when ``--db-rtt`` gave none (far-database: 2 ms); else None."""
    scenario = getattr(args, "scenario", None)
    if not isinstance(scenario, Scenario) or db_url is None:
        return None
    return scenario.db_rtt


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The engine configuration the options give; ValidationError (one line) for a
    ``--db`` or a ``--queue`` the engine could not use, before anything starts."""
    db_url = None
    if args.db and "://" in args.db:
        db_path, db_url = "", args.db
        if args.db.lower().startswith(("postgresql://", "postgres://")):
            check_postgres_url(args.db)
        if args.db.lower().startswith("sqlite://"):
            db_path, db_url = EngineConfig(db_url=args.db).db_path, None
            check_db_argument(db_path)
    elif args.db:
        check_db_argument(args.db)
        db_path = args.db
    else:
        db_path = default_db_path()
        check_db_argument(db_path, option="the default database")
    db_rtt = args.db_rtt if args.db_rtt is not None else scenario_link(args, db_url)
    check_server_options(
        db_url=db_url,
        cache_url=args.cache,
        db_rtt=db_rtt,
        cache_rtt=args.cache_rtt,
        jitter=args.jitter,
    )
    config = EngineConfig(
        db_path=db_path,
        db_url=db_url,
        db_pool=args.db_pool,
        db_timeout=args.db_timeout,
        db_rtt=db_rtt,
        cache_rtt=args.cache_rtt,
        jitter=args.jitter,
        cache_url=args.cache,
        policy=args.policy,
        capacity=args.capacity,
        eviction=args.eviction,
        ttl=args.ttl,
        flush_interval=args.flush_interval,
        batch_size=args.batch_size,
        max_pending=args.max_pending,
        max_attempts=args.max_attempts,
        conflict=args.conflict,
        queue_url=args.queue,
        invalidate_url=args.invalidate,
        history_path=getattr(args, "history", None),
        history_max_bytes=getattr(args, "history_max", None),
    )
    queue = parse_queue_url(config.queue_url, config.db_path)
    if queue.kind == "sqlite" and queue.path and not Path(queue.path).resolve().parent.is_dir():
        raise ValidationError(
            f"--queue {args.queue}: folder {Path(queue.path).resolve().parent} does not exist",
            field="queue_url",
        )
    return config
