"""The history file: JSON lines written by a thread of its own, batch by batch, so the
encoding never runs on the event loop; a size cap rotates it (``FILE`` → ``FILE.1``)."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from cachetui.engine.history.records import Encoder

log = logging.getLogger("cachetui.engine")
_LINE = orjson.OPT_APPEND_NEWLINE


class HistoryFile:
    """Streams batches of records to ``path`` (truncated at open), each batch encoded and
    written in the writer thread, then flushed (a killed process loses at most the batch
    being written, and may leave its last line cut: the checker drops it with a warning).

    ``max_bytes``: the cap of ``path`` and ``path.1`` together; when ``path`` reaches
    half of it, it becomes ``path.1`` (replacing the older one) and a new ``path`` starts
    with the header again."""

    def __init__(self, path: str, header: dict[str, Any], max_bytes: int | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.error: OSError | None = None
        self._header = header
        self._encoder = Encoder(str(header.get("queue", "")))
        self._file = open(path, "wb")  # noqa: SIM115 - closed by the writer thread
        self._size = self._file.write(orjson.dumps(header, option=_LINE))
        self._file.flush()
        self._batches: queue.SimpleQueue[Sequence[tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="cachetui-history", daemon=True)
        self._thread.start()

    def put(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Queue a batch of records for the writer thread (returns at once)."""
        if batch:
            self._batches.put(batch)

    def close(self) -> None:
        """Write what is queued, then close the file (blocks: call it in a thread)."""
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            while (batch := self._batches.get()) is not None:
                if self.error is None:
                    self._write(batch)
        finally:
            self._file.close()

    def _write(self, batch: Sequence[tuple[Any, ...]]) -> None:
        dumps = orjson.dumps
        chunk = b"".join([dumps(d, option=_LINE) for d in self._encoder.dicts(batch)])
        try:
            if self.max_bytes is not None and self._size + len(chunk) > self.max_bytes // 2:
                self._rotate()
            self._size += self._file.write(chunk)
            self._file.flush()
        except OSError as exc:
            self.error = exc
            log.error("history file %s: %s; recording to it stopped", self.path, exc)

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, self.path + ".1")
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by the writer thread
        header = dict(self._header, queue=self._encoder.queue, rotated=True)
        self._size = self._file.write(orjson.dumps(header, option=_LINE))
