"""`cachetui serve`: the app in a real headless Chromium, and no app process left behind.

The end-to-end tests drive Debian's chromium through the Chrome DevTools Protocol (a
small client over aiohttp's websocket, below). They are skipped when chromium is missing,
except under CI=true, where they fail instead (.ci/run installs chromium). The token, the
cap on sessions and what reaches the page are tested with aiohttp's HTTP and websocket
clients against a real server. Every test checks that no app process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from textual_serve.download_manager import DownloadManager
from yarl import URL

from cachetui.serve.app_service import ReapingAppService
from cachetui.serve.command import app_arguments, build_parser
from cachetui.serve.process_groups import ProcessGroups

# A browser session waits up to 20 s for each of a few screens, on a loaded machine.
pytestmark = pytest.mark.timeout(120)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def cachetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachetui", *args], capture_output=True, text=True, timeout=30
    )


# -- processes, read from /proc ------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children(pid: int) -> list[int]:
    """Living child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> list[str]:
    """A process's command line, as any user of the machine can read it (``ps``)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except FileNotFoundError:
        return []


def app_options(pid: int) -> list[str]:
    """The options `cachetui serve` handed an app in its environment (which only the
    process's own user can read)."""
    for variable in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        name, _, value = variable.partition(b"=")
        if name == b"CACHETUI_APP_OPTIONS":
            return list(json.loads(value))
    return []


async def wait_until(predicate: Any, timeout: float, what: str, step: float = 0.05) -> float:
    """Poll ``predicate`` until true; the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(step)
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- command line ---------------------------------------------------------------------------------
def test_help_lists_server_and_app_options():
    result = cachetui("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--db", "--policy", "--profiles", "--max-pending"):
        assert option in result.stdout
    for option in ("--token VALUE", "--no-token", "--max-sessions N", "--allow-host NAME"):
        assert option in result.stdout
    assert "CACHETUI_TOKEN=VALUE" in " ".join(result.stdout.split())


def test_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cachetui("serve", "--port", str(port), "--db", ":memory:")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "70000"], "--port"),
        (["--policy", "write-sideways"], "--policy"),
        (["--nope"], "unrecognized arguments"),
        (["--db", "/no/such/folder/p.db"], "does not exist"),
    ],
)
def test_bad_options_are_argparse_errors(args, message):
    result = cachetui("serve", *args)
    assert result.returncode == 2
    assert "usage: cachetui serve" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-sessions", "0"], "argument --max-sessions: expected at least 1 session, got 0"),
        (["--max-sessions", "many"], "argument --max-sessions: expected a whole number"),
        (["--token", "fifteen-chars.."], "argument --token: a token needs at least 16 characters"),
        (["--token", "sixteen chars!!!"], "argument --token: a token may use only letters"),
        (["--token", "sixteen-chars-ok", "--no-token"], "not allowed with argument --token"),
        (["--allow-host", "http://lab.test/"], "argument --allow-host: expected a host name, not"),
        (["--allow-host", "lab.test:80"], "argument --allow-host: expected a host name without"),
    ],
)
def test_bad_room_options_are_one_error_line_and_exit_2(args, message):
    result = cachetui("serve", *args)
    assert result.returncode == 2
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert error.startswith("cachetui serve: error: ") and message in error
    assert "Traceback" not in result.stderr + result.stdout


def test_app_arguments_are_the_given_app_options_verbatim():
    argv = ["--port", "9000", "--db", "p.db", "--policy=write-behind", "--ttl", "5"]
    argv += ["--host", "0.0.0.0", "--profiles", "7"]
    build_parser().parse_args(argv)  # valid
    assert app_arguments(argv) == [
        "--db",
        "p.db",
        "--policy",
        "write-behind",
        "--profiles",
        "7",
        "--ttl",
        "5",
    ]
    assert app_arguments([]) == []
    assert app_arguments(["--port", "1"]) == []
    room = ["--token", "sixteen-chars-ok", "--max-sessions", "2", "--ttl", "5", "--no-token"]
    room += ["--allow-host", "lab.test", "--allow-host", "lab.local"]
    assert app_arguments(room) == ["--ttl", "5"]  # the token never reaches an app


# -- reaping an app that will not quit ------------------------------------------------------------
DEAF_APP = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # deaf to SIGTERM
    grandchild = subprocess.Popen(["sleep", "60"])   # in the app's process group
    open(sys.argv[1], "w").write(str(grandchild.pid))
    sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
    while True:                                      # ignores the quit message too
        time.sleep(0.05)
    """
)


