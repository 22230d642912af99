"""``cachetui compare [POLICY_A POLICY_B] [--queue-a URL] [--queue-b URL] [app options]``:
two policies over the same traffic, side by side."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from cachetui.cli.option_checks import queue_url_argument
from cachetui.cli.options import add_app_options, config_from_args
from cachetui.compare.side_configs import Sides
from cachetui.engine.config import EngineConfig, WritePolicy
from cachetui.engine.errors import CacheTuiError, ValidationError
from cachetui.literal import printable

DEFAULT_POLICIES = (WritePolicy.WRITE_THROUGH.value, WritePolicy.WRITE_BEHIND.value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui compare",
        description="Two write policies side by side over the same traffic: every key and "
        "every workload operation goes to both, each over its own copy of the database "
        "(in a temporary folder deleted on exit: your --db file is only read; over "
        "PostgreSQL, a fresh schema of its own, dropped on exit) and its own cache.",
        epilog="Examples: cachetui compare (write-through vs write-behind); cachetui compare "
        "write-behind write-around; cachetui compare write-behind write-behind --queue-b "
        "sqlite:// (a memory queue against a durable outbox: press c).",
    )
    names = ", ".join(p.value for p in WritePolicy)
    parser.add_argument(
        "policies",
        nargs="*",
        metavar="POLICY",
        help=f"two of: {names} (default: write-through write-behind); the same policy twice "
        "only with different queues",
    )
    parser.add_argument(
        "--queue-a", type=queue_url_argument, metavar="URL", help="the left side's queue"
    )
    parser.add_argument(
        "--queue-b", type=queue_url_argument, metavar="URL", help="the right side's queue"
    )
    group = parser.add_argument_group("app options (as for `cachetui`, for both sides)")
    add_app_options(group)
    parser.set_defaults(policy=None, scenario=None)
    for action in parser._actions:  # given as POLICY_A POLICY_B; scenarios are the app's
        if action.dest in ("policy", "scenario"):
            action.help = argparse.SUPPRESS
    return parser


def _error(message: str) -> int:
    print(f"cachetui compare: error: {message}", file=sys.stderr)
    return 2


def sides_from_args(args: argparse.Namespace) -> Sides:
    """ValidationError (one line) for anything the two sides could not run with."""
    if args.policy is not None:
        raise ValidationError(
            "--policy: compare takes its two policies as POLICY_A POLICY_B", field="policy"
        )
    if args.scenario is not None:
        raise ValidationError("--scenario: scenarios run in `cachetui`, not in compare")
    given = list(args.policies) or list(DEFAULT_POLICIES)
    if len(given) != 2:
        raise ValidationError(f"expected two policies (POLICY_A POLICY_B), got {len(given)}")
    a_policy, b_policy = (WritePolicy.parse(p) for p in given)
    queue_a = args.queue_a or args.queue
    queue_b = args.queue_b or args.queue
    if a_policy is b_policy and queue_a == queue_b:
        raise ValidationError(
            f"both sides are {a_policy} with queue {queue_a}: compare the same policy only "
            "with different queues (--queue-a URL / --queue-b URL)"
        )

    def side(policy: WritePolicy, queue: str, own: str | None, name: str) -> EngineConfig:
        """Checked as `cachetui` checks its options; an error names --queue-a/-b if given."""
        try:
            return config_from_args(
                argparse.Namespace(
                    **{
                        **vars(args),
                        "policy": policy.value,
                        "queue": queue,
                        "history": side_history(args.history, name),
                    }
                )  # fmt: skip
            )
        except ValidationError as exc:
            if own is None:
                raise
            message = str(exc).replace("--queue ", f"--queue-{name} ", 1)
            raise ValidationError(message, field="queue_url") from None

    return Sides(
        side(a_policy, queue_a, args.queue_a, "a"), side(b_policy, queue_b, args.queue_b, "b")
    )


def side_history(path: str | None, name: str) -> str | None:
    """``--history h.jsonl``: side a writes ``h-a.jsonl``, side b ``h-b.jsonl``."""
    if path is None:
        return None
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-{name}.{suffix}" if dot and "/" not in suffix else f"{path}-{name}"


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    try:
        sides = sides_from_args(args)
    except (CacheTuiError, OSError) as exc:
        return _error(str(exc))
    from cachetui.compare.copies import DatabaseCopies, SchemaCopies
    from cachetui.compare.engines import make_engines

    copies: DatabaseCopies | SchemaCopies
    try:
        if sides.a.db_url is not None:  # a schema of its own for each side
            copies = SchemaCopies(sides.a.db_url, sides.a.db_timeout)
        else:
            copies = DatabaseCopies(sides.a.db_path)
    except CacheTuiError as exc:
        return _error(printable(str(exc)))
    try:
        try:
            engines = make_engines(sides, copies)
        except CacheTuiError as exc:  # StoreUnavailable: Redis does not answer
            return _error(str(exc))
        from cachetui.app.collector import tune_collector
        from cachetui.compare.app import CompareApp

        app = CompareApp(*engines, seed_profiles=args.profiles, theme=args.theme)
        tune_collector()  # after the imports and the engines' set-up: frozen
        try:
            app.run()
        except KeyboardInterrupt:
            return 128 + signal.SIGINT
        if app.session.startup_error:
            return _error(app.session.startup_error)
        return app.return_code or 0
    finally:
        copies.remove()
