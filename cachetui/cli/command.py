"""Command line: ``cachetui [options]`` launches the lab."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from cachetui import __version__
from cachetui.cli.dash_values import attach_dash_values
from cachetui.cli.driver_logs import route_driver_logs
from cachetui.cli.handoff import take_options
from cachetui.cli.options import add_app_options, config_from_args
from cachetui.cli.talk import add_talk_option, prepare_talk
from cachetui.engine.errors import CacheTuiError, StoreUnavailable, ValidationError
from cachetui.engine.preflight import check_servers
from cachetui.literal import printable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui",
        description=(
            "A keyboard-driven terminal lab for cache write policies: write-through, "
            "write-behind and write-around over a real database of user profiles: a SQLite file "
            "(the default) or a PostgreSQL server."
        ),
        epilog="Inside the app press ? for help on every key and policy. "
        "Also: `cachetui bench` compares the policies, `cachetui compare` runs two side by side, "
        "`cachetui serve` runs it in a browser, `cachetui link` delays a TCP server's traffic, "
        "`cachetui reset --db URL` removes what cachetui made in a database, `cachetui check` "
        "judges history files (--history), `cachetui worker` runs an instance without a screen.",
    )
    parser.add_argument("--version", action="version", version=f"cachetui {__version__}")
    add_app_options(parser)
    add_talk_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``argv`` (default: the command line, then any options handed over in the
    environment by ``cachetui serve``, see :mod:`cachetui.cli.handoff`)."""
    if argv is None:
        try:
            argv = sys.argv[1:] + take_options()
        except ValidationError as exc:
            print(f"cachetui: error: {exc}", file=sys.stderr)
            return 2
    argv = attach_dash_values(argv)  # --db-rtt -2ms: refused by the flag, in its words
    route_driver_logs()  # psycopg_pool's warnings into cachetui.log, never the terminal
    if argv[:1] == ["bench"]:
        from cachetui.bench.command import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["compare"]:
        from cachetui.compare.cli import main as compare_main

        return compare_main(argv[1:])
    if argv[:1] == ["serve"]:
        from cachetui.serve.command import main as serve_main

        return serve_main(argv[1:])
    if argv[:1] == ["reset"]:
        from cachetui.reset.command import main as reset_main

        return reset_main(argv[1:])
    if argv[:1] == ["check"]:
        from cachetui.cli.check import main as check_main

        return check_main(argv[1:])
    if argv[:1] == ["worker"]:
        from cachetui.worker.command import main as worker_main

        return worker_main(argv[1:])
    if argv[:1] == ["link"]:
        from cachetui.cli.link import main as link_main

        return link_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.talk:  # before the engine's configuration: --talk chooses --db
            prepare_talk(args)
        config = config_from_args(args)
    except (CacheTuiError, OSError) as exc:
        parser.error(str(exc))
    from cachetui.app.app import CacheTuiApp
    from cachetui.app.collector import tune_collector
    from cachetui.engine import Engine

    try:
        engine = Engine(config)
        check_servers(config)  # before the screen starts and anything is written
    except StoreUnavailable as exc:
        print(f"cachetui: error: {printable(str(exc))}", file=sys.stderr)  # a server's words
        return 2
    except CacheTuiError as exc:
        parser.error(str(exc))
    app = CacheTuiApp(
        engine,
        seed_profiles=args.profiles,
        scenario=args.scenario,
        theme=args.theme,
        talk=args.talk,
    )
    tune_collector()  # after the imports and the engine's set-up: frozen
    try:
        app.run()
    except KeyboardInterrupt:  # SIGINT before the app could handle it (while starting)
        return 128 + signal.SIGINT
    session = app.session
    if session.startup_error:
        print(f"cachetui: error: {printable(session.startup_error)}", file=sys.stderr)
        return 2
    if session.signal_report is not None:  # SIGTERM, SIGHUP, SIGINT quit like q
        from cachetui.app.dashboard_session import print_signal_report

        print_signal_report(session.signal_report)
    else:
        from cachetui.cli.quit_report import parked_lines, stderr_width, wrapped

        width = stderr_width()  # the terminal's: its own wrapping would cut words
        kept, where = session.kept_on_exit
        if kept:  # q with the database down and a durable queue: nothing lost
            stay = "write stays" if kept == 1 else "writes stay"
            said = f"cachetui: {kept} pending {stay} in the durable queue {where}; "
            for line in wrapped(said + "replayed on next start", width):
                print(line, file=sys.stderr)
        # q: the dead letters that stay in the database, named
        for line in parked_lines(session.parked_on_exit, config.db_path, width):
            print(line, file=sys.stderr)
        if session.unknown_on_exit:  # q: named, and the exit says so, as a lost write's would
            from cachetui.cli.quit_report import unknown_lines

            for line in unknown_lines(session.unknown_on_exit, width):
                print(printable(line), file=sys.stderr)
            return app.return_code or 1
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
