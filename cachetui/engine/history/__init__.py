"""Operation history and the consistency checker (docs/verdicts.md): the recorder the
engine feeds (always on), the history file, the checker and its verdicts."""

from cachetui.engine.history.callers import calling, current_caller, set_caller
from cachetui.engine.history.checker import Checker, HistoryFormatError
from cachetui.engine.history.live import PolicyVerdict, Verdicts
from cachetui.engine.history.reader import HistoryFileError, load
from cachetui.engine.history.verdicts import KINDS, Report, Violation

__all__ = [
    "KINDS",
    "Checker",
    "PolicyVerdict",
    "Verdicts",
    "HistoryFileError",
    "HistoryFormatError",
    "Report",
    "Violation",
    "calling",
    "current_caller",
    "load",
    "set_caller",
]
