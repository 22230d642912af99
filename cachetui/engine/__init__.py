"""The cachetui engine: write policies over a cache store and a SQLite or PostgreSQL database.

No Textual here: the engine is a library for scripts, notebooks, the benchmark and tests.
It logs (what it cannot tell a caller: a bug) to the ``cachetui.engine`` logger, silent
unless the program configures logging.
"""

import logging

from cachetui.engine.config import EngineConfig, WritePolicy
from cachetui.engine.engine import Engine
from cachetui.engine.errors import (
    CacheTuiError,
    DatabaseFileLost,
    DatabaseUnavailable,
    EngineClosed,
    Interrupted,
    OutcomeUnknown,
    PendingWritesError,
    ProfileNotFound,
    StoreBusy,
    StoreUnavailable,
    ValidationError,
    WriteConflict,
    WriteRejected,
)
from cachetui.engine.events import Event, EventKind
from cachetui.engine.history import Checker, PolicyVerdict, Verdicts, Violation, calling, set_caller
from cachetui.engine.lab.operations import CrashReport
from cachetui.engine.lab.workload import Workload
from cachetui.engine.metrics.counters import MetricsSnapshot
from cachetui.engine.metrics.window import MetricsWindow, WindowStats
from cachetui.engine.pane_snapshot import PaneSnapshot
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter
from cachetui.engine.queue.write_queue import PendingWrite
from cachetui.engine.states import KeyState, key_state
from cachetui.engine.stores import CacheEntry

logging.getLogger("cachetui.engine").addHandler(logging.NullHandler())

__all__ = [
    "Checker",
    "calling",
    "set_caller",
    "CacheEntry",
    "CacheTuiError",
    "CrashReport",
    "DeadLetter",
    "DatabaseFileLost",
    "DatabaseUnavailable",
    "Engine",
    "EngineClosed",
    "EngineConfig",
    "Event",
    "EventKind",
    "Interrupted",
    "KeyState",
    "MetricsSnapshot",
    "MetricsWindow",
    "OutcomeUnknown",
    "PaneSnapshot",
    "PendingWrite",
    "PendingWritesError",
    "PolicyVerdict",
    "Verdicts",
    "Violation",
    "Profile",
    "ProfileNotFound",
    "StoreBusy",
    "StoreUnavailable",
    "ValidationError",
    "WindowStats",
    "Workload",
    "WriteConflict",
    "WritePolicy",
    "WriteRejected",
    "key_state",
]
