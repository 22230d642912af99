"""Each side of ``cachetui compare`` gets its own copy of the database, in a temporary
folder deleted on exit: the user's file is only read (SQLite's online backup, from a
read-only connection), never written. Over a PostgreSQL server each side gets a fresh
schema of its own instead (:class:`SchemaCopies`), dropped on exit."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from pathlib import Path

from cachetui.engine.database import run_schemas
from cachetui.engine.errors import ValidationError
from cachetui.engine.fleet.registry import forget_registrations


class DatabaseCopies:
    """``a`` and ``b``: two copies of ``source`` (or two empty files when ``source`` does
    not exist yet, both seeded alike when the engines start; or two private ``:memory:``
    databases). Each copy gets a new database id, so a durable queue of one side never
    names the other's or the user's database. :meth:`remove` deletes the folder."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.folder: Path | None = None
        if source == ":memory:":
            self.a = self.b = ":memory:"
            return
        self.folder = Path(tempfile.mkdtemp(prefix="cachetui-compare-"))
        name = Path(source).name or "profiles.db"
        paths = []
        for side in ("a", "b"):
            (self.folder / side).mkdir()
            paths.append(str(self.folder / side / name))
        self.a, self.b = paths
        if Path(source).exists():
            try:
                self._copy(source, self.a)
                shutil.copyfile(self.a, self.b)
            except sqlite3.Error as exc:
                self.remove()
                raise ValidationError(
                    f"--db {source}: cannot copy it: {exc}", field="db_path"
                ) from None

    @staticmethod
    def _copy(source: str, target: str) -> None:
        uri = f"{Path(source).resolve().as_uri()}?mode=ro"
        with sqlite3.connect(uri, uri=True) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        src.close()
        with sqlite3.connect(target) as db:
            has_meta = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cachetui_meta'"
            ).fetchone()
            if has_meta:  # a new id is drawn at the first open
                db.execute("DELETE FROM cachetui_meta WHERE key = 'database_id'")
        db.close()
        forget_registrations(target)  # the source's instances do not run on the copy

    def remove(self) -> None:
        """Delete the copies (and whatever the engines left beside them: outboxes, WAL)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class SchemaCopies:
    """``a`` and ``b``: the URLs of two fresh schemas in the PostgreSQL database at
    ``url`` (named and cleaned up as a benchmark's, see
    :mod:`cachetui.engine.database.run_schemas`), both seeded alike when the engines
    start; the user's own tables are not touched. DatabaseUnavailable (one line) if the
    server cannot make them; :meth:`remove` drops them."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout
        self.schemas: list[str] = []
        asyncio.run(self._create())
        self.a, self.b = (run_schemas.schema_url(url, s) for s in self.schemas)

    async def _create(self) -> None:
        await run_schemas.drop_leftovers(self.url, self.timeout)
        try:
            for _ in ("a", "b"):
                self.schemas.append(await run_schemas.create_schema(self.url, self.timeout))
        except BaseException:
            await run_schemas.drop_schemas(self.url, self.schemas, self.timeout)
            raise

    def remove(self) -> None:
        """Drop both schemas with all they hold (and their outbox files)."""
        schemas, self.schemas = self.schemas, []
        if schemas:
            asyncio.run(run_schemas.drop_schemas(self.url, schemas, self.timeout))
