"""``cachetui link``: one error line (after the usage) for a bad duration or address, exit
status 2; where it listens on its first line; Ctrl+C stops it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from cachetui.cli import main
from tests.link.conftest import receive


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--rtt", "2"],
            "argument --rtt: expected a number and a unit: 300us, 2ms, 0.5s, "
            "got '2' (give a unit: 2ms or 2s)",
        ),
        (
            ["--rtt=-1ms"],
            "argument --rtt: a duration is never negative, got '-1ms' "
            "(a number and a unit: 300us, 2ms, 0.5s)",
        ),
        (
            ["--rtt", "-1ms"],  # not argparse's "expected one argument"
            "argument --rtt: a duration is never negative, got '-1ms' "
            "(a number and a unit: 300us, 2ms, 0.5s)",
        ),
        (["--rtt", "11s"], "argument --rtt: at most 10s, got '11s'"),
        (
            ["--rtt", "2ms", "--jitter", "fast"],
            "argument --jitter: expected a number and a unit: 300us, 2ms, 0.5s, got 'fast'",
        ),
        (["--rtt", "2ms", "--listen", "7000"], "argument --listen: expected HOST:PORT, got '7000'"),
        (
            ["--rtt", "2ms", "--to", "127.0.0.1:0"],
            "argument --to: expected a port from 1 to 65535 after the colon, got '127.0.0.1:0'",
        ),
        (
            ["--rtt", "2ms", "--to", "::1:6379"],
            "argument --to: expected HOST:PORT (an IPv6 "
            "address in brackets: [::1]:PORT), got '::1:6379'",
        ),
        (["--listen", ":0", "--to", ":6379"], "the following arguments are required: --rtt"),
    ],
)
def test_bad_options_are_one_error_line(args: list[str], error: str, capsys):
    defaults = {"--listen": ":0", "--to": "127.0.0.1:6379"}
    for option, value in defaults.items():
        if option not in args:
            args = [*args, option, value]
    with pytest.raises(SystemExit) as exit_info:
        main(["link", *args])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("usage: cachetui link")
    assert lines[-1] == f"cachetui link: error: {error}"


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["link", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--listen HOST:PORT" in out and "--rtt D" in out and "--jitter D" in out


def test_a_taken_port_or_an_unknown_host_is_one_line(capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        code = main(["link", "--listen", f"127.0.0.1:{port}", "--to", ":6379", "--rtt", "1ms"])
    finally:
        taken.close()
    assert code == 2
    assert capsys.readouterr().err == (
        f"cachetui link: error: cannot listen on 127.0.0.1:{port}: port {port} is already in "
        "use (choose another, or 0 for any)\n"
    )
    code = main(["link", "--listen", ":0", "--to", "nowhere.invalid:1", "--rtt", "1ms"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("cachetui link: error: cannot find nowhere.invalid:1: ")
    assert err.count("\n") == 1


def test_it_relays_with_the_delay_and_ctrl_c_stops_it(echo_server: tuple[str, int]):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cachetui",
            "link",
            "--listen",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{echo_server[1]}",
            "--rtt",
            "30ms",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("cachetui link: listening on 127.0.0.1:")
        assert f"relaying to 127.0.0.1:{echo_server[1]} (rtt 30ms); Ctrl+C stops" in first
        port = int(first.split("listening on 127.0.0.1:")[1].split(",")[0])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            receive_after_send(sock)  # the handshake's RTT
            started = time.monotonic()
            receive_after_send(sock)
            assert time.monotonic() - started >= 0.03
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert err == ""  # no traceback
    assert out.startswith("cachetui link: stopped; 1 connection, 2 bytes to the server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_refuses_is_said_at_start_and_at_stop():
    dead = free_port()  # nothing listens there
    process = subprocess.Popen(
        [sys.executable, "-m", "cachetui", "link", "--listen", "127.0.0.1:0"]
        + ["--to", f"127.0.0.1:{dead}", "--rtt", "1ms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        port = int(process.stdout.readline().split("listening on 127.0.0.1:")[1].split(",")[0])
        warning = process.stderr.readline()
        assert warning == (
            f"cachetui link: warning: 127.0.0.1:{dead} does not answer now (Connection "
            "refused); clients are reset until it does\n"
        )
        with (
            socket.create_connection(("127.0.0.1", port)) as sock,
            pytest.raises(OSError),  # reset by the relay
        ):
            sock.sendall(b"x")
            assert sock.recv(1) == b""
            sock.sendall(b"x")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert err == ""  # the same refusal is not said again, and no traceback
    assert out == (
        f"cachetui link: stopped; 1 connection (1 could not reach 127.0.0.1:{dead}), "
        "0 bytes to the server, 0 back\n"
    )


def receive_after_send(sock: socket.socket) -> None:
    sock.sendall(b"x")
    assert receive(sock, 1) == b"x"
