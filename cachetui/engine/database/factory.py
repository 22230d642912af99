"""Which :class:`~cachetui.engine.database.base.Database` a configuration names."""

from __future__ import annotations

from cachetui.engine.config import EngineConfig
from cachetui.engine.database.base import Database
from cachetui.engine.database.sqlite import SQLiteDatabase
from cachetui.engine.lab.faults import Faults


def make_database(
    config: EngineConfig, faults: Faults | None = None, url: str | None = None
) -> Database:
    """The database ``config`` names: a PostgreSQL server (``db_url``, reached at
    ``url`` if given: a link's relay in front of it), else the SQLite file at
    ``db_path`` (or ``:memory:``)."""
    if config.db_url is not None:
        from cachetui.engine.database.postgres import PostgresDatabase  # imports psycopg

        database = PostgresDatabase(
            url or config.db_url, faults, pool=config.db_pool, timeout=config.db_timeout
        )
        database.path = config.db_path  # the server's URL (masked), not the relay's
        database.server_url = config.db_url
        return database
    return SQLiteDatabase(config.db_path, faults)
