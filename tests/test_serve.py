"""`cachetui serve`: the app in a real headless Chromium, and no app process left behind.

The end-to-end test drives Debian's chromium through the Chrome DevTools Protocol (a
small client over aiohttp's websocket, below). It is skipped when chromium is missing,
except under CI=true, where it fails instead (.ci/run installs chromium).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
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
from textual_serve.download_manager import DownloadManager

from cachetui.reaping_server import ProcessGroups, ReapingAppService
from cachetui.serve import app_arguments, build_parser

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
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except FileNotFoundError:
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


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs, over one page's websocket."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.last_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        call_id = self.last_id
        await self.websocket.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.websocket.receive(), 10)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"DevTools connection ended: {message.type!r}")
            reply = json.loads(message.data)
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def screen(self) -> str:
        result = await self.call("Runtime.evaluate", expression=SCREEN, returnByValue=True)
        return result["result"].get("value") or ""

    async def wait_for_text(self, *texts: str, timeout: float) -> tuple[str, float]:
        start = time.monotonic()
        screen = ""
        while time.monotonic() - start < timeout:
            screen = await self.screen()
            if all(text in screen for text in texts):
                return screen, time.monotonic() - start
            await asyncio.sleep(0.1)
        raise AssertionError(f"{texts} not on the page within {timeout} s; it shows:\n{screen}")

    async def press(self, key: str) -> None:
        await self.call(
            "Runtime.evaluate",
            expression="document.querySelector('.xterm-helper-textarea').focus()",
        )
        key_code = {"key": key, "code": f"Digit{key}", "windowsVirtualKeyCode": ord(key)}
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
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(self.process)
        self.port_file = profile / "DevToolsActivePort"
        self.http = aiohttp.ClientSession()

    async def __aenter__(self) -> Browser:
        port_file = self.port_file
        await wait_until(
            lambda: port_file.exists() and port_file.read_text().strip(), 15, "DevTools"
        )
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
            assert "--profiles" in cmdline(app) and "50" in cmdline(app)

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

            # Coming back gets a new app; closing the tab ends it.
            await page.call("Page.navigate", url=url)
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
