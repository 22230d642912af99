"""The options of ``cachetui`` itself and the engine configuration they make, shared by
:mod:`cachetui.cli.command`, :mod:`cachetui.serve.command` (which passes them on to every
tab's app) and :mod:`cachetui.compare.cli` (both sides take them).
The options' types are in :mod:`cachetui.cli.option_types`, the checks made before
anything starts in :mod:`cachetui.cli.option_checks`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cachetui.cli.near_cache_option import add_invalidate_option
from cachetui.cli.option_checks import (
    cache_url_argument,
    check_db_argument,
    check_postgres_url,
    check_server_options,
    default_db_path,
    queue_url_argument,
)
from cachetui.cli.option_types import (
    db_timeout_argument,
    flush_timeout_argument,
    int_at_least,
    megabytes_argument,
    policy_argument,
    positive_int,
    seconds_argument,
    theme_argument,
)
from cachetui.engine.config import EVICTIONS, EngineConfig, WritePolicy
from cachetui.engine.errors import ValidationError
from cachetui.engine.lab.demo_data import MAX_SEED_PROFILES
from cachetui.engine.queue.url import parse_queue_url
from cachetui.engine.stores.factory import CACHE_URL_FORMS
from cachetui.scenarios.loader import BUILTIN_NAMES, scenario_argument
from cachetui.scenarios.model import Scenario

DEFAULT_PROFILES = 1000
#: ``--cache``'s help, in ``cachetui``, ``cachetui serve`` and ``cachetui bench``.
CACHE_HELP = f"cache store: {CACHE_URL_FORMS} (default: memory://)"


def add_server_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options about the servers' connections: ``--db-pool``, ``--db-rtt``,
    ``--cache-rtt``, ``--jitter``, ``--db-timeout`` (the app's, and ``cachetui bench``'s)."""
    target.add_argument(
        "--db-pool",
        type=int_at_least(1, 1000),
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
        type=theme_argument,
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
        type=policy_argument,
        default=WritePolicy.WRITE_THROUGH.value,
        metavar="NAME",
        help="write policy at start: write-through (default), write-behind, write-around, no-cache",
    )
    target.add_argument(
        "--profiles",
        type=int_at_least(0, MAX_SEED_PROFILES),
        default=DEFAULT_PROFILES,
        metavar="N",
        help=f"demo profiles to seed into an empty database (default {DEFAULT_PROFILES:,}; "
        f"at most {MAX_SEED_PROFILES:,})",
    )
    target.add_argument(
        "--capacity",
        type=positive_int,
        default=100,
        metavar="N",
        help="cache capacity in entries (default 100)",
    )
    target.add_argument(
        "--eviction", choices=EVICTIONS, default="lru", help="eviction policy (default lru)"
    )
    target.add_argument(
        "--ttl",
        type=seconds_argument,
        default=None,
        metavar="S",
        help="cache entry time-to-live in seconds (default: none)",
    )
    target.add_argument(
        "--flush-interval",
        type=seconds_argument,
        default=2.0,
        metavar="S",
        help="write-behind: flush the queue every S seconds (default 2)",
    )
    target.add_argument(
        "--flush-timeout",
        type=flush_timeout_argument,
        default=5.0,
        metavar="S",
        help="on quit (q, SIGTERM) and policy switches: how long pending writes are given to "
        "land on a failing or unreachable database before the app asks (q) or gives up and "
        "names them (SIGTERM), 0.01 to 3600 seconds (default 5)",
    )
    target.add_argument(
        "--batch-size",
        type=positive_int,
        default=200,
        metavar="N",
        help="write-behind: flush at once when N writes are pending; at most N rows per "
        "transaction (default 200)",
    )
    target.add_argument(
        "--max-pending",
        type=positive_int,
        default=1000,
        metavar="N",
        help="write-behind: queue bound; beyond it updates wait (default 1000)",
    )
    target.add_argument(
        "--max-attempts",
        type=positive_int,
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
        "outbox file <db>.outbox; sqlite:///PATH chooses it) or redis://HOST:PORT/DB (a "
        "durable Redis Stream); an update is acknowledged once it is in the queue",
    )
    add_invalidate_option(target)


def add_history_options(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    target.add_argument(
        "--history",
        metavar="FILE",
        help="stream the history (every read and update, landings, epochs, a final record "
        "per user at close) to FILE as JSON lines, for `cachetui check` (docs/verdicts.md)",
    )
    target.add_argument(
        "--history-max",
        type=megabytes_argument,
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
        flush_timeout=args.flush_timeout,
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
