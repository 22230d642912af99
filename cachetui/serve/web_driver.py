"""The driver of an app served in a browser: textual's web driver, with each packet
written whole.

textual's web driver writes its packets (screen updates, metadata, the chunks of a
download) to stdout from two threads: the app's thread draws the screen while the input
thread answers the server's requests for the next chunk of a download. A pipe keeps a
write whole only up to 4 KiB; a 64 KiB chunk written while the pipe is full goes in
pieces, and a screen update written at the same moment lands between them. The server
then reads a length out of the middle of a chunk and waits for bytes that never come:
the download stays unfinished in the browser and the tab stops updating (CI saw all three
files of an export stuck as ``.crdownload``). Here one lock makes each packet one write
as the server sees it.

The server names this class in ``TEXTUAL_DRIVER`` for every app it starts."""

from __future__ import annotations

import threading
from typing import Any

from textual.drivers.web_driver import WebDriver

DRIVER = f"{__name__}:WholePacketWebDriver"
"""The value of ``TEXTUAL_DRIVER`` that selects this driver."""


class WholePacketWebDriver(WebDriver):
    """A web driver whose packets never interleave, whichever thread writes them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.packet_lock = threading.Lock()

    def write(self, data: str) -> None:
        with self.packet_lock:
            super().write(data)

    def write_meta(self, data: dict[str, object]) -> None:
        with self.packet_lock:
            super().write_meta(data)

    def write_binary_encoded(self, data: tuple[str | bytes, ...]) -> None:
        with self.packet_lock:
            super().write_binary_encoded(data)
