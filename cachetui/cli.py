"""Command line: ``cachetui [options]`` launches the lab."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cachetui import __version__
from cachetui.engine.config import EVICTIONS, EngineConfig, WritePolicy
from cachetui.engine.errors import CacheTuiError, StoreUnavailable
from cachetui.scenarios.loader import BUILTIN_NAMES, scenario_argument

DEFAULT_PROFILES = 1000


def default_db_path() -> str:
    """``profiles.db`` in the user's data directory (created if needed)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("cachetui", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "profiles.db")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text}")
    return value


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui",
        description=(
            "A keyboard-driven terminal lab for cache write policies: write-through, "
            "write-behind and write-around over a real SQLite database of user profiles."
        ),
        epilog="Inside the app press ? for help on every key and policy. "
        "Also: `cachetui bench` compares the policies, `cachetui serve` runs it in a browser.",
    )
    parser.add_argument("--version", action="version", version=f"cachetui {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file of profiles, or :memory: (default: profiles.db in your data directory)",
    )
    parser.add_argument(
        "--cache",
        metavar="URL",
        default="memory://",
        help="cache store (default: memory://, the in-process store)",
    )
    parser.add_argument(
        "--policy",
        type=_policy,
        default=WritePolicy.WRITE_THROUGH.value,
        metavar="NAME",
        help="write policy at start: write-through (default), write-behind, write-around, no-cache",
    )
    parser.add_argument(
        "--profiles",
        type=_non_negative_int,
        default=DEFAULT_PROFILES,
        metavar="N",
        help=f"demo profiles to seed into an empty database (default {DEFAULT_PROFILES})",
    )
    parser.add_argument(
        "--capacity",
        type=_positive_int,
        default=100,
        metavar="N",
        help="cache capacity in entries (default 100)",
    )
    parser.add_argument(
        "--eviction", choices=EVICTIONS, default="lru", help="eviction policy (default lru)"
    )
    parser.add_argument(
        "--ttl",
        type=_seconds,
        default=None,
        metavar="S",
        help="cache entry time-to-live in seconds (default: none)",
    )
    parser.add_argument(
        "--flush-interval",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="write-behind: flush the queue every S seconds (default 2)",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=200,
        metavar="N",
        help="write-behind: flush at once when N writes are pending; at most N rows per "
        "transaction (default 200)",
    )
    parser.add_argument(
        "--max-pending",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="write-behind: queue bound; beyond it updates wait (default 1000)",
    )
    parser.add_argument(
        "--theme",
        type=_theme,
        metavar="NAME",
        help="colour theme: textual-dark (default), textual-light (for projectors), or any "
        "other built-in Textual theme; ctrl+p → Theme switches it live",
    )
    parser.add_argument(
        "--scenario",
        type=scenario_argument,
        metavar="NAME",
        help="start straight into a guided scenario: "
        + ", ".join(BUILTIN_NAMES)
        + ", or the path of a .toml scenario file (docs/scenarios.md)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    if args.db and args.db != ":memory:" and not Path(args.db).resolve().parent.is_dir():
        raise OSError(f"--db {args.db}: folder {Path(args.db).resolve().parent} does not exist")
    return EngineConfig(
        db_path=args.db or default_db_path(),
        cache_url=args.cache,
        policy=args.policy,
        capacity=args.capacity,
        eviction=args.eviction,
        ttl=args.ttl,
        flush_interval=args.flush_interval,
        batch_size=args.batch_size,
        max_pending=args.max_pending,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from cachetui.bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["serve"]:
        from cachetui.serve import main as serve_main

        return serve_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (CacheTuiError, OSError) as exc:
        parser.error(str(exc))
    from cachetui.app.app import CacheTuiApp
    from cachetui.engine import Engine

    try:
        engine = Engine(config)
        if not engine.store.local:
            from cachetui.engine.stores.redis_store import check_reachable

            check_reachable(config.cache_url)
    except StoreUnavailable as exc:
        print(f"cachetui: error: {exc}", file=sys.stderr)
        return 2
    except CacheTuiError as exc:
        parser.error(str(exc))
    app = CacheTuiApp(engine, seed_profiles=args.profiles, scenario=args.scenario, theme=args.theme)
    app.run()
    if app.startup_error:
        print(f"cachetui: error: {app.startup_error}", file=sys.stderr)
        return 2
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
