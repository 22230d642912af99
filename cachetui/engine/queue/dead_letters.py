"""Dead letters: acknowledged write-behind writes the database would not take, parked
instead of lost.

Two kinds: ``rejected`` (SQLite refused the row ``max_attempts`` times: a constraint, a
trigger's ``RAISE(ABORT)``, a type mismatch) and ``conflict`` (the row's version was no
longer the one the write was built on: another writer got there first). One dead letter
per user, kept in the ``dead_letters`` table of the same SQLite file (readable with
``sqlite3 FILE 'select * from dead_letters'``) and in memory while the database is down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from cachetui.engine.profile import Profile

DeadLetterKind = Literal["rejected", "conflict"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One parked write. ``version`` is the parked profile's version, ``base_version``
    the database version it was built on, ``db_version`` the database's version when it
    was parked (None: the row is gone). Times are UTC ISO 8601 strings."""

    kind: DeadLetterKind
    profile: Profile
    base_version: int
    db_version: int | None
    error: str
    attempts: int
    first_failed_at: str
    last_failed_at: str

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    @property
    def version(self) -> int:
        return self.profile.version

    @property
    def write_id(self) -> str | None:
        """The parked write's id (``instance:epoch:op``)."""
        return self.profile.write_id

    def as_row(
        self,
    ) -> tuple[int, str, int, int, int | None, str, str, int, str, str, str | None]:
        """The ``dead_letters`` table's columns, in order."""
        return (
            self.user_id,
            self.kind,
            self.version,
            self.base_version,
            self.db_version,
            json.dumps(self.profile.as_dict(), ensure_ascii=False),
            self.error,
            self.attempts,
            self.first_failed_at,
            self.last_failed_at,
            self.profile.write_id,
        )

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> DeadLetter:
        (_uid, kind, _version, base, db_version, profile, error, attempts, first, last) = row[:10]
        data = json.loads(str(profile))
        if len(row) > 10 and row[10] is not None:
            data["write_id"] = str(row[10])
        return cls(
            kind="conflict" if kind == "conflict" else "rejected",
            profile=Profile(**data),
            base_version=int(str(base)),
            db_version=None if db_version is None else int(str(db_version)),
            error=str(error),
            attempts=int(str(attempts)),
            first_failed_at=str(first),
            last_failed_at=str(last),
        )


class DeadLetters:
    """The parked writes by user, and which of them the database has not saved yet."""

    def __init__(self) -> None:
        #: The parked writes by user (read it, never change it: use the methods).
        self.by_user: dict[int, DeadLetter] = {}
        #: Users whose dead letter changed while the database could not save it.
        self.unsaved: set[int] = set()
        #: Users whose dead letter was removed while the database could not delete it.
        self.undeleted: set[int] = set()

    def __len__(self) -> int:
        return len(self.by_user)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.by_user

    def get(self, user_id: int) -> DeadLetter | None:
        return self.by_user.get(user_id)

    def rejected(self, user_id: int) -> DeadLetter | None:
        """The user's dead letter if the database rejected it (reads and updates build
        on it); None for no dead letter or a conflict (reads see the database)."""
        letter = self.by_user.get(user_id)
        return letter if letter is not None and letter.kind == "rejected" else None

    def put(self, letter: DeadLetter) -> None:
        self.by_user[letter.user_id] = letter
        self.unsaved.add(letter.user_id)
        self.undeleted.discard(letter.user_id)

    def pop(self, user_id: int) -> DeadLetter | None:
        letter = self.by_user.pop(user_id, None)
        if letter is not None:
            self.unsaved.discard(user_id)
            self.undeleted.add(user_id)
        return letter

    def drop_unsaved(self) -> list[DeadLetter]:
        """Forget the dead letters the database never saved, and the deletions it never
        made (a discarding close); the letters forgotten."""
        dropped = [self.by_user.pop(u) for u in sorted(self.unsaved) if u in self.by_user]
        self.unsaved.clear()
        self.undeleted.clear()
        return dropped

    def load(self, letters: list[DeadLetter]) -> None:
        """What the table held at start."""
        self.by_user = {letter.user_id: letter for letter in letters}
        self.unsaved.clear()
        self.undeleted.clear()

    def all(self) -> list[DeadLetter]:
        return sorted(self.by_user.values(), key=lambda d: (d.first_failed_at, d.user_id))
