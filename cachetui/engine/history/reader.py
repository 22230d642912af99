"""Reading history files into a :class:`~.checker.Checker`: one header per file, files
of one host and boot only, and a clear line for a file that is not a history."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import orjson

from cachetui.engine.history import shapes
from cachetui.engine.history.checker import Checker
from cachetui.engine.history.facts import collector_paused
from cachetui.engine.history.shapes import HistoryFormatError

#: Lines parsed and fed at a time (a chunk's records are held at once).
CHUNK = 4096


class HistoryFileError(Exception):
    """A file ``cachetui check`` cannot judge: the message is one line naming it."""


def load(paths: Sequence[str], checker: Checker | None = None) -> tuple[Checker, list[str]]:
    """Feed these files to a checker (a new one by default); returns it and the
    warnings (a cut last line dropped). HistoryFileError for a file that cannot be
    read, is not JSON lines, has a record the checker cannot read (the line is named),
    or comes from another host or boot, or another run (``cachetui bench``'s, each on a
    database of its own), than the first file."""
    with collector_paused():
        return _load(paths, checker or Checker())


def _load(paths: Sequence[str], checker: Checker) -> tuple[Checker, list[str]]:
    warnings: list[str] = []
    first: tuple[str, dict[str, Any]] | None = None
    given: dict[tuple[int, int], int] = {}  # (device, inode): the file's place in paths
    for n, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                data = f.read()
        except OSError as exc:
            raise HistoryFileError(f"{path}: cannot read it: {exc.strerror or exc}") from None
        same = given.setdefault((stat.st_dev, stat.st_ino), n)
        if same != n:
            raise HistoryFileError(f"{path} is {paths[same]} again: each file is judged once")
        lines = data.split(b"\n")
        complete = data.endswith(b"\n")
        if complete:
            lines.pop()  # the empty piece after the last newline
        if not data or data.isspace():
            raise HistoryFileError(f"{path}: empty, not a cachetui history file")
        if not lines[0].strip():
            raise HistoryFileError(f"{path}:1: an empty line, not a cachetui history file")
        head = _parse(path, lines[0], 1)
        if not isinstance(head, dict) or head.get("type") != "header":
            raise HistoryFileError(f"{path}:1: not a cachetui history file (no header line)")
        try:
            shapes.header(head)
        except HistoryFormatError as exc:
            raise HistoryFileError(f"{path}:1: {exc}") from None
        if first is None:
            first = (path, head)
        elif (head.get("host"), head.get("boot_id")) != (
            first[1].get("host"),
            first[1].get("boot_id"),
        ):
            raise HistoryFileError(
                f"{path} is from host {head.get('host')!r} boot {head.get('boot_id')!r}, "
                f"{first[0]} from host {first[1].get('host')!r} boot {first[1].get('boot_id')!r}: "
                "their clocks do not compare, so they cannot be judged together"
            )
        elif head.get("run") != first[1].get("run"):
            raise HistoryFileError(
                f"{path} is of {_run(head)}, {first[0]} of {_run(first[1])}: each ran on a "
                "database of its own, so they cannot be judged together (judge each alone)"
            )
        index = checker.header(head, path)
        cut = _feed(path, checker, lines, index << 32, complete)
        if cut is not None:
            warnings.append(f"{path}:{cut}: the last line is cut (a killed process?): dropped")
    return checker, warnings


def _feed(path: str, checker: Checker, lines: list[bytes], base: int, complete: bool) -> int | None:
    """Feed a file's lines after its header, ``CHUNK`` at a time (each chunk parsed in
    one C-level loop, then fed in one call). Returns the number of a cut last line
    (dropped), else None. HistoryFileError for the first line that cannot be read, as
    JSON or as a record, in the order of the file."""
    loads = orjson.loads
    last = len(lines)
    for start in range(1, last, CHUNK):  # lines[i] is line i + 1
        chunk = lines[start : start + CHUNK]
        try:
            records = list(map(loads, chunk))
        except orjson.JSONDecodeError:
            records = []
            for raw in chunk:
                try:
                    records.append(loads(raw))
                except orjson.JSONDecodeError:
                    break
        try:
            checker.feed_batch(records, base | (start + 1))
        except HistoryFormatError as exc:
            raise HistoryFileError(f"{path}:{exc.src & 0xFFFFFFFF}: {exc}") from None
        if len(records) < len(chunk):
            number = start + len(records) + 1
            if number == last and not complete:
                return number
            if not lines[number - 1].strip():
                raise HistoryFileError(f"{path}:{number}: an empty line")
            raise HistoryFileError(f"{path}:{number}: not JSON")
    return None


def _run(head: dict[str, Any]) -> str:
    run = head.get("run")
    return "no benchmark run" if run is None else f"run {run!r}"


def _parse(path: str, raw: bytes, number: int) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HistoryFileError(f"{path}:{number}: not JSON: not a cachetui history file") from None
