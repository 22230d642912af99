"""`cachetui serve` and web pages it did not serve: a request for a name that is not this
machine's (DNS rebinding) is refused on loopback, a websocket from another origin on
every interface, each with a 403 page and one log line; the token can come from
CACHETUI_TOKEN. Real `cachetui serve` processes, real HTTP clients (raw sockets for
headers no library sends, aiohttp for websockets); the browser's view of the same is in
tests/test_serve.py. One loopback server serves the whole module.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from tests.test_serve import alive, children, cmdline, free_port, wait_until

pytestmark = pytest.mark.timeout(60)


class Serve:
    """A `cachetui serve` process on a free port, its output in a file."""

    def __init__(self, folder: Path, *args: str, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = folder / "serve.log"
        environment = {k: v for k, v in os.environ.items() if k != "CACHETUI_TOKEN"}
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cachetui", "serve", "--port", str(self.port), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env={**environment, "HOME": str(folder), **(env or {})},
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while "in a browser" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"the server did not start: {self.output()}"
            time.sleep(0.02)

    def output(self) -> str:
        return self.log.read_text()

    def lines_with(self, text: str) -> list[str]:
        return [line for line in self.output().splitlines() if text in line]

    def stop(self) -> None:
        """SIGTERM: exit status 0, no traceback, no app left; killed whatever happens."""
        try:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
            assert self.process.returncode == 0, self.output()
            assert "Traceback" not in self.output(), self.output()
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """On 127.0.0.1, no token, with one more name allowed."""
    server = Serve(
        tmp_path_factory.mktemp("loopback"),
        "--db", ":memory:", "--profiles", "20", "--allow-host", "Lab.Test.",
    )  # fmt: skip
    yield server
    server.stop()


async def raw_request(port: int, head: str) -> tuple[int, dict[str, str], str]:
    """``head`` sent as it is (bytes no client library would send): status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode("latin-1"))
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    text = data.decode("utf-8", errors="replace")
    header, _, body = text.partition("\r\n\r\n")
    status_line, *fields = header.split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return int(status_line.split()[1]), headers, body


def environment(pid: int) -> list[bytes]:
    """A process's environment, as it started (readable by its own user only)."""
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def get(path: str, *headers: str) -> str:
    return "".join([f"GET {path} HTTP/1.1\r\n", *(f"{h}\r\n" for h in headers), "\r\n"])


# A rebinding page names its own host; a browser never sends the malformed ones, but a
# request is what its sender makes it. The page and the log show each as it is, escaped.
REFUSED_HOSTS = [
    "evil.example:{port}",
    "EVIL.example",
    "localhost.evil.example:{port}",
    "127.0.0.1.evil.example",
    "lab.test.evil.example",
    "0.0.0.0:{port}",
    "10.1.2.3:{port}",
    "[::2]:{port}",
    "[::1]:{port}@evil.example",
    "::1",
    "localhost:",
    "localhost:99999",
    "localhost:{port}:{port}",
    "<script>alert(1)</script>",
    "",
]
ANSWERED_HOSTS = [
    "localhost:{port}",
    "LocalHost:{port}",
    "localhost.:{port}",
    "127.0.0.1:{port}",
    "127.0.0.1",
    "127.8.9.10:{port}",
    "[::1]:{port}",
    "[0:0:0:0:0:0:0:1]:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "localhost:2222",  # a tunnel's port
    "lab.test:{port}",
    "LAB.test.",
]


async def test_on_loopback_a_request_for_another_name_is_refused_with_a_page_that_says_why(
    loopback,
):
    port = loopback.port
    pages = {}
    for number, host in enumerate(REFUSED_HOSTS):
        host = host.format(port=port)
        status, headers, page = await raw_request(
            port, get(f"/rebind-{number}", f"Host: {host}", "Connection: close")
        )
        pages[host] = page
        assert status == 403, host
        assert headers["cache-control"] == "no-store"
        assert "answers only to this machine" in page, page
        assert "cachetui serve --allow-host NAME" in page and "DNS rebinding" in page
        assert "<script>alert" not in page
        (line,) = loopback.lines_with(f"'/rebind-{number}'")  # logged once
        assert line.startswith(f"cachetui serve: refused GET '/rebind-{number}' from 127.0.0.1: ")
        assert repr(host) in line, line
    assert (
        "Host &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is malformed"
        in pages["<script>alert(1)</script>"]
    )
    # A request without Host (HTTP/1.0 allows it; no browser sends one): refused too.
    status, _, page = await raw_request(port, "GET /no-host HTTP/1.0\r\n\r\n")
    assert status == 403 and "it names no host" in page
    (line,) = loopback.lines_with("'/no-host'")
    assert "from 127.0.0.1: it names no host" in line
    # Two Host headers: aiohttp's 400, and one line instead of its traceback.
    before = len(loopback.lines_with("malformed request"))
    status, _, _ = await raw_request(
        port, get("/two-hosts", "Host: localhost", "Host: evil.example", "Connection: close")
    )
    assert status == 400
    await wait_until(lambda: len(loopback.lines_with("malformed")) > before, 2, "logged")
    assert loopback.lines_with("malformed request")[before:] == [
        "cachetui serve: refused a malformed request from 127.0.0.1: "
        "\"Duplicate 'Host' header found.\""
    ]

    # This machine's names and addresses, with any port, and the allowed name: the page,
    # whose websocket and static files are on the name the browser used.
    for host in ANSWERED_HOSTS:
        host = host.format(port=port)
        status, _, page = await raw_request(port, get("/", f"Host: {host}", "Connection: close"))
        assert status == 200, (host, page)
        assert f'data-session-websocket-url="ws://{host}/ws"' in page
    assert not children(loopback.process.pid)  # no app started
    assert "Traceback" not in loopback.output()


