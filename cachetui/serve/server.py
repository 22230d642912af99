"""The web server behind ``cachetui serve``: textual-serve, reaping its app processes,
behind a token and a cap on sessions.

Every browser tab gets its own app process, started from the ``argv`` the server is
given (:mod:`cachetui.serve.command` gives ``python -m cachetui <options>``).

textual-serve (1.1) starts each app through ``sh -c``; when a tab goes away it only
sends the app a quit message and then waits, without a deadline, for the app's output
to end; stopped while tabs are open, the server waits for them to leave (aiohttp's
60 s shutdown timeout) and then does the same. An app that does not quit (stuck, busy,
deaf to the message) stays behind, and so does anything it started. This server keeps
textual-serve's web front end and protocol and replaces the process handling
(:mod:`cachetui.serve.app_service`, :mod:`cachetui.serve.process_groups`):

- each app is started without a shell, as the leader of its own process group (and,
  on Linux, with a parent-death signal, so even a killed server takes its apps along);
- when its websocket closes, cleanly or not, the app is asked to quit (quit message and
  SIGTERM to its group), then its whole group is killed after ``GRACE_SECONDS``;
- when the server stops (SIGINT, SIGTERM, SIGHUP), every app goes through the same
  sequence, and any process group still known afterwards is killed outright.

Before anything else, a web page the user visits must not drive the server behind
their back (:mod:`cachetui.serve.request_checks`): on loopback a request must name a
loopback host (or one of ``allowed_hosts``), against DNS rebinding; on every interface a
websocket must come from the server's own page (its ``Origin``). Then, beyond localhost
(a talk's room, a conference Wi-Fi), two more guards:

- a token: with one, every request (the page, its websocket, static files, downloads)
  must carry it, in the query (``/?token=…``, the printed URL) or in the cookie that the
  first page sets (the page then redirects to itself without the token in the address
  bar). Anything else gets a 403 page that says how to get in, and no app starts;
- a cap: at most ``max_sessions`` apps at once; beyond it the page says how many run and
  that one must close first, and a websocket is closed with that reason (code 1013),
  again without starting an app. A session counts until its app is reaped.

Each refused request is one line on stdout, with its remote address; what it sent is
quoted and escaped there and in the page (:mod:`cachetui.serve.refusals`).

The page is cachetui's copy of textual-serve's (``templates/`` beside this module): it has a title,
loads nothing from outside this server, and downloads delivered files in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import shlex
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_runner import GracefulExit
from textual_serve import download_manager
from textual_serve.server import Server, to_int

from cachetui.engine.words import plural
from cachetui.serve import refusals
from cachetui.serve.app_service import GRACE_SECONDS, ReapingAppService
from cachetui.serve.listening import is_loopback
from cachetui.serve.process_groups import ProcessGroups
from cachetui.serve.refusals import Refusal
from cachetui.serve.request_checks import host_problem, origin_problem, shown

DEFAULT_MAX_SESSIONS = 4
"""Apps at once: each idles at a few percent of a core and starts at much more."""

TEMPLATES = Path(__file__).with_name("templates")

log = logging.getLogger("cachetui.serve")

#: textual-serve gives an app 4 s to send each chunk of a download, then ends the
#: response short (the browser gets a truncated file): an app exporting its screen while
#: both cores are busy can take longer. A dead app's downloads are cancelled when it goes.
download_manager.DOWNLOAD_TIMEOUT = 30


def say(text: str) -> None:
    """One line on stdout; never fails (a closed terminal must not stop the reaping)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