async def test_an_app_deaf_to_quit_and_sigterm_is_killed_with_its_group(tmp_path):
    async def ignore(*_: Any) -> None:
        return None

    groups = ProcessGroups()
    pid_file = tmp_path / "grandchild"
    service = ReapingAppService(
        [sys.executable, "-c", DEAF_APP, str(pid_file)],
        groups=groups,
        grace=0.5,
        write_bytes=ignore,
        write_str=ignore,
        close=ignore,
        download_manager=DownloadManager(),
    )
    await service.start(80, 24)
    pid = service.pid
    assert pid is not None and groups.pgids == {pid}
    await wait_until(lambda: pid_file.exists() and pid_file.read_text(), 10, "the app started")
    grandchild = int(pid_file.read_text())
    assert alive(pid) and alive(grandchild)
    start = time.monotonic()
    await asyncio.wait_for(service.stop(), 5)
    took = time.monotonic() - start
    assert 0.5 <= took < 2.5
    await wait_until(lambda: not alive(pid) and not alive(grandchild), 2, "app and grandchild gone")
    assert groups.pgids == set()
    await service.stop()  # idempotent


# -- the real thing, in a real browser -----------------------------------------------------------
# Catch the page's client object (textual-serve does not expose it) when its constructor
# assigns `this.webglAddon`, so the test reads the terminal's text buffer: what xterm.js
# draws on its canvas.
HOOK = """
Object.defineProperty(Object.prototype, "webglAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "webglAddon",
      {value, writable: true, configurable: true, enumerable: true});
    window.__textualClient = this;
  },
});
"""
SCREEN = """(() => {
  const client = window.__textualClient;
  if (!client || !client.terminal) return "";
  const terminal = client.terminal, buffer = terminal.buffer.active, lines = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
})()"""


