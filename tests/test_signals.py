"""SIGTERM, SIGHUP and SIGINT, sent for real to a real process under a pseudo-terminal.

The app takes the path of q: it flushes, restores the terminal and exits 0; what could
not be written is named on stderr and in ``cachetui.log`` and the exit status is 1.
``cachetui bench`` stops, drops its temporary copies and exits 128 + the signal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pyte
import pytest

TIMEOUT = 60  # seconds; generous: a loaded machine, never an assertion on speed

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals"),
    pytest.mark.timeout(3 * TIMEOUT),  # a test waits up to TIMEOUT at each of its steps
]
BURST = 100  # the updates U makes


class Terminal:
    """A process in a pseudo-terminal of its own (session leader, controlling tty)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: nothing but exec
            os.execve(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
        self.output = bytearray()
        self._screen = pyte.Screen(160, 45)
        self._stream = pyte.ByteStream(self._screen)
        self._fed = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.status: int | None = None

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                return
            if not data:
                return
            self.output.extend(data)

    def screen_text(self) -> str:
        """What the terminal shows now, rendered by a terminal emulator (pyte): Textual
        repaints only the cells that change, so a text may never be contiguous in the
        raw output."""
        fresh = bytes(self.output[self._fed :])
        self._fed += len(fresh)
        self._stream.feed(fresh)
        return "\n".join(self._screen.display)

    def wait_for(self, pattern: bytes) -> re.Match[str]:
        deadline = time.monotonic() + TIMEOUT
        wanted = pattern.decode()
        while time.monotonic() < deadline:
            found = re.search(wanted, self.screen_text()) or re.search(
                wanted, bytes(self.output).decode(errors="replace")
            )
            if found:
                return found
            if self.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never shown; the end: {bytes(self.output[-1500:])!r}")

    def press(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def hang_up(self) -> None:
        """Close the terminal (its window): the kernel hangs it up."""
        os.close(self.fd)
        self.fd = -1

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"still running {TIMEOUT}s after the signal")
            time.sleep(0.05)
        self._reader.join(TIMEOUT)
        assert self.status is not None
        return self.status

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd >= 0:
            os.close(self.fd)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A home of the test's own: the log lands in tmp_path/data/cachetui/."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLORTERM")}
    env.update(
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TERM="xterm-256color",
        TMPDIR=str(tmp_path),
    )
    return env


def log_of(tmp_path: Path) -> str:
    return (tmp_path / "data" / "cachetui" / "cachetui.log").read_text()


def start_with_pending_writes(tmp_path: Path, env: dict[str, str]) -> tuple[Terminal, int]:
    """The app over a fresh file, write-behind, after U: (its terminal, writes pending)."""
    db = tmp_path / "profiles.db"
    app = Terminal(
        [sys.executable, "-m", "cachetui", "--db", str(db), "--policy", "write-behind"]
        + ["--flush-interval", "3600", "--profiles", "200"],
        env,
    )
    try:
        app.wait_for(rb"flush every 3600s")  # the dashboard is drawn
        app.press(b"U")
        pending = app.wait_for(
            rb"%d of %d updates acknowledged; (\d+) writes pending now" % (BURST, BURST)
        )
    except BaseException:
        app.close()
        raise
    assert versions(db) == {}  # nothing flushed yet: every write is pending
    return app, int(pending[1])


def versions(db: Path) -> dict[int, int]:
    """user → version of every row that was updated."""
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT user_id, version FROM profiles WHERE version > 1"))


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_flushes_every_pending_write_and_exits_0(tmp_path, env, name):
    app, pending = start_with_pending_writes(tmp_path, env)
    try:
        mark = len(app.output)
        if name == "SIGHUP":
            app.hang_up()  # the terminal is gone, then the signal comes
        os.kill(app.pid, getattr(signal, name))
        assert app.wait() == 0
    finally:
        app.close()
    landed = versions(tmp_path / "profiles.db")
    assert len(landed) == pending
    assert sum(v - 1 for v in landed.values()) == BURST  # every acknowledged update
    assert f"quit on {name}: {pending} pending writes flushed" in log_of(tmp_path)
    if name != "SIGHUP":
        after = bytes(app.output[mark:])
        assert b"\x1b[?1049l" in after and b"\x1b[?25h" in after  # the terminal restored
        assert f"quit on {name}: {pending} pending writes flushed".encode() in after
        assert b"Traceback" not in after


def test_a_signal_during_an_outage_names_the_writes_it_could_not_land(tmp_path, env):
    app, pending = start_with_pending_writes(tmp_path, env)
    try:
        app.press(b"o")
        app.wait_for(rb"DB outage ON")
        mark = len(app.output)
        os.kill(app.pid, signal.SIGTERM)
        assert app.wait() == 1
    finally:
        app.close()
    assert versions(tmp_path / "profiles.db") == {}
    log = log_of(tmp_path)
    lost = {int(u): int(v) for u, v in re.findall(r"lost: user (\d+) version (\d+)", log)}
    assert len(lost) == pending and sum(v - 1 for v in lost.values()) == BURST
    assert f"quit on SIGTERM: {pending} pending writes could not be written" in log
    # on stderr too, once the terminal is restored (the pty wraps long lines itself)
    stderr = " ".join(bytes(app.output[mark:]).decode(errors="replace").split())
    assert f"quit on SIGTERM: {pending} pending writes could not be written" in stderr
    assert all(f"user {u} v{v}" in stderr for u, v in lost.items())
    assert "cachetui.log" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_bench_on_a_signal_stops_cleans_up_and_exits_128_plus_the_signal(tmp_path, env, name):
    folder = tmp_path / "bench-tmp"
    folder.mkdir()
    env["TMPDIR"] = str(folder)
    bench = subprocess.Popen(
        [sys.executable, "-m", "cachetui", "bench", "--ops", "100000000", "--keys", "200"]
        + ["--policy", "write-behind", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list(folder.glob("*/write-behind.db")):  # seeded, now running the ops
            assert bench.poll() is None and time.monotonic() < deadline, bench.stderr
            time.sleep(0.05)
        time.sleep(0.3)  # writes pending under write-behind
        os.kill(bench.pid, getattr(signal, name))
        out, err = bench.communicate(timeout=TIMEOUT)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.communicate()
    assert bench.returncode == 128 + getattr(signal, name)
    assert err.strip().splitlines()[-1] == "cachetui bench: interrupted"
    assert "Traceback" not in err and out == ""
    assert list(folder.iterdir()) == []  # the temporary folder is gone


@pytest.mark.parametrize(("name", "key"), [("SIGTERM", None), (None, b"q")])
def test_seeding_shows_its_progress_and_stops_on_a_signal_or_q(tmp_path, env, name, key):
    """10,000,000 profiles into an empty file: a progress screen instead of a blank one,
    and a signal (or q) stops it at once; nothing is kept, so the next start seeds."""
    db = tmp_path / "profiles.db"
    app = Terminal(
        [sys.executable, "-m", "cachetui", "--db", str(db), "--profiles", "10000000"], env
    )
    try:
        app.wait_for(rb"Seeding 10,000,000 demo profiles into")
        app.wait_for(rb"[1-9][0-9]?%")  # it moves
        mark = len(app.output)
        if name is not None:
            os.kill(app.pid, getattr(signal, name))
        else:
            app.press(key)
        assert app.wait() == 0
    finally:
        app.close()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM profiles").fetchone() == (0,)
    after = bytes(app.output[mark:])
    assert b"Traceback" not in after
    if name is not None:
        assert b"quit on SIGTERM while seeding: no profile was kept" in after


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_compare_on_a_signal_closes_both_sides_and_deletes_their_copies(tmp_path, env, name):
    """Compare mode's session takes the signal as q: both engines close, the copies of
    the database in the temporary folder are deleted, the exit status is 0."""
    folder = tmp_path / "compare-tmp"
    folder.mkdir()
    env["TMPDIR"] = str(folder)
    app = Terminal(
        [sys.executable, "-m", "cachetui", "compare", "--db", str(tmp_path / "profiles.db")]
        + ["--profiles", "200"],
        env,
    )
    try:
        app.wait_for(rb"write-behind")  # both sides are drawn
        assert list(folder.iterdir())  # each side's copy of the database
        os.kill(app.pid, getattr(signal, name))
        assert app.wait() == 0
    finally:
        app.close()
    assert b"Traceback" not in bytes(app.output)
    assert list(folder.iterdir()) == []  # the copies are gone
