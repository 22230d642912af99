"""``cachetui serve``: the same app in a browser, through textual-serve.

Every browser tab gets its own app process (``python -m cachetui <options>``, with the
interpreter running this server), and so its own engine; with the default database
the tabs share one SQLite file. The server, which never leaves an app process behind,
is :class:`~cachetui.serve.server.ReapingServer`; this module is its command line (the
socket and its URLs: :mod:`cachetui.serve.listening`).

Beyond loopback the server asks for a token (a random one unless ``--token`` or
``CACHETUI_TOKEN`` gives it; ``--no-token`` lets everyone in, with a warning) and runs at
most ``--max-sessions`` apps at once. On loopback it answers only requests for a loopback
name or address, or a name given with ``--allow-host``. The apps get their options in
their environment (:mod:`cachetui.cli.handoff`), never on their command line, and not the
token.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import secrets
import sys
from collections.abc import Sequence

from cachetui.cli import handoff, options
from cachetui.engine.digits import digit_problem
from cachetui.engine.errors import CacheTuiError
from cachetui.engine.preflight import check_servers
from cachetui.literal import printable
from cachetui.serve.listening import browser_url, is_loopback, lan_url, listen
from cachetui.serve.request_checks import host_name
from cachetui.serve.server import DEFAULT_MAX_SESSIONS, ReapingServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOKEN_MIN_LENGTH = 16
TOKEN_BYTES = 16  # secrets.token_urlsafe: 22 characters, 128 random bits
TOKEN_VARIABLE = "CACHETUI_TOKEN"  # taken like --token, out of the process list


# -- command line --------------------------------------------------------------------------------
def _port(text: str) -> int:
    if problem := digit_problem(text):
        raise argparse.ArgumentTypeError(problem)
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 0 and 65535, got {value}")
    return value


def _token(text: str) -> str:
    if len(text) < TOKEN_MIN_LENGTH:
        raise argparse.ArgumentTypeError(
            f"a token needs at least {TOKEN_MIN_LENGTH} characters, got {len(text)}"
        )
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", text):
        raise argparse.ArgumentTypeError(
            "a token may use only letters, digits and - _ . ~ (it goes into a URL)"
        )
    return text


def _allowed_host(text: str) -> str:
    try:
        return host_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sessions(text: str) -> int:
    if problem := digit_problem(text):
        raise argparse.ArgumentTypeError(problem)
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 session, got {value}")
    return value


def _app_actions() -> list[argparse.Action]:
    """The options of ``cachetui`` itself (not --help/--version), passed on to every app."""
    parser = argparse.ArgumentParser(add_help=False)
    options.add_app_options(parser)
    return [action for action in parser._actions if action.option_strings]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui serve",
        description="Serve the cachetui app in a web browser (textual-serve): every tab runs "
        "its own app, with the app options below. Closing a tab or stopping the server "
        "(Ctrl+C, SIGTERM) ends its app processes.",
        epilog="Example: cachetui serve --port 8000 --policy write-behind, then open "
        "http://127.0.0.1:8000. With the default database every tab shares one SQLite file. "
        "For a room: cachetui serve --host 0.0.0.0 prints the URL to open, with its token "
        "(http://ADDRESS:8000/?token=...); a browser without it gets a page that says so. In "
        "a browser the export key (E) downloads its files there; nothing is written on the "
        "server. `cachetui serve [--host H] [--port P] compare [A B] [options]` serves the "
        "compare screen instead (see `cachetui compare --help`). Each app gets the app options "
        "in its environment, never on its command line, so a password in --cache stays out "
        "of the process list (the server's own command line is as you type it).",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    access = parser.add_mutually_exclusive_group()
    access.add_argument(
        "--token",
        type=_token,
        metavar="VALUE",
        help=f"ask every browser for this token (at least {TOKEN_MIN_LENGTH} of the "
        "characters A-Z a-z 0-9 - _ . ~), also on loopback. Without it a --host that is not "
        "loopback gets a random token; either way the URL to open is printed at start, "
        "http://HOST:PORT/?token=VALUE (then a cookie keeps it). Other users of this "
        f"machine can see a --token in the process list: prefer {TOKEN_VARIABLE}=VALUE in "
        "the environment, which is taken the same way (--token wins over it; empty is unset)",
    )
    access.add_argument(
        "--no-token",
        action="store_true",
        help="ask no token even on a --host that is not loopback: anyone who reaches the "
        "port gets an app (prints a warning)",
    )
    parser.add_argument(
        "--allow-host",
        type=_allowed_host,
        action="append",
        default=[],
        metavar="NAME",
        help="on loopback, answer requests for NAME too (a name in /etc/hosts, a tunnel's; "
        "no port: any goes); repeatable. Otherwise the server answers only requests for "
        "localhost, 127.0.0.1 or [::1] (any port), so that a web page cannot reach it under "
        "a name of its own (DNS rebinding): others get a 403 page that says why. On every "
        "interface a websocket is taken only from the server's own page (its Origin). Beyond "
        "loopback every name is answered and the token guards the server",
    )
    parser.add_argument(
        "--max-sessions",
        type=_sessions,
        default=DEFAULT_MAX_SESSIONS,
        metavar="N",
        help=f"run at most N apps (browser tabs) at once (default {DEFAULT_MAX_SESSIONS}); "
        "beyond it a new tab is told that one must close first",
    )
    app_options = parser.add_argument_group("app options (as for `cachetui`, for every tab)")
    for action in _app_actions():
        app_options._add_action(action)
    return parser


def app_arguments(argv: Sequence[str]) -> list[str]:
    """The app options among ``argv`` (already validated by :func:`build_parser`), as the
    user wrote them, for every tab's app. Passed verbatim: the apps run in this folder."""
    raw = argparse.ArgumentParser(add_help=False)
    for server_option in ("--host", "--port", "--token", "--max-sessions"):
        raw.add_argument(server_option)
    raw.add_argument("--allow-host", action="append")
    raw.add_argument("--no-token", action="store_true")
    app_actions = _app_actions()
    for action in app_actions:
        if action.nargs == 0:  # a flag
            raw.add_argument(*action.option_strings, dest=action.dest, action="count")
        else:
            raw.add_argument(*action.option_strings, dest=action.dest, nargs=action.nargs)
    given = vars(raw.parse_known_args(list(argv))[0])
    arguments: list[str] = []
    for action in app_actions:
        value = given.get(action.dest)
        if value is None:
            continue
        option = action.option_strings[-1]
        if action.nargs == 0:
            arguments += [option] * value
        elif isinstance(value, list):
            arguments += [option, *value]
        else:
            arguments += [option, value]
    return arguments


