"""The web server behind ``cachetui serve``: textual-serve, reaping its app processes.

Every browser tab gets its own app process, started from the ``argv`` the server is
given (:mod:`cachetui.serve` gives ``python -m cachetui <options>``).

textual-serve (1.1) starts each app through ``sh -c``; when a tab goes away it only
sends the app a quit message and then waits, without a deadline, for the app's output
to end; stopped while tabs are open, the server waits for them to leave (aiohttp's
60 s shutdown timeout) and then does the same. An app that does not quit (stuck, busy,
deaf to the message) stays behind, and so does anything it started. This module keeps
textual-serve's web front end and protocol and replaces the process handling:

- each app is started without a shell, as the leader of its own process group (and,
  on Linux, with a parent-death signal, so even a killed server takes its apps along);
- when its websocket closes, cleanly or not, the app is asked to quit (quit message and
  SIGTERM to its group), then its whole group is killed after ``GRACE_SECONDS``;
- when the server stops (SIGINT, SIGTERM, SIGHUP), every app goes through the same
  sequence, and any process group still known afterwards is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from aiohttp.web_runner import GracefulExit
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

GRACE_SECONDS = 2.0
"""How long a closed tab's app may take to quit (and flush its writes) before SIGKILL."""

log = logging.getLogger("cachetui.serve")


# -- process groups ------------------------------------------------------------------------------
def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - not ours any more
        return False
    return True


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the server dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return preexec


_PREEXEC = _parent_death_signal()


class ProcessGroups:
    """The process groups (one per app, pgid = the app's pid) that are not reaped yet."""

    def __init__(self) -> None:
        self.pgids: set[int] = set()

    def add(self, pgid: int) -> None:
        self.pgids.add(pgid)

    def discard(self, pgid: int) -> None:
        self.pgids.discard(pgid)

    def kill_all(self) -> None:
        """SIGKILL every known group at once: the last resort, synchronous."""
        for pgid in list(self.pgids):
            signal_group(pgid, signal.SIGKILL)


def say(text: str) -> None:
    """One line on stdout; never fails (a closed terminal must not stop the reaping)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


# -- textual-serve, with reaping -----------------------------------------------------------------
class ReapingAppService(AppService):
    """One app process per browser session, which never outlives :meth:`stop`."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        groups: ProcessGroups,
        grace: float = GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = list(argv)
        self.grace = grace
        self.groups = groups
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        """As textual-serve's, but no shell, its own process group, and tracked."""
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
            preexec_fn=_PREEXEC,
        )
        self.groups.add(process.pid)
        self._process = process
        if self._stopping is not None:  # stopped while it was starting
            signal_group(process.pid, signal.SIGKILL)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        await super().run()
        if self._stopping is None:
            # The app ended by itself (quit in the browser, or a crash): end the session
            # so that the page says so, and reap the process.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.remote_close(), 2)

    async def stop(self) -> None:
        """Ask the app to quit, kill its process group after the grace period; idempotent.

        Shielded: a cancelled caller does not interrupt the reaping."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        process = self._process
        if process is None:
            return
        pgid = process.pid
        try:
            with contextlib.suppress(Exception):
                await self._download_manager.cancel_app_downloads(
                    app_service_id=self.app_service_id
                )
            if process.returncode is None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.send_meta({"type": "quit"}), 0.5)
                signal_group(pgid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), self.grace)
                except TimeoutError:
                    log.warning("app process %d did not quit in %.1f s: killed", pgid, self.grace)
                    signal_group(pgid, signal.SIGKILL)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(process.wait(), 5)
            # Anything the app started and left behind in its group goes too.
            signal_group(pgid, signal.SIGKILL)
            if self._task is not None:
                try:
                    await asyncio.wait_for(self._task, 2)
                except (TimeoutError, asyncio.CancelledError):
                    self._task.cancel()
                self._task = None
        finally:
            if process.returncode is not None:
                self.groups.discard(pgid)


class ReapingServer(Server):
    """textual-serve's server, serving ``argv`` (one process per tab) and reaping them."""

    def __init__(
        self,
        argv: Sequence[str],
        sock: socket.socket,
        *,
        url: str,
        title: str = "cachetui",
        grace: float = GRACE_SECONDS,
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(shlex.join(argv), host=host, port=port, title=title, public_url=url)
        self.argv = list(argv)
        self.sock = sock
        self.grace = grace
        self.groups = ProcessGroups()
        self.sessions: dict[ReapingAppService, web.WebSocketResponse] = {}
        self._exiting = False

    # -- lifecycle ---------------------------------------------------------------------
    def request_exit(self) -> None:
        """SIGINT/SIGTERM/SIGHUP: shut down gracefully; a second signal kills the apps now."""
        if self._exiting:
            self.groups.kill_all()
            return
        self._exiting = True
        raise GracefulExit()

    async def on_startup(self, app: web.Application) -> None:
        everywhere = self.host in ("0.0.0.0", "::")
        say(
            f"cachetui serve: open {self.public_url} in a browser"
            + (" (or this machine's address: listening on every interface)" if everywhere else "")
            + "; one app per tab; Ctrl+C stops the server"
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
                    websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped"), 1
                )
        self.groups.kill_all()

    def serve(self, debug: bool = False) -> None:
        """Serve until a signal; every app process is gone when this returns."""
        self.debug = debug
        self.initialize_logging()
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

    # -- requests ----------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, never cached: Chromium would otherwise keep a page that was navigated
        away from, its websocket and so its app alive in its back-forward cache."""
        response = await self._page(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def _page(self, request: web.Request) -> dict[str, Any]:
        """The page, with its websocket and static URLs on the host the browser used (so
        that ``--host 0.0.0.0`` works from another machine)."""
        router = request.app.router
        origin = f"{request.scheme}://{request.host}"
        ws_scheme = "wss" if request.scheme == "https" else "ws"
        static = str(router["static"].url_for(filename="/")).rstrip("/") + "/"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws_scheme}://{request.host}{router['websocket'].url_for()}",
            "config": {"static": {"url": origin + static}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """As textual-serve's, with a reaping app service that the server keeps track of."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: ReapingAppService | None = None
        try:
            await websocket.prepare(request)
            service = ReapingAppService(
                self.argv,
                groups=self.groups,
                grace=self.grace,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.sessions[service] = websocket
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:
            if not isinstance(error, ConnectionError):
                log.exception(error)
        finally:
            if service is not None:
                await service.stop()
                self.sessions.pop(service, None)
            if not websocket.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(websocket.close(), 1)
        return websocket
