"""The history's last word on each user: a final record at close."""

from __future__ import annotations

import contextlib

from cachetui.engine.core import EngineCore
from cachetui.engine.errors import DatabaseUnavailable
from cachetui.engine.profile import Profile


async def close_history(core: EngineCore, *, read_database: bool = True) -> None:
    """At close: a final record per user the history named (the database row, the
    writes pending and parked, the cache entry), then stop recording. Not
    ``read_database`` (a close that gave up on it): the rows are unknown."""
    history = core.history
    history.drain()
    users = sorted(history.users)
    pending: dict[int, list[str | None]] = {}
    if core.outbox is not None and not core.queue:  # kept in the durable queue
        with contextlib.suppress(DatabaseUnavailable):
            for profile, _ in await core.outbox.mine():
                pending.setdefault(profile.user_id, []).append(profile.write_id)
    for uid in core.queue.user_ids():
        if (queued := core.queue.get(uid)) is not None:
            pending.setdefault(uid, []).append(queued.write_id)
    rows: dict[int, Profile] | None = None
    if read_database:
        with contextlib.suppress(Exception):  # unknown rows are judged as such
            rows = await core.db.fetch_many(users) if users else {}
    cached = await core.cache.peek_many(users)
    for uid in users:
        letter = core.dead_letters.get(uid)
        parked = None if letter is None else letter.profile.write_id
        db = None if rows is None else rows.get(uid)
        history.final(uid, db, pending.get(uid, ()), parked, cached.get(uid), core.policy)
    await history.stop()