def say_warning(text: str) -> None:
    print(f"cachetui serve: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    compare_argv: list[str] | None = None
    if "compare" in argv:  # serve [server options] compare [A B] [options]: compare mode
        at = argv.index("compare")
        argv, compare_argv = argv[:at], argv[at + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    token: str | None = args.token
    from_environment = os.environ.get(TOKEN_VARIABLE) or None  # empty: unset
    if token is None and not args.no_token and from_environment is not None:
        try:
            token = _token(from_environment)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{TOKEN_VARIABLE}: {exc}")  # never the value: it is a secret
    if compare_argv is not None:
        from cachetui.compare.cli import build_parser as compare_parser
        from cachetui.compare.cli import sides_from_args

        try:
            sides_from_args(compare_parser().parse_args(compare_argv))
        except (CacheTuiError, OSError) as exc:
            print(f"cachetui serve: error: compare: {exc}", file=sys.stderr)
            return 2
    try:
        config = options.config_from_args(args)
        from cachetui.engine import Engine

        Engine(config)  # the same validation as `cachetui`, before any tab starts an app
    except (CacheTuiError, OSError) as exc:
        parser.error(str(exc))
    try:
        check_servers(config)  # every tab's app would fail on a server that does not answer
    except CacheTuiError as exc:
        print(f"cachetui serve: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {args.port} is already in use (choose another with --port)"
        else:
            reason = exc.strerror or str(exc)
        print(f"cachetui serve: error: cannot listen on {where}: {reason}", file=sys.stderr)
        return 2
    loopback = is_loopback(sock)
    if args.no_token:
        port = sock.getsockname()[1]
        who = (
            "any program or user of this machine gets an app, as on loopback without --token"
            if loopback
            else f"anyone who can reach port {port} of this machine gets an app"
        )
        ignored = f" ({TOKEN_VARIABLE} is ignored)" if from_environment else ""
        say_warning(f"--no-token: no token is asked{ignored}: {who}")
    elif token is None and not loopback:
        token = secrets.token_urlsafe(TOKEN_BYTES)
    if args.allow_host and not loopback:
        say_warning(
            "--allow-host does nothing beyond loopback: every name is answered there "
            "(the token guards the server)"
        )
    # The apps' options travel in their environment, not on their command line (which
    # every user of the machine can read); the token does not reach them at all.
    if compare_argv is not None:  # each tab its own compare (its own two copies)
        app_argv = [sys.executable, "-m", "cachetui", "compare"]
        app_options = compare_argv
    else:
        app_argv = [sys.executable, "-m", "cachetui"]
        app_options = app_arguments(argv)
    server = ReapingServer(
        app_argv,
        sock,
        url=browser_url(sock),
        remote_url=lan_url(sock),
        token=token,
        max_sessions=args.max_sessions,
        allowed_hosts=frozenset(args.allow_host),
        app_environment={**handoff.environment_with(app_options), TOKEN_VARIABLE: None},
    )
    server.serve()
    return 0
