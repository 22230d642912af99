"""The dead letters' public operations, part of the
:class:`~cachetui.engine.engine.Engine` facade: list, retry, discard."""

from __future__ import annotations

from cachetui.engine.core import EngineCore, perf_counter
from cachetui.engine.errors import PendingWritesError, ValidationError
from cachetui.engine.events import EventKind
from cachetui.engine.profile import validate_user_id
from cachetui.engine.queue.dead_letters import DeadLetter
from cachetui.engine.queue.flusher import Flusher


class DeadLetterOperations:
    _core: EngineCore
    _flusher: Flusher

    def _check_running(self) -> None:
        raise NotImplementedError  # the facade's

    async def _save_dead_letters_or_raise(self) -> None:
        """Closing must not drop dead letters the database has not saved yet (parked
        while it was down): PendingWritesError names them, and the engine stays open."""
        core = self._core
        error = await core.save_dead_letters()
        if error is None:
            return
        letters = core.dead_letters
        unsaved = len(letters.unsaved) + len(letters.undeleted)
        raise PendingWritesError(
            unsaved, f"dead letters not yet saved in the dead_letters table: {error}"
        ) from error

    def dead_letters(self) -> list[DeadLetter]:
        """The parked writes, oldest first: writes the database rejected
        ``max_attempts`` times (kind ``rejected``) and write-behind conflicts (kind
        ``conflict``). Parked writes are never dropped unless discarded."""
        return self._core.dead_letters.all()

    async def retry_dead_letters(self, user_id: int | None = None) -> list[int]:
        """Put dead letters back in the write queue with their original base version
        (all of them, or ``user_id``'s) and wake the flusher; returns the users
        re-queued. A user with a newer pending write keeps the dead letter (ValidationError
        when it was named); ValidationError if ``user_id`` has no dead letter."""
        self._check_running()
        core = self._core
        letters = core.dead_letters
        if user_id is not None:
            validate_user_id(user_id)
            if user_id not in letters:
                raise ValidationError(f"user {user_id} has no dead letter", field="user_id")
            if user_id in core.queue:
                raise ValidationError(
                    f"user {user_id} has a newer pending write: flush it before retrying "
                    "the dead letter",
                    field="user_id",
                )
            users = [user_id]
        else:
            users = [d.user_id for d in letters.all() if d.user_id not in core.queue]
        if core.durable and core.outbox is not None:
            # Back in a durable queue: journaled before it leaves the dead letters. An
            # append of unknown outcome is withdrawn by write id (the letter stays).
            rows = [(d.profile, d.base_version) for u in users if (d := letters.get(u)) is not None]
            try:
                await core.outbox.append_many(rows)
            except BaseException:
                for profile, _ in rows:
                    core.settle_soon(profile.user_id, profile, None)
                raise
        op = core.next_op()
        now = perf_counter()
        for uid in users:
            letter = letters.pop(uid)
            if letter is None:
                continue
            core.queue.put(letter.profile, now, base_version=letter.base_version)
            core.emit(
                op,
                EventKind.DEAD_LETTER,
                uid,
                letter.version,
                None,
                f"retried: back in the write queue (built on v{letter.base_version})",
            )
        await core.save_dead_letters()
        if users:
            self._flusher.request_flush()
        return users

    async def discard_dead_letter(self, user_id: int) -> DeadLetter:
        """Delete ``user_id``'s dead letter (its acknowledged updates are dropped, on
        request) and drop the cache entry, so reads see the database. Returns what was
        discarded; ValidationError if the user has none."""
        self._check_running()
        validate_user_id(user_id)
        core = self._core
        letter = core.dead_letters.pop(user_id)
        if letter is None:
            raise ValidationError(f"user {user_id} has no dead letter", field="user_id")
        core.c.discarded += 1
        if core.outbox is not None:  # an entry of it left by a retry, if any, goes too
            core.settle_soon(user_id, letter.profile, None)
        await core.cache.delete(user_id)
        await core.save_dead_letters()
        core.emit(
            core.next_op(),
            EventKind.DEAD_LETTER,
            user_id,
            letter.version,
            None,
            f"discarded on request ({letter.kind}); the cache entry is dropped",
        )
        return letter
