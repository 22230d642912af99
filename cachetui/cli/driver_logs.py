"""Where the drivers' own log records go: ``cachetui.log`` in the data directory, never
the terminal. psycopg_pool logs a warning each time it fails to reconnect ("error
connecting in 'pool-1': connection failed: connection to server at …"); with no handler
configured, Python prints it raw on stderr, under the TUI or between a command's lines.
What the user must know of an outage reaches them as the engine's own one-line errors;
these records are kept (timestamped, passwords masked) for whoever looks into it."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

#: The log file's name, beside the default database.
LOG_NAME = "cachetui.log"
#: The drivers' loggers routed (their children too: ``psycopg.pool``).
DRIVER_LOGGERS = ("psycopg", "psycopg_pool")

_SECRETS = (
    (re.compile(r"(://[^:/@\s]*:)[^@\s]*@"), r"\1***@"),
    (re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)"), r"\1***"),
)


def log_path() -> Path:
    """``cachetui.log`` in the user's data directory, beside the default database."""
    from cachetui.cli.option_checks import default_db_path

    return Path(default_db_path()).with_name(LOG_NAME)


def masked(text: str) -> str:
    """``text`` with anything that looks like a password (in a URL, or ``password=…``)
    as ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class LogFileHandler(logging.Handler):
    """Appends each record as one line (control characters as spaces) to ``path`` (None:
    :func:`log_path` at that moment); a file it cannot write is given up on silently
    (never a traceback on the terminal)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(logging.WARNING)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(masked(record.getMessage()).split())
            stamp = datetime.now().isoformat(timespec="seconds")
            line = f"{stamp} {record.name} {record.levelname.lower()}: {text}\n"
            path = self.path or log_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8", errors="replace") as file:
                file.write(line)
        except Exception:  # noqa: BLE001, S110 - nowhere else to say it: the terminal is the UI's
            pass


def route_driver_logs(path: Path | None = None) -> None:
    """Send the drivers' records (WARNING and up) to ``path`` (default: :func:`log_path`)
    instead of stderr; once per process (a second call changes nothing)."""
    for name in DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        if any(isinstance(h, LogFileHandler) for h in logger.handlers):
            continue
        logger.addHandler(LogFileHandler(path))
        logger.propagate = False  # not to the root logger's lastResort (stderr)
