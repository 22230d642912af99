"""Which :class:`~cachetui.engine.database.base.Database` a configuration names."""

from __future__ import annotations

from cachetui.engine.database.base import Database
from cachetui.engine.database.sqlite import SQLiteDatabase
from cachetui.engine.lab.faults import Faults


def make_database(db_path: str, faults: Faults | None = None) -> Database:
    """The database at ``db_path``: a SQLite file, or ``:memory:``."""
    return SQLiteDatabase(db_path, faults)
