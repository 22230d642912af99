"""How profiles are stored in Redis: the key namespace of a database, and the JSON of a
value (a value that is not a valid profile of its key's user decodes to None)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from typing import Any

from cachetui.engine.profile import Profile
from cachetui.engine.stores.base import CacheEntry

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


def namespace_for(db_path: str) -> str:
    """``<file stem>-<hash of the absolute path>``; a private one for ``:memory:``."""
    if db_path == ":memory:":
        return f"memory-{os.getpid()}-{secrets.token_hex(4)}"
    if "://" in db_path:  # a database server: its database's name and the (masked) URL
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", db_path.split("?", 1)[0].rsplit("/", 1)[-1])
        return f"{name[:40] or 'db'}-{hashlib.sha1(db_path.encode()).hexdigest()[:6]}"
    path = os.path.realpath(db_path)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.splitext(os.path.basename(path))[0])
    return f"{stem[:40] or 'db'}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


def encode(profile: Profile) -> str:
    return _dumps(profile.as_dict())


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode(raw: bytes | str, user_id: int) -> Profile | None:
    """The profile a value holds, or None if it is not a valid profile of this user
    (for example written by hand with redis-cli)."""
    try:
        d = _loads(raw)
        p = Profile(
            d["user_id"],
            d["name"],
            d["bio"],
            d["location"],
            d["followers"],
            d["version"],
            d["updated_at"],
            d.get("write_id"),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if (
        p.user_id != user_id
        or type(p.followers) is not int
        or type(p.version) is not int
        or type(p.name) is not str
        or type(p.bio) is not str
        or type(p.location) is not str
        or type(p.updated_at) is not str
        or (p.write_id is not None and type(p.write_id) is not str)
    ):
        return None
    return p


def youngest_entries(reply: list[Any]) -> tuple[list[CacheEntry], int, int]:
    """The ``YOUNGEST`` script's reply as (the entries, youngest first; how many entries
    have a store time; how many listed keys were gone: expired, or deleted behind the
    store's back)."""
    now_ms, kept = int(reply[0]), int(reply[1])
    out = []
    missing = 0
    for i in range(3, len(reply), 5):
        uid, at, hits, raw, ttl = reply[i : i + 5]
        if raw is None:
            missing += 1
            continue
        if not uid.isdigit() or (profile := decode(raw, int(uid))) is None:
            continue
        out.append(
            CacheEntry(
                profile=profile,
                hits=int(hits),
                age=max(0.0, (now_ms - float(at)) / 1000),
                ttl_left=ttl / 1000 if ttl >= 0 else None,
            )
        )
    return out, kept, missing


def fetched_entries(
    results: list[Any], ids: list[int], with_ttl: bool, chunk: int
) -> tuple[list[CacheEntry], int]:
    """A listing pipeline's results (TIME, MGETs of ``chunk`` keys, PTTLs if
    ``with_ttl``, HMGET of the uses, a ZSCORE per id, ZCARD) as (the entries in the order
    of ``ids``, how many ids the index holds). Keys gone since they were listed are left
    out."""
    seconds, micros = results[0]
    now_ms = seconds * 1000 + micros // 1000
    chunks = (len(ids) + chunk - 1) // chunk
    values = [v for part in results[1 : 1 + chunks] for v in part]
    ttls = results[1 + chunks : 1 + chunks + len(ids)] if with_ttl else [-1] * len(ids)
    hits, indexed = results[-2 - len(ids)], results[-1]
    stored = results[-1 - len(ids) : -1]
    out = []
    for uid, raw, ttl, hit, at in zip(ids, values, ttls, hits, stored, strict=True):
        if raw is None:
            continue  # expired or deleted since it was listed
        profile = decode(raw, uid)
        if profile is None:
            continue
        out.append(
            CacheEntry(
                profile=profile,
                hits=int(hit or 0),
                age=max(0.0, (now_ms - at) / 1000) if at else 0.0,
                ttl_left=ttl / 1000 if ttl >= 0 else None,
            )
        )
    return out, int(indexed)