# How a websocket the page opens ends: 1006 when the server refuses the handshake.
CLOSE_CODE = "new Promise(done => { new WebSocket(%r).onclose = (e) => done(e.code); })"


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs, over one page's websocket."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.last_id = 0
        self.requested: list[str] = []  # URLs the page asked for (after Network.enable)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        call_id = self.last_id
        await self.websocket.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.websocket.receive(), 10)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"DevTools connection ended: {message.type!r}")
            reply = json.loads(message.data)
            if reply.get("method") == "Network.requestWillBeSent":
                self.requested.append(reply["params"]["request"]["url"])
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def evaluate(self, expression: str, wait: bool = False) -> Any:
        """The value of ``expression`` (with ``wait``, of the promise it makes)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=wait
        )
        return result["result"].get("value")

    async def wait_for_body(self, *texts: str, timeout: float = 10) -> str:
        """The page's text once it holds every one of ``texts`` (not a terminal's)."""
        start = time.monotonic()
        body = ""
        while time.monotonic() - start < timeout:
            body = await self.evaluate("document.body ? document.body.innerText : ''") or ""
            if all(text in body for text in texts):
                return body
            await asyncio.sleep(0.05)
        raise AssertionError(f"{texts} not on the page within {timeout} s; it shows:\n{body}")

    async def screen(self) -> str:
        return await self.evaluate(SCREEN) or ""

    async def wait_for_text(self, *texts: str, timeout: float) -> tuple[str, float]:
        start = time.monotonic()
        screen = ""
        while time.monotonic() - start < timeout:
            screen = await self.screen()
            if all(text in screen for text in texts):
                return screen, time.monotonic() - start
            await asyncio.sleep(0.1)
        raise AssertionError(f"{texts} not on the page within {timeout} s; it shows:\n{screen}")

    async def press(self, key: str, code: str | None = None) -> None:
        await self.call(
            "Runtime.evaluate",
            expression="document.querySelector('.xterm-helper-textarea').focus()",
        )
        code = code or f"Digit{key}"
        key_code = {"key": key, "code": code, "windowsVirtualKeyCode": ord(key)}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=key, **key_code)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **key_code)


@pytest.fixture
def chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed: CI must run the serve test (.ci/run installs it)")
    pytest.skip("needs Debian chromium (apt-get install chromium) for the browser test")


@pytest.fixture
def cleanup() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes (started in their own groups) killed at the end whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class Browser:
    """Headless Chromium with its DevTools HTTP endpoint: tabs open, close, and a page
    connection per tab."""

    def __init__(self, executable: str, profile: Path, started: list) -> None:
        # As a user who let the page "download multiple files": a page's downloads without
        # a fresh user gesture (E's export lands seconds after the key on a loaded
        # machine) are otherwise held after the first
        (profile / "Default").mkdir(parents=True, exist_ok=True)
        (profile / "Default" / "Preferences").write_text(
            json.dumps({"profile": {"default_content_setting_values": {"automatic_downloads": 1}}})
        )
        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",  # CI runs as root
                "--no-first-run",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1400,900",
                # the attacker's name of a DNS-rebinding test, pointed at this machine
                "--host-resolver-rules=MAP evil.example 127.0.0.1",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(profile.parent / "chromium.log").open("wb"),
            start_new_session=True,
            # the system's temporary folder: a test's own (TMPDIR) is too deep for the
            # path of Chromium's singleton socket (at most 107 bytes)
            env={k: v for k, v in os.environ.items() if k != "TMPDIR"},
        )
        started.append(self.process)
        self.log = profile.parent / "chromium.log"
        self.port_file = profile / "DevToolsActivePort"
        self.http = aiohttp.ClientSession()

    async def __aenter__(self) -> Browser:
        port_file = self.port_file
        try:
            await wait_until(
                lambda: port_file.exists() and port_file.read_text().strip(), 30, "DevTools"
            )
        except AssertionError as exc:  # say why: Chromium's own words
            state = "running" if self.process.poll() is None else f"exited {self.process.poll()}"
            tail = self.log.read_text(errors="replace")[-2000:]
            raise AssertionError(f"{exc}; Chromium {state}; its stderr: {tail}") from None
        self.endpoint = f"http://127.0.0.1:{int(port_file.read_text().split()[0])}/json"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.http.close()

    @contextlib.asynccontextmanager
    async def tab(self) -> AsyncIterator[tuple[DevTools, str]]:
        """A new tab, and its target id (for :meth:`close_tab`)."""
        async with self.http.put(f"{self.endpoint}/new?about:blank") as response:
            target = await response.json()
        url = target["webSocketDebuggerUrl"]
        async with self.http.ws_connect(url, max_msg_size=0) as websocket:
            page = DevTools(websocket)
            await page.call("Page.enable")
            await page.call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
            yield page, target["id"]

    async def close_tab(self, target_id: str) -> None:
        async with self.http.get(f"{self.endpoint}/close/{target_id}") as response:
            assert response.status == 200

    def kill(self) -> None:
        """The abrupt end: SIGKILL to every browser process, its sockets drop."""
        os.killpg(self.process.pid, signal.SIGKILL)


def app_children(server_pid: int) -> list[int]:
    pids = children(server_pid)
    for pid in pids:
        assert cmdline(pid)[1:3] == ["-m", "cachetui"], cmdline(pid)
    return pids


@pytest.fixture
def server(tmp_path: Path, cleanup: list) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`cachetui serve` on a free port, its output in a file: (process, port, log)."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cachetui", "serve", "--port", str(port)]
            + ["--db", str(tmp_path / "p.db"), "--profiles", "50"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cleanup.append(process)
    return process, port, log


async def test_browser_session_shows_the_dashboard_takes_keys_and_leaves_no_process(
    chromium, server, cleanup, tmp_path
):
    server, port, log = server
    url = f"http://127.0.0.1:{port}"
    await wait_until(lambda: url in log.read_text(), 10, f"the server prints {url}")
    timings: dict[str, float] = {}

    async with Browser(chromium, tmp_path / "chromium", cleanup) as browser:
        async with browser.tab() as (page, tab):
            # The page shows the dashboard, served by one app with the options passed on.
            await page.call("Page.navigate", url=url)
            screen, timings["first paint"] = await page.wait_for_text(
                "WRITE-THROUGH", "Database 50 rows", "db p.db", timeout=15
            )
            (app,) = app_children(server.pid)
            assert app_options(app) == ["--db", str(tmp_path / "p.db"), "--profiles", "50"]

            # A key press reaches the app: 2 switches the policy badge to write-behind.
            await page.press("2")
            screen, timings["key press"] = await page.wait_for_text("WRITE-BEHIND", timeout=5)
            assert screen.lstrip().startswith("WRITE-BEHIND")

            # Navigating away ends the app (the page is kept out of the back-forward
            # cache, which would keep its websocket open).
            await page.call("Page.navigate", url="about:blank")
            timings["navigated away: reaped"] = await wait_until(
                lambda: not alive(app), 5, "the app of a page navigated away from exits"
            )

            # A page under a name of its own that points here (DNS rebinding) gets the 403
            # page, and its websockets to either name start nothing.
            await page.call("Page.navigate", url=f"http://evil.example:{port}/")
            await page.wait_for_body("Refused: its Host 'evil.example:", "--allow-host NAME")
            for target in (f"ws://evil.example:{port}/ws", f"ws://127.0.0.1:{port}/ws"):
                assert await page.evaluate(CLOSE_CODE % target, wait=True) == 1006  # refused
            assert not children(server.pid)
            refusals = [line for line in log.read_text().splitlines() if " refused " in line]
            assert len(refusals) == 3, refusals  # once each: the page, two websockets
            assert all(" from 127.0.0.1: its " in line for line in refusals), refusals
            assert "its Origin 'http://evil.example:" in refusals[2], refusals

            # Coming back (as localhost) gets a new app; closing the tab ends it.
            await page.call("Page.navigate", url=f"http://localhost:{port}")
            await page.wait_for_text("WRITE-THROUGH", "Database 50 rows", timeout=15)
            (app,) = app_children(server.pid)
        await browser.close_tab(tab)
        timings["tab closed: reaped"] = await wait_until(
            lambda: not alive(app), 5, "the app of a closed tab exits"
        )

        # Killing the browser (the connection drops) ends the app of its open tab.
        async with browser.tab() as (page, _):
            await page.call("Page.navigate", url=url)
            await page.wait_for_text("WRITE-THROUGH", "Database 50 rows", timeout=15)
            (app,) = app_children(server.pid)
            browser.kill()
        timings["browser killed: reaped"] = await wait_until(
            lambda: not alive(app), 5, "the app of a killed browser exits"
        )
    await wait_until(lambda: not children(server.pid), 2, "no child of the server remains")

    # Stopping the server (SIGTERM) ends the apps of every open session, and the server.
    async with aiohttp.ClientSession() as http:
        sessions = [
            await http.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30") for _ in range(2)
        ]
        for session in sessions:  # each app paints its first frame
            message = await asyncio.wait_for(session.receive(), 15)
            assert message.type == aiohttp.WSMsgType.BINARY
        apps = app_children(server.pid)
        assert len(apps) == 2
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        await wait_until(lambda: server.poll() is not None, 10, "the server exits on SIGTERM")
        timings["server stop"] = time.monotonic() - start
        assert server.returncode == 0, log.read_text()
        assert not [pid for pid in apps if alive(pid)]
        for session in sessions:
            await session.close()
    output = log.read_text()
    assert "Traceback" not in output, output
    print(" ".join(f"{name} {seconds:.2f} s;" for name, seconds in timings.items()))


# -- beyond localhost: the token, the cap, what reaches the page ----------------------------------
def start_serve(
    tmp_path: Path, cleanup: list, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """`cachetui serve *args` on a free port, run in tmp_path/cwd with HOME=tmp_path/home
    (so that anything it writes is found there): (process, log of stdout + stderr)."""
    (tmp_path / "cwd").mkdir(exist_ok=True)
    (tmp_path / "home").mkdir(exist_ok=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cachetui", "serve", "--port", str(free_port()), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path / "cwd",
            env={**os.environ, "HOME": str(tmp_path / "home"), **(env or {})},
            start_new_session=True,
        )
    cleanup.append(process)
    return process, log


def output(log: Path) -> str:
    """What the server has printed so far (a small local file: reading it does not block)."""
    return log.read_text()


async def printed_url(log: Path) -> str:
    """The URL the server says to open."""
    pattern = re.compile(r"open (http://\S+) in a browser")
    await wait_until(lambda: pattern.search(output(log)), 10, "the server prints its URL")
    match = pattern.search(output(log))
    assert match is not None
    return match.group(1)


async def stop_server(server: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM: the server exits 0, leaving no app behind and no traceback."""
    server.send_signal(signal.SIGTERM)
    await wait_until(lambda: server.poll() is not None, 10, "the server exits on SIGTERM")
    assert server.returncode == 0, output(log)
    assert "Traceback" not in output(log), output(log)


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 too


