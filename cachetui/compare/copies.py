"""Each side of ``cachetui compare`` gets its own copy of the database, in a temporary
folder deleted on exit: the user's file is only read (SQLite's online backup, from a
read-only connection), never written."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from cachetui.engine.errors import ValidationError


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

    def remove(self) -> None:
        """Delete the copies (and whatever the engines left beside them: outboxes, WAL)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
