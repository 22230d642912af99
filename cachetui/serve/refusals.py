"""What ``cachetui serve`` says instead of the app (``templates/refused.html``): a page for
each reason a request is refused, as a :class:`Refusal` (paragraphs of (text, code)
pieces; the template escapes every piece, so text from a request is shown as it is)."""

from __future__ import annotations

from dataclasses import dataclass

Paragraph = list[tuple[str, bool]]


@dataclass(frozen=True)
class Refusal:
    status: int
    title: str
    heading: str
    paragraphs: list[Paragraph]
    log: str
    """Why, for the server's log line (which adds the request and its remote address)."""


def no_token(given: bool) -> Refusal:
    return Refusal(
        status=403,
        title="cachetui: a token is needed",
        heading="This cachetui server asks for a token",
        paragraphs=[
            [
                ("To get in, open the address that ", False),
                ("cachetui serve", True),
                (" printed when it started: it ends in ", False),
                ("/?token=…", True),
                (". The person running the server can give it to you.", False),
            ],
            [
                (
                    "Opened that address and still here? The server has been restarted "
                    "since (each start makes a new token unless it is given with ",
                    False,
                ),
                ("--token", True),
                (" or ", False),
                ("CACHETUI_TOKEN", True),
                (
                    "), or this browser refused the cookie that keeps the token after "
                    "the first page.",
                    False,
                ),
            ],
        ],
        log="a wrong token" if given else "no token",
    )


def foreign_host(reason: str, loopback_url: str) -> Refusal:
    """A request, on loopback, for a name that is not this machine's (DNS rebinding)."""
    return Refusal(
        status=403,
        title="cachetui: not a name of this machine",
        heading="This cachetui server answers only to this machine's own names",
        paragraphs=[
            [(f"Refused: {reason}.", False)],
            [
                (
                    "It listens on loopback, so it answers requests for localhost, "
                    "127.0.0.1 or [::1] only: a web page you visit could otherwise reach it "
                    "under a name of its own that it points at this machine (DNS "
                    "rebinding), and drive the app. Open ",
                    False,
                ),
                (loopback_url, True),
                (" instead.", False),
            ],
            [
                (
                    "To open it under another name (a name in /etc/hosts, a tunnel's), "
                    "start the server with that name allowed: ",
                    False,
                ),
                ("cachetui serve --allow-host NAME", True),
                (" (once for each name).", False),
            ],
        ],
        log=reason,
    )


def foreign_origin(reason: str) -> Refusal:
    """A websocket (which would start and drive an app) opened by another web page."""
    return Refusal(
        status=403,
        title="cachetui: not this server's page",
        heading="This cachetui server takes websockets only from its own page",
        paragraphs=[
            [(f"Refused: {reason}.", False)],
            [
                (
                    "A websocket starts and drives an app, so only the page this server "
                    "serves may open one: never a page from another site, port or scheme.",
                    False,
                ),
            ],
        ],
        log=reason,
    )


def every_session_in_use(running: str, cap: int) -> Refusal:
    return Refusal(
        status=503,
        title="cachetui: every session is in use",
        heading=f"{running}: the most this server allows",
        paragraphs=[
            [
                (
                    "Every browser tab runs its own cachetui app, and this server runs "
                    f"at most {cap} at once (",
                    False,
                ),
                (f"cachetui serve --max-sessions {cap}", True),
                (").", False),
            ],
            [
                (
                    "One must close first: close a tab that shows cachetui (here or on "
                    "another machine); its app ends within a few seconds. Then try "
                    "again.",
                    False,
                ),
            ],
        ],
        log=running,
    )
