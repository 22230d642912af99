"""The fleet queue's entries: what one stream entry holds, format version 1.

An entry (the sequencer writes it, :data:`~cachetui.engine.fleet.scripts.SEQUENCE`):

==========  ==================================================================
``f``       the entry format, ``1``; an entry of another format is parked (moved to
            the ``…:parked`` stream), never guessed at
``u``       the user
``v``       the version the sequencer assigned
``b``       the version it was built on (``v - 1``)
``o``       the owner that acknowledged it (``host/pid:start:n``)
``w``       the write id
``c``       the caller's changes (JSON)
``r.*``     the row after the write (``r.name``, ``r.followers``, …): what lands
==========  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cachetui.engine.profile import Profile

#: The entry format this version of cachetui writes and reads.
FORMAT = 1

#: A stream entry as redis-py returns it: its id and its fields, as bytes.
RawEntry = tuple[bytes, dict[bytes, bytes]]


class UnknownEntry(ValueError):
    """An entry this version cannot read (another format, or a field missing)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One sequenced write in a partition's stream."""

    entry_id: bytes
    profile: Profile
    base_version: int
    owner: str


def row_pairs(profile: Profile) -> list[str | int]:
    """The row as field/value pairs for a head hash (write id '' for none)."""
    pairs: list[str | int] = []
    for name, value in profile.as_dict().items():
        pairs += [name, "" if value is None else value]
    return pairs


def change_pairs(changes: dict[str, Any]) -> list[str | int]:
    pairs: list[str | int] = []
    for name, value in changes.items():
        pairs += [name, value]
    return pairs


def profile_of(fields: dict[bytes, bytes], prefix: bytes = b"") -> Profile:
    """The row held by these hash (or entry ``r.*``) fields."""

    def text(name: str) -> str:
        return fields[prefix + name.encode()].decode()

    write_id = text("write_id")
    return Profile(
        user_id=int(text("user_id")),
        name=text("name"),
        bio=text("bio"),
        location=text("location"),
        followers=int(text("followers")),
        version=int(text("version")),
        updated_at=text("updated_at"),
        write_id=write_id or None,
    )


def pairs_to_dict(pairs: list[bytes]) -> dict[bytes, bytes]:
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}


def decode(raw: RawEntry) -> Entry:
    """The entry, or UnknownEntry (another format, a field missing or malformed)."""
    entry_id, fields = raw
    fmt = fields.get(b"f", b"").decode(errors="replace")
    if fmt != str(FORMAT):
        raise UnknownEntry(f"entry format {fmt or 'missing'!r}, this version reads {FORMAT}")
    try:
        profile = profile_of(fields, b"r.")
        return Entry(entry_id, profile, int(fields[b"b"]), fields[b"o"].decode())
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise UnknownEntry(f"a format {FORMAT} entry without a readable {exc}") from None