async def open_session(
    http: aiohttp.ClientSession, root: str, size: tuple[int, int] = (100, 30)
) -> aiohttp.ClientWebSocketResponse:
    """The page's websocket, once its app has painted its first frame."""
    session = await http.ws_connect(f"{root}/ws?width={size[0]}&height={size[1]}")
    message = await asyncio.wait_for(session.receive(), 15)
    assert message.type == aiohttp.WSMsgType.BINARY, message
    return session


async def close_session(session: aiohttp.ClientWebSocketResponse, app: int) -> None:
    await session.close()
    await wait_until(lambda: not alive(app), 5, "the app of a closed session exits")


def written_exports(tmp_path: Path) -> list[Path]:
    """Export files under tmp_path (where the server runs, and its HOME), except in the
    browser's folders."""
    return [
        path
        for path in tmp_path.rglob("cachetui-2*")
        if not {"chromium", "downloads"} & set(path.relative_to(tmp_path).parts)
    ]


async def test_token_beyond_loopback_or_a_403_page_and_no_app(tmp_path, cleanup):
    server, log = start_serve(tmp_path, cleanup, "--host", "0.0.0.0", "--db", ":memory:")
    url = await printed_url(log)
    match = re.fullmatch(r"(http://127\.0\.0\.1:(\d+))/\?token=([A-Za-z0-9_-]{22,})", url)
    assert match, url
    root, port, token = match.groups()
    assert "from another machine: http://" in log.read_text() or "every interface" in (
        log.read_text()
    )

    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        # Without the token: the 403 page, which says how to get in, for every path.
        for path in ("/", "/?token=not-the-token-at-all", "/static/js/textual.js", "/download/x"):
            async with http.get(root + path) as response:
                assert response.status == 403, path
                page = await response.text()
            assert "asks for a token" in page and "/?token=" in page and "cachetui serve" in page
        # ... and the websocket does not open: no app starts.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{root}/ws?width=100&height=30")
        assert refused.value.status == 403
        assert not children(server.pid)

        # The printed URL: the page (the token moves into a cookie, out of the address bar).
        async with http.get(url) as response:
            assert response.status == 200
            assert str(response.url) == f"{root}/"
            page = await response.text()
        assert "<title>cachetui</title>" in page
        cookie = {c.key: c.value for c in http.cookie_jar}
        assert cookie == {f"cachetui-token-{port}": token}
        async with http.get(f"{root}/") as response:  # a reload: the cookie is enough
            assert response.status == 200
        async with http.get(f"{root}/static/js/textual.js") as response:
            assert response.status == 200
        session = await open_session(http, root)
        (app,) = app_children(server.pid)
        await close_session(session, app)

    # A wrong token in the cookie: 403, page and websocket alike.
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        http.cookie_jar.update_cookies({f"cachetui-token-{port}": token[:-1] + "x"}, URL(root))
        async with http.get(f"{root}/") as response:
            assert response.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{root}/ws")
        assert refused.value.status == 403
    assert not children(server.pid)
    await stop_server(server, log)
    # The token is on the line that says what to open, on no other.
    assert [line for line in output(log).splitlines() if token in line] == [
        line for line in output(log).splitlines() if line.startswith("cachetui serve: open ")
    ]


