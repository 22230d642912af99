"""What is wrong with a database path, in words a user can act on.

SQLite itself says "unable to open database file" for a folder, a missing folder and a
folder it may not write, and "file is not a database" without naming the file; the
command lines and :class:`~cachetui.engine.database.sqlite.SQLiteDatabase` ask
:func:`database_path_problem` instead, and name the path the user gave.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def database_path_problem(path: str, *, writable: bool = True) -> str | None:
    """Why ``path`` cannot be cachetui's SQLite database, as a phrase that follows the
    path ("is a folder, not a file"); None when nothing visible is wrong (SQLite may
    still refuse the file; a file of another program is refused when it is opened).

    ``writable``: the engine will write (the file, or a new one, and the journal beside
    it); False for a file that is only read (``cachetui bench`` copies it), which must
    then exist. ``:memory:`` is always fine. Never creates or changes anything."""
    if path == ":memory:":
        return None
    given = Path(path)
    if given.is_dir():
        return f"is a folder, not a file (name a file in it, such as {given / 'profiles.db'})"
    folder = Path(os.path.realpath(given)).parent
    if not given.exists():
        if not writable:
            return "no such file"
        if not folder.is_dir():
            return f"folder {folder} does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot create it: you may not write to the folder {folder}"
        return None
    if not given.is_file():
        return "is not a regular file"
    if not os.access(given, os.R_OK):
        return "you may not read this file (permission denied)"
    if writable and not os.access(given, os.W_OK):
        return "the file is read-only for you, and cachetui writes to its database"
    if writable and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"you may not write to its folder {folder}, where SQLite keeps the file's "
            "journal (-wal, -shm)"
        )
    try:
        with given.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"cannot be read: {(exc.strerror or str(exc)).lower()}"
    if header and header != SQLITE_HEADER:
        return "is not a SQLite database (its first bytes are not SQLite's header)"
    return None
