"""``cachetui serve``: the same app in a browser, through textual-serve.

Every browser tab gets its own app process (``python -m cachetui <options>``, with the
interpreter running this server), and so its own engine; with the default database
the tabs share one SQLite file. The server, which never leaves an app process behind,
is :class:`~cachetui.reaping_server.ReapingServer`; this module is its command line.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from collections.abc import Sequence

from cachetui import options
from cachetui.engine.errors import CacheTuiError
from cachetui.reaping_server import ReapingServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


# -- command line --------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 0 and 65535, got {value}")
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
        "http://127.0.0.1:8000. With the default database every tab shares one SQLite file.",
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
    app_options = parser.add_argument_group("app options (as for `cachetui`, for every tab)")
    for action in _app_actions():
        app_options._add_action(action)
    return parser


def app_arguments(argv: Sequence[str]) -> list[str]:
    """The app options among ``argv`` (already validated by :func:`build_parser`), as the
    user wrote them, for every tab's app. Passed verbatim: the apps run in this folder."""
    raw = argparse.ArgumentParser(add_help=False)
    raw.add_argument("--host")
    raw.add_argument("--port")
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


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when that is impossible)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def browser_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = options.config_from_args(args)
        from cachetui.engine import Engine

        Engine(config)  # the same validation as `cachetui`, before any tab starts an app
    except (CacheTuiError, OSError) as exc:
        parser.error(str(exc))
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
    app_argv = [sys.executable, "-m", "cachetui", *app_arguments(argv)]
    server = ReapingServer(app_argv, sock, url=browser_url(sock))
    server.serve()
    return 0