async def test_no_token_is_explicit_and_warns(tmp_path, cleanup):
    server, log = start_serve(
        tmp_path, cleanup, "--host", "0.0.0.0", "--no-token", "--db", ":memory:"
    )
    url = await printed_url(log)
    assert "token" not in url
    (warning,) = [line for line in log.read_text().splitlines() if "warning" in line]
    assert warning.startswith("cachetui serve: warning: --no-token: no token is asked")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
    assert not children(server.pid)
    await stop_server(server, log)


async def test_the_session_cap_refuses_a_tab_until_one_closes(tmp_path, cleanup):
    # Loopback without --token: no token, as before.
    server, log = start_serve(tmp_path, cleanup, "--max-sessions", "1", "--db", ":memory:")
    root = await printed_url(log)
    assert "token" not in root and "at most 1 at once" in log.read_text()
    async with aiohttp.ClientSession() as http:
        first = await open_session(http, root)
        (app,) = app_children(server.pid)

        # Full: the page says how many sessions run and that one must close first ...
        async with http.get(f"{root}/") as response:
            assert response.status == 503
            page = await response.text()
        assert "1 cachetui session is running: the most this server allows" in page
        assert "One must close first" in page and "--max-sessions 1" in page
        # ... and a websocket is closed at once with that reason: no app starts.
        second = await http.ws_connect(f"{root}/ws?width=100&height=30")
        message = await asyncio.wait_for(second.receive(), 5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1013
        assert "1 cachetui session is running" in message.extra
        assert app_children(server.pid) == [app]
        assert "a new tab was turned away: 1 cachetui session is running" in log.read_text()

        # Closing the tab frees the slot once its app is reaped.
        await close_session(first, app)

        async def status() -> int:
            async with http.get(f"{root}/") as response:
                return response.status

        start = time.monotonic()
        while await status() != 200:
            assert time.monotonic() - start < 5, "the slot of a reaped app is not freed"
            await asyncio.sleep(0.05)
        third = await open_session(http, root)
        (app,) = app_children(server.pid)
        await close_session(third, app)
    assert not children(server.pid)
    await stop_server(server, log)


@pytest.fixture
def redis_with_password(tmp_path: Path, cleanup: list) -> str:
    """A private redis-server that needs a password: the --cache URL, password included."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed")
    port, password = free_port(), "s3cret-Passw0rd-never-shown"
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    cleanup.append(process)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    deadline = time.monotonic() + 5
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.2).ping()
            return url
        except redis.RedisError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)


async def test_served_export_downloads_and_the_cache_password_never_reaches_the_page(
    tmp_path, cleanup, redis_with_password
):
    password = redis_with_password.split(":")[2].split("@")[0]
    token = "a-token-given-on-loopback"
    server, log = start_serve(
        tmp_path, cleanup, "--token", token, "--cache", redis_with_password,
        "--db", str(tmp_path / "p.db"), "--profiles", "20",
    )  # fmt: skip
    url = await printed_url(log)
    root = url.split("/?")[0]
    assert url == f"{root}/?token={token}"  # --token works on loopback too
    received = bytearray()
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.get(url) as response:
            received += await response.read()
        session = await open_session(http, root, size=(160, 45))
        (app,) = app_children(server.pid)
        # The app gets the URL it needs, in its environment: its command line, which
        # every user of the machine can read, holds no option (no password) at all ...
        assert cmdline(app) == [sys.executable, "-m", "cachetui"]
        assert password not in " ".join(cmdline(app))
        assert redis_with_password in app_options(app)

        async def receive_until(done: Any, timeout: float) -> list[Any]:
            texts = []
            start = time.monotonic()
            while not done(texts):
                left = timeout - (time.monotonic() - start)
                assert left > 0, f"not within {timeout} s; text messages: {texts}"
                message = await asyncio.wait_for(session.receive(), left)
                if message.type == aiohttp.WSMsgType.BINARY:
                    received.extend(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    texts.append(json.loads(message.data))
                else:
                    raise AssertionError(f"session ended: {message!r}")
            return texts

        await receive_until(lambda _: b"WRITE-THROUGH" in received, 15)
        await session.send_json(["stdin", "E"])
        texts = await receive_until(
            lambda texts: sum(t[0] == "deliver_file_start" for t in texts) == 3, 10
        )
        downloads = {}
        for _, key in (t for t in texts if t[0] == "deliver_file_start"):
            async with http.get(f"{root}/download/{key}") as response:
                assert response.status == 200
                disposition = response.headers["Content-Disposition"]
                name = disposition.split("filename=")[1]
                assert disposition.startswith("attachment")
                downloads[name] = await response.read()
        await close_session(session, app)
    assert app_children(server.pid) == []
    await stop_server(server, log)

    stems = {name.rsplit(".", 1)[0] for name in downloads}
    assert len(stems) == 1 and re.fullmatch(r"cachetui-\d{8}-\d{6}", stems.pop())
    by_kind = {name.rsplit(".", 1)[1]: data.decode() for name, data in downloads.items()}
    assert by_kind["svg"].startswith("<svg") and "***" in by_kind["svg"]
    assert by_kind["csv"].startswith("time,policy,")
    assert json.loads(by_kind["json"])["samples"][-1]["policy"] == "write-through"
    # ... but neither the page, nor the session, nor the exports show its password;
    for data in (bytes(received), *downloads.values()):
        assert password.encode() not in data
    # and the export wrote nothing where the server runs.
    assert written_exports(tmp_path) == []


async def test_browser_export_downloads_there_and_the_page_loads_nothing_from_outside(
    chromium, cleanup, tmp_path
):
    """Through the printed URL (a token on loopback) in a real browser: the page, the
    export as browser downloads, no request outside the server, the cap's reason."""
    token = "token-for-the-browser-test"
    server, log = start_serve(
        tmp_path, cleanup, "--token", token, "--max-sessions", "1",
        "--db", str(tmp_path / "p.db"), "--profiles", "20",
    )  # fmt: skip
    url = await printed_url(log)
    root = url.split("/?")[0]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    async with Browser(chromium, tmp_path / "chromium", cleanup) as browser:
        async with browser.tab() as (page, tab):
            await page.call("Network.enable")
            await page.call(
                "Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads)
            )
            # The printed URL: the dashboard, the token gone from the address bar (a cookie
            # keeps it), a title, and every request to this server (no web font from outside).
            await page.call("Page.navigate", url=url)
            await page.wait_for_text("WRITE-THROUGH", "Database 20 rows", timeout=15)
            (app,) = app_children(server.pid)
            where = await page.evaluate(
                "[location.href, document.title, [...document.fonts].some("
                "(font) => font.family.includes('Roboto Mono') && font.status === 'loaded')]"
            )
            assert where == [f"{root}/", "cachetui", True]

            # E: the screen and the metrics arrive in the browser's download folder.
            await page.press("E", code="KeyE")
            # (30 s: twice in full-suite runs 10 s were not enough, never alone)
            try:
                await wait_until(
                    lambda: (
                        sorted(p.suffix for p in downloads.iterdir()) == [".csv", ".json", ".svg"]
                    ),
                    30,
                    "three downloads arrive",
                )
            except AssertionError as exc:  # say what did arrive, and what the app logged
                got = sorted(p.name for p in downloads.iterdir())
                raise AssertionError(f"{exc}; the folder holds {got}; {output(log)}") from None
            files = {path.suffix: path for path in downloads.iterdir()}
            assert re.fullmatch(r"cachetui-\d{8}-\d{6}", files[".svg"].stem)
            assert files[".svg"].read_text().startswith("<svg")
            assert files[".csv"].read_text().startswith("time,policy,")
            assert json.loads(files[".json"].read_text())["screenshot"] == files[".svg"].name
            requests = page.requested

            # A session the cap refuses: the page's closed dialog gives the server's reason.
            await page.call(
                "Runtime.evaluate",
                expression=f"new WebSocket('{root.replace('http', 'ws')}/ws')",
            )
            message = "document.querySelector('.closed-dialog .message').textContent"
            start = time.monotonic()
            while "1 cachetui session is running" not in await page.evaluate(message):
                assert time.monotonic() - start < 5, await page.evaluate(message)
                await asyncio.sleep(0.05)
            assert app_children(server.pid) == [app]
        await browser.close_tab(tab)
        await wait_until(lambda: not alive(app), 5, "the app of a closed tab exits")
    assert requests and all(
        request.startswith(f"{root}/") or request.startswith("data:") for request in requests
    ), requests
    assert written_exports(tmp_path) == []  # nothing where the server runs
    assert not children(server.pid)
    await stop_server(server, log)