async def test_a_websocket_from_another_web_page_is_refused_and_starts_no_app(loopback):
    port = loopback.port
    root = f"http://127.0.0.1:{port}"
    refused = {
        "http://evil.example": "is not this server's page",
        f"http://evil.example:{port}": "is not this server's page",
        f"http://127.0.0.1:{port + 1 if port < 65535 else 1}": "is not this server's page",
        f"https://127.0.0.1:{port}": "is not this server's page",
        f"http://localhost:{port}": "is not this server's page",  # another origin
        f"http://127.0.0.1:{port}/path": "is not an origin",
        "null": "its Origin is null",
    }
    async with aiohttp.ClientSession() as http:
        for origin, reason in refused.items():
            with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                await http.ws_connect(f"{root}/ws?width=80&height=24", origin=origin)
            assert refusal.value.status == 403, origin
            lines = [line for line in loopback.lines_with(" a websocket ") if repr(origin) in line]
            if origin == "null":
                lines = loopback.lines_with("its Origin is null")
            assert len(lines) == 1, (origin, loopback.output())
            assert lines[0].startswith("cachetui serve: refused a websocket from 127.0.0.1: ")
            assert reason in lines[0]
        # The refusal's page, for whoever looks: why, escaped.
        async with http.get(
            f"{root}/ws", headers={"Origin": "http://<b>evil</b>", "Upgrade": "websocket"}
        ) as response:
            assert response.status == 403
            page = await response.text()
        assert "takes websockets only from its own page" in page
        assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil" not in page
        # The rebinding page's own websocket (same origin to the browser): its Host.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
            await http.ws_connect(
                f"{root}/ws",
                origin=f"http://evil.example:{port}",
                headers={"Host": f"evil.example:{port}"},
            )
        assert refusal.value.status == 403
        (line,) = [
            line
            for line in loopback.lines_with("refused a websocket from 127.0.0.1")
            if f"its Host 'evil.example:{port}' is not localhost" in line
        ]
    assert not children(loopback.process.pid)
    assert "Traceback" not in loopback.output()


async def test_the_token_from_cachetui_token_beyond_loopback(tmp_path):
    """CACHETUI_TOKEN works as --token does (and stays out of the process list and the
    apps); beyond loopback every name is answered, a foreign websocket is not."""
    token = "token-from-the-environment"
    server = Serve(
        tmp_path,
        "--host", "0.0.0.0", "--db", ":memory:", "--profiles", "20", "--allow-host", "x.test",
        env={"CACHETUI_TOKEN": token},
    )  # fmt: skip
    try:
        port = server.port
        root = f"http://127.0.0.1:{port}"
        assert f"open {root}/?token={token} in a browser" in server.output()
        assert not any(token in part for part in cmdline(server.process.pid))
        (warning,) = server.lines_with("warning")
        assert "--allow-host does nothing beyond loopback" in warning
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{root}/") as response:  # without it
                assert response.status == 403 and "asks for a token" in await response.text()
            (line,) = server.lines_with("refused GET '/' from 127.0.0.1: no token")
            async with http.get(f"{root}/?token={token}", headers={"Host": "any.name"}) as r:
                assert r.status == 200  # any name: the token guards this server
            http.cookie_jar.update_cookies({f"cachetui-token-{port}": token}, URL(root))
            with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                await http.ws_connect(f"{root}/ws", origin="http://evil.example")
            assert refusal.value.status == 403
            assert len(server.lines_with("'http://evil.example' is not this server's")) == 1
            assert not children(server.process.pid)
            # The page's own websocket: an app, which gets neither the token nor an option
            # on its command line.
            session = await http.ws_connect(f"{root}/ws?width=80&height=24", origin=root)
            message = await asyncio.wait_for(session.receive(), 15)
            assert message.type == aiohttp.WSMsgType.BINARY, message
            (app,) = children(server.process.pid)
            assert cmdline(app) == [sys.executable, "-m", "cachetui"]
            environ = environment(app)
            assert not [v for v in environ if v.startswith(b"CACHETUI_TOKEN=")]
            assert b'CACHETUI_APP_OPTIONS=["--db", ":memory:", "--profiles", "20"]' in environ
            await session.close()
            await wait_until(lambda: not alive(app), 5, "the app of a closed session exits")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "value, message",
    [
        ("too-short", "CACHETUI_TOKEN: a token needs at least 16 characters, got 9"),
        ("sixteen chars!!!", "CACHETUI_TOKEN: a token may use only letters"),
    ],
)
def test_a_bad_cachetui_token_is_one_error_line_that_does_not_show_it(value, message):
    result = subprocess.run(
        [sys.executable, "-m", "cachetui", "serve", "--port", "0", "--db", ":memory:"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CACHETUI_TOKEN": value},
    )
    assert result.returncode == 2
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert error.startswith(f"cachetui serve: error: {message}")
    assert value not in result.stderr + result.stdout
    assert re.search(r"^usage: cachetui serve", result.stderr, re.M)