class MalformedRequests(logging.Filter):
    """aiohttp answers a request it cannot parse (a control character in a header, two
    Host headers) with 400 and logs a traceback: one line instead, like a refusal's."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        words = (error.message or "").splitlines()[0] if error.message else str(error.code)
        say(
            f"cachetui serve: refused a malformed request from {remote or 'an unknown address'}"
            f": {shown(words.rstrip(':'))}"
        )
        return False


class ReapingServer(Server):
    """textual-serve's server, serving ``argv`` (one process per tab) and reaping them."""

    def __init__(
        self,
        argv: Sequence[str],
        sock: socket.socket,
        *,
        url: str,
        remote_url: str | None = None,
        title: str = "cachetui",
        grace: float = GRACE_SECONDS,
        token: str | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        allowed_hosts: frozenset[str] = frozenset(),
        app_environment: Mapping[str, str | None] | None = None,
    ) -> None:
        """``url``: where to point a browser on this machine; ``remote_url``: on another
        (for a server on every interface). ``token``: None lets every request in.
        ``allowed_hosts``: names (as :func:`~cachetui.serve.request_checks.host_name` gives
        them) a request on loopback may name besides the loopback ones.
        ``app_environment``: changes to the environment every app inherits from this
        process (a value sets a variable, None removes it)."""
        host, port = sock.getsockname()[:2]
        super().__init__(
            shlex.join(argv),
            host=host,
            port=port,
            title=title,
            public_url=url,
            templates_path=TEMPLATES,
        )
        self.argv = list(argv)
        self.sock = sock
        self.remote_url = remote_url
        self.grace = grace
        self.token = token
        self.cookie_name = f"cachetui-token-{port}"  # a cookie is per host, not per port
        self.max_sessions = max_sessions
        self.loopback = is_loopback(sock)
        self.allowed_hosts = allowed_hosts
        self.app_environment = app_environment
        self.groups = ProcessGroups()
        self.sessions: dict[ReapingAppService, web.WebSocketResponse] = {}
        self._exiting = False

    def with_token(self, url: str) -> str:
        """``url`` (a server's root) as a browser must open it."""
        return f"{url}/?token={self.token}" if self.token else url

    # -- lifecycle ---------------------------------------------------------------------
    def request_exit(self) -> None:
        """SIGINT/SIGTERM/SIGHUP: shut down gracefully; a second signal kills the apps now."""
        if self._exiting:
            self.groups.kill_all()
            return
        self._exiting = True
        raise GracefulExit()

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check_request)
        return app

    async def on_startup(self, app: web.Application) -> None:
        everywhere = self.host in ("0.0.0.0", "::")
        if self.remote_url:
            elsewhere = f" (from another machine: {self.with_token(self.remote_url)})"
        elif everywhere:
            elsewhere = " (or this machine's address: listening on every interface)"
        else:
            elsewhere = ""
        cap = self.max_sessions
        say(
            f"cachetui serve: open {self.with_token(self.public_url)} in a browser{elsewhere}; "
            f"one app per tab, at most {cap} at once; Ctrl+C stops the server"
        )

    async def on_shutdown(self, app: web.Application) -> None:
        """Reap every app (quit, SIGTERM, SIGKILL after the grace period), close the tabs."""
        sessions = list(self.sessions.items())
        if sessions:
            say(f"cachetui serve: stopping {len(sessions)} app(s)")
        await asyncio.gather(*(service.stop() for service, _ in sessions), return_exceptions=True)
        for _, websocket in sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    websocket.close(
                        code=WSCloseCode.GOING_AWAY, message=b"The cachetui server stopped."
                    ),
                    1,
                )
        self.groups.kill_all()

    def serve(self, debug: bool = False) -> None:
        """Serve until a signal; every app process is gone when this returns."""
        self.debug = debug
        self.initialize_logging()
        logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit)
        try:
            web.run_app(
                self._make_app(),
                sock=self.sock,
                handle_signals=False,
                loop=loop,
                print=None,
                access_log=None,
                shutdown_timeout=2,
            )
        finally:
            self.groups.kill_all()

    # -- which requests are answered ----------------------------------------------------
    def _is_token(self, given: str | None) -> bool:
        assert self.token is not None
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def _refusal(self, request: web.Request) -> Refusal | None:
        """The first check the request fails: its Host (on loopback), a websocket's
        Origin, the token (when there is one); None when it passes them all."""
        hosts = request.headers.getall(hdrs.HOST, [])
        if self.loopback:
            problem = host_problem(hosts, self.allowed_hosts)
            if problem is not None:
                return refusals.foreign_host(problem, self.public_url)
        if request.match_info.route.name == "websocket":
            origins = request.headers.getall(hdrs.ORIGIN, [])
            problem = origin_problem(origins, request.scheme, hosts)
            if problem is not None:
                return refusals.foreign_origin(problem)
        if self.token is not None:
            in_query = self._is_token(request.query.get("token"))
            if not in_query and not self._is_token(request.cookies.get(self.cookie_name)):
                given = "token" in request.query or self.cookie_name in request.cookies
                return refusals.no_token(given)
        return None

    @web.middleware
    async def _check_request(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Every request passes :meth:`_refusal`'s checks or gets its 403 page, logged
        once with its remote address; and no app starts."""
        refusal = self._refusal(request)
        if refusal is not None:
            if request.match_info.route.name == "websocket":
                what = "a websocket"
            else:
                what = f"{request.method} {shown(request.path)}"
            remote = request.remote or "an unknown address"
            say(f"cachetui serve: refused {what} from {remote}: {refusal.log}")
            return self._refused(request, refusal)
        in_query = self.token is not None and self._is_token(request.query.get("token"))
        if not in_query or request.method != "GET" or request.match_info.route.name != "index":
            return await handler(request)
        # The page with the token in its URL: the token moves into a cookie, out of the
        # address bar (and off the projector); the page reloads without it.
        assert self.token is not None
        query = [(key, value) for key, value in request.query.items() if key != "token"]
        response = web.Response(
            status=303,
            headers={
                "Location": str(request.rel_url.with_query(query)),
                "Cache-Control": "no-store",
            },
        )
        response.set_cookie(
            self.cookie_name, self.token, path="/", httponly=True, samesite="Strict"
        )
        return response

    def _refused(
        self, request: web.Request, refusal: Refusal, retry: str | None = None
    ) -> web.Response:
        response = aiohttp_jinja2.render_template(
            "refused.html",
            request,
            {
                "title": refusal.title,
                "heading": refusal.heading,
                "paragraphs": refusal.paragraphs,
                "retry": retry,
            },
            status=refusal.status,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- the cap on sessions ------------------------------------------------------------
    def _full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    def _running(self) -> str:
        n = len(self.sessions)
        return f"{n} cachetui {plural(n, 'session')} {plural(n, 'is', 'are')} running"

    def _turned_away(self) -> None:
        say(
            f"cachetui serve: a new tab was turned away: {self._running()} "
            f"(--max-sessions {self.max_sessions})"
        )

    # -- requests ----------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, never cached: Chromium would otherwise keep a page that was navigated
        away from, its websocket and so its app alive in its back-forward cache. With
        every session in use, a page that says so instead (503)."""
        if self._full():
            self._turned_away()
            refusal = refusals.every_session_in_use(self._running(), self.max_sessions)
            response = self._refused(request, refusal, retry=str(request.rel_url))
            response.headers["Retry-After"] = "5"
            return response
        page = await self._page(request)
        page.headers["Cache-Control"] = "no-store"
        return page

    @aiohttp_jinja2.template("app_index.html")
    async def _page(self, request: web.Request) -> dict[str, Any]:
        """The page, with its websocket and static URLs on the host the browser used (so
        that ``--host 0.0.0.0`` works from another machine)."""
        router = request.app.router
        # The Host header, never aiohttp's fallback for a request without one (a DNS lookup).
        host = request.headers.get(hdrs.HOST) or self.public_url.split("://", 1)[1]
        origin = f"{request.scheme}://{host}"
        ws_scheme = "wss" if request.scheme == "https" else "ws"
        static = str(router["static"].url_for(filename="/")).rstrip("/") + "/"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws_scheme}://{host}{router['websocket'].url_for()}",
            "config": {"static": {"url": origin + static}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """As textual-serve's, with a reaping app service that the server keeps track of;
        beyond the cap, closed at once (1013, "try again later") with the reason."""
        websocket = web.WebSocketResponse(heartbeat=15)
        if not websocket.can_prepare(request).ok:  # a plain GET, not a websocket's
            raise web.HTTPBadRequest(text="This is the websocket of a cachetui page: open /.")
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        if self._full():
            self._turned_away()
            reason = (
                f"{self._running()}, the most this server allows: close one (a cachetui "
                "tab), then Restart."
            )
            with contextlib.suppress(Exception):
                await websocket.prepare(request)
                await asyncio.wait_for(
                    websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=reason.encode()), 1
                )
            return websocket
        # Counted from here (no await before), so that two tabs cannot both take the last slot.
        service = ReapingAppService(
            self.argv,
            groups=self.groups,
            grace=self.grace,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
            environment=self.app_environment,
        )
        self.sessions[service] = websocket
        try:
            await websocket.prepare(request)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:
            if not isinstance(error, ConnectionError):
                log.exception(error)
        finally:
            await service.stop()
            self.sessions.pop(service, None)
            if not websocket.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(websocket.close(), 1)
        return websocket
