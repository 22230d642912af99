"""The served app's driver keeps every packet whole on the pipe to the server while two
threads write (the screen from the app's thread, a download's chunks from the input
thread): a real driver writing to a real pipe, read and parsed as textual-serve does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cachetui.serve.app_service import ReapingAppService
from cachetui.serve.process_groups import ProcessGroups
from cachetui.serve.web_driver import DRIVER

pytestmark = pytest.mark.timeout(60)

PACKETS = 150
SCREEN = 70_000  # each a screen update over a pipe's 64 KiB, as a full redraw can be
CHUNK = 65_536  # textual-serve's download chunk

WRITER = f"""
import asyncio, sys, threading
from textual.app import App
from cachetui.serve.web_driver import WholePacketWebDriver

async def made():  # a driver is made inside the app's event loop
    return WholePacketWebDriver(App())

driver = asyncio.run(made())

def screens():
    for n in range({PACKETS}):
        driver.write(f"{{n:06d}}" + "s" * {SCREEN})

def chunks():
    for n in range({PACKETS}):
        driver.write_binary_encoded(("deliver_chunk", "key", bytes({CHUNK})))
        driver.write_meta({{"type": "deliver_file_start", "key": str(n)}})

threads = [threading.Thread(target=screens), threading.Thread(target=chunks)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def packets(stream: bytes) -> list[tuple[bytes, bytes]]:
    """The stream parsed as textual-serve parses it: a type byte, a 4-byte big-endian
    length, the payload."""
    found = []
    at = 0
    while at < len(stream):
        kind = stream[at : at + 1]
        assert kind in (b"D", b"M", b"P"), f"a packet type {kind!r} at byte {at}: torn"
        size = int.from_bytes(stream[at + 1 : at + 5], "big")
        found.append((kind, stream[at + 5 : at + 5 + size]))
        at += 5 + size
    return found


def test_packets_from_two_threads_arrive_whole_and_in_each_threads_order():
    written = subprocess.run(
        [sys.executable, "-c", WRITER], input=b"", capture_output=True, timeout=50, check=True
    ).stdout
    found = packets(written)

    screens = [payload for kind, payload in found if kind == b"D"]
    chunks = [payload for kind, payload in found if kind == b"P"]
    metas = [payload for kind, payload in found if kind == b"M"]
    assert [s[:6] for s in screens] == [f"{n:06d}".encode() for n in range(PACKETS)]
    assert all(s[6:] == b"s" * SCREEN for s in screens)
    assert len(chunks) == PACKETS and len(set(chunks)) == 1
    assert bytes(CHUNK) in chunks[0] and b"ss" not in chunks[0]
    assert metas == [b'{"type": "deliver_file_start", "key": "%d"}' % n for n in range(PACKETS)]


def test_every_app_the_server_starts_uses_that_driver():
    service = ReapingAppService(
        ["cachetui"],
        groups=ProcessGroups(),
        write_bytes=None,
        write_str=None,
        close=None,
        download_manager=None,
        environment={"EXTRA": "1"},
    )
    environment = service._build_environment(width=100, height=30)
    assert environment["TEXTUAL_DRIVER"] == DRIVER
    assert environment["EXTRA"] == "1" and environment["COLUMNS"] == "100"
