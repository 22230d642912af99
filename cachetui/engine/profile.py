"""The profile record and the validation of updates to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeGuard

from cachetui.engine.errors import ValidationError

#: Fields an update may change, with their limits (README.md, "The engine API").
TEXT_LIMITS: dict[str, tuple[int, int]] = {
    "name": (1, 64),
    "bio": (0, 280),
    "location": (0, 64),
}
UPDATABLE_FIELDS: tuple[str, ...] = ("name", "bio", "location", "followers")
#: The largest integer the databases store (a signed 64-bit INTEGER / BIGINT): the limit
#: of user ids and followers, refused above it before anything is queued.
MAX_INTEGER = 2**63 - 1


class Profile(NamedTuple):
    """One row of the ``profiles`` table, as the cache, the queue and the DB hold it.

    Immutable. A named tuple rather than a frozen dataclass: building one costs a
    third as much, and the engine builds one per update and per database row.
    """

    user_id: int
    name: str
    bio: str
    location: str
    followers: int
    version: int
    updated_at: str
    #: Which acknowledged write this is (``instance:epoch:op``, unique across instances
    #: and restarts: see :func:`write_id_prefix`); None for a row another program wrote
    #: (or seeded): a database trigger clears it on every write that is not cachetui's.
    write_id: str | None = None

    def as_row(self) -> tuple[int, str, str, str, int, int, str, str | None]:
        return tuple.__new__(tuple, self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "bio": self.bio,
            "location": self.location,
            "followers": self.followers,
            "version": self.version,
            "updated_at": self.updated_at,
            "write_id": self.write_id,
        }

    def apply(self, changes: dict[str, Any], updated_at: str, write_id: str | None) -> Profile:
        """The next version of this profile with ``changes`` (already validated), as
        the write ``write_id``."""
        user_id, name, bio, location, followers, version, _, _ = self
        get = changes.get
        return _new_tuple(
            Profile,
            (
                user_id,
                get("name", name),
                get("bio", bio),
                get("location", location),
                get("followers", followers),
                version + 1,
                updated_at,
                write_id,
            ),
        )


_new_tuple = tuple.__new__


def write_id_prefix(instance: str, epoch: int) -> str:
    """The start of the write ids of ``instance`` in ``epoch``: a write's id is this
    prefix and the op id of the update that made it (``"3f9a1c2b7d4e:0:"`` + ``"17"``).
    ``instance`` is random per engine (so ids are unique across instances and
    restarts); the epoch grows at each crash and rewind (op ids never repeat within an
    instance, so the epoch is there for readers: which era of the lab a write is of)."""
    return f"{instance}:{epoch}:"


def validate_changes(changes: object) -> dict[str, Any]:
    """Check an update's fields and return them as a new dict, or raise ValidationError."""
    if valid_as_is(changes):
        return changes.copy()
    return _validate_fully(changes)


def valid_as_is(changes: object) -> TypeGuard[dict[str, Any]]:
    """Whether ``changes`` is a valid update as it is, checked in one pass: a plain dict
    of known fields, each value of the exact type and within its limits (ASCII text
    without NUL). False for anything else, valid or not (:func:`validate_changes` then
    takes the full check, which says what is wrong)."""
    if type(changes) is not dict or not changes:
        return False
    for field, value in changes.items():
        if type(value) is str:
            limits = TEXT_LIMITS.get(field)
            if (
                limits is None
                or not limits[0] <= len(value) <= limits[1]
                or not value.isascii()
                or "\x00" in value
            ):
                return False
        elif type(value) is not int or field != "followers" or not 0 <= value <= MAX_INTEGER:
            return False
    return True


def _validate_fully(changes: object) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise ValidationError(f"an update must be a dict of fields, got {type(changes).__name__}")
    if not changes:
        raise ValidationError(
            "an update must change at least one field: " + ", ".join(UPDATABLE_FIELDS)
        )
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in UPDATABLE_FIELDS:
            raise ValidationError(
                f"unknown field {field!r}: an update may change only "
                + ", ".join(UPDATABLE_FIELDS),
                field=str(field),
            )
        if field == "followers":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(
                    f"followers must be an integer, got {type(value).__name__}",
                    field=field,
                )
            if value < 0:
                raise ValidationError(f"followers must be >= 0, got {value}", field=field)
            if value > MAX_INTEGER:
                raise ValidationError(
                    f"followers must be <= {MAX_INTEGER:,} (the largest the database "
                    f"stores), got {value:,}",
                    field=field,
                )
        else:
            if not isinstance(value, str):
                raise ValidationError(
                    f"{field} must be text, got {type(value).__name__}", field=field
                )
            low, high = TEXT_LIMITS[field]
            if not low <= len(value) <= high:
                raise ValidationError(
                    f"{field} must be {low}–{high} characters, got {len(value)}",
                    field=field,
                )
            if "\x00" in value:
                raise ValidationError(
                    f"{field} must not contain a NUL character (U+0000) at character "
                    f"{value.index(chr(0)) + 1}: PostgreSQL text cannot hold one",
                    field=field,
                )
            if not value.isascii():
                check_storable_text(field, value)
        clean[field] = value
    return clean


def check_storable_text(field: str, value: str) -> None:
    """ValidationError unless ``value`` can be stored as UTF-8 text (a lone surrogate,
    such as ``"\\ud800"``, cannot: neither SQLite nor Redis would take it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{field} must be text a database can store: it holds a lone surrogate "
            f"(U+{ord(value[exc.start]):04X}) at character {exc.start + 1}",
            field=field,
        ) from None


def validate_user_id(user_id: object) -> int:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise ValidationError(
            f"user id must be an integer, got {type(user_id).__name__}", field="user_id"
        )
    if user_id < 1:
        raise ValidationError(f"user id must be >= 1, got {user_id}", field="user_id")
    if user_id > MAX_INTEGER:
        raise ValidationError(
            f"user id must be <= {MAX_INTEGER:,} (the largest the database stores), "
            f"got {user_id:,}",
            field="user_id",
        )
    return user_id


_last_stamp: tuple[int, str] = (-1, "")
_last_second: tuple[int, str] = (-1, "")


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds, the ``updated_at`` format (memoized per
    millisecond: updates arrive far faster than the clock ticks)."""
    millis = int(epoch_seconds * 1000)
    if millis == _last_stamp[0]:
        return _last_stamp[1]
    return _new_stamp(millis)


def _new_stamp(millis: int) -> str:
    """The timestamp of a new millisecond: the date and time up to the second are
    formatted once per second (``strftime`` costs ten times the rest)."""
    global _last_stamp, _last_second
    second, rest = divmod(millis, 1000)
    if second != _last_second[0]:
        moment = datetime.fromtimestamp(second, tz=UTC)
        _last_second = (second, moment.strftime("%Y-%m-%dT%H:%M:%S."))
    text = f"{_last_second[1]}{rest:03d}Z"
    _last_stamp = (millis, text)
    return text
