"""Key actions on the data: switch the policy, read, update, go to, edit, write behind the
cache's back, flush, crash; and the trace of the last operation they show.

:class:`Operations` is mixed into :class:`~cachetui.app.app.CacheTuiApp`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order, wait_settled
from cachetui.app.screens.dialogs import CrashReportScreen, GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.engine import (
    CacheTuiError,
    EventKind,
    Profile,
    StoreUnavailable,
    WriteConflict,
    WritePolicy,
    WriteRejected,
)
from cachetui.engine.engine import last_op_id
from cachetui.engine.lab.demo_data import random_changes

POLICY_KEYS = {
    "1": WritePolicy.WRITE_THROUGH,
    "2": WritePolicy.WRITE_BEHIND,
    "3": WritePolicy.WRITE_AROUND,
    "0": WritePolicy.NO_CACHE,
}
BURST = 100
#: The events that end an operation worth tracing (not an eviction, a fault switch…).
TRACED = frozenset(
    {
        EventKind.ACK,
        EventKind.HIT,
        EventKind.MISS,
        EventKind.DB_READ,
        EventKind.CACHE_FILL,
        EventKind.QUEUE_HIT,
        EventKind.FLUSH,
        EventKind.CRASH,
        EventKind.EXTERNAL,
        EventKind.INVALIDATE,
        EventKind.ERROR,
    }
)


class Operations(AppPart):
    # -- policies --------------------------------------------------------------------------
    @in_order
    async def action_policy(self, name: str) -> None:
        await self._switch_policy(WritePolicy.parse(name))

    @in_order
    async def action_cycle_policy(self) -> None:
        order = list(POLICY_KEYS.values())
        current = order.index(self.engine.policy)
        await self._switch_policy(order[(current + 1) % len(order)])

    async def _switch_policy(self, policy: WritePolicy) -> None:
        if policy is self.engine.policy:
            self.notify(f"already {policy}")
            return
        pending = len(self.engine.pending_writes())
        if pending:
            writes = "write" if pending == 1 else "writes"
            self.notify(f"Flushing {pending} pending {writes} before leaving write-behind…")
        try:
            await self.engine.set_policy(policy)
        except CacheTuiError as exc:
            self.notify(
                f"still {self.engine.policy}: {exc}", title="Cannot switch policy", severity="error"
            )
            return
        self.notify(f"policy: {policy}", timeout=2)
        await self.refresh_view()

    # -- reads and updates -----------------------------------------------------------------
    def _random_user(self) -> int:
        assert self.workload is not None
        return self.workload.keys.next()

    async def _cached(self) -> dict[int, Profile]:
        """What the cache holds now ({} while it is unavailable)."""
        try:
            return {e.profile.user_id: e.profile for e in await self.engine.cache_entries()}
        except StoreUnavailable:
            return {}

    async def _target_user(self) -> int:
        """The followed user if any; else a skewed random one. During a DB outage an
        update needs a cached user (its current profile cannot come from the DB)."""
        if self.followed is not None:
            return self.followed
        if self.engine.faults.db_down:
            cached = list(await self._cached())
            cached += [w.user_id for w in self.engine.pending_writes()]
            if cached:
                return self.rng.choice(sorted(set(cached)))
        return self._random_user()

    @in_order
    async def action_read(self, user: int | None = None) -> None:
        await self._read_user(user or await self._target_user())

    async def _read_user(self, user: int) -> None:
        """Read ``user`` and trace it: the trace shows the engine's own durations."""
        try:
            profile = await self.engine.read(user)
        except CacheTuiError as exc:
            self._trace(f"read user {user} failed")
            self.notify(str(exc), title=f"Read of user {user} failed", severity="error")
            return
        how = read_outcome(
            {e.kind for e in self.engine.trace(last_op_id.get())}, self.engine.policy
        )
        self._trace(f"read user {user} v{profile.version}: {how}")
        if how == "hit":  # served from the cache: say so when the database has moved on
            try:
                row = (await self.engine.db_rows([user])).get(user)
            except CacheTuiError:
                row = None
            if row is not None and row.version > profile.version:
                self._trace_title = (
                    f"read user {user} v{profile.version}: hit (stale: DB has v{row.version})"
                )
        await self.refresh_view()

    @in_order
    async def action_update(self, user: int | None = None) -> None:
        user = user or await self._target_user()
        changes = random_changes(self.rng)
        op = 0

        async def update() -> Profile:
            nonlocal op
            try:
                return await self.engine.update(user, changes)
            finally:
                op = last_op_id.get()  # set in this task by the engine

        # an update may wait for room in a full queue: the next key need not wait for it
        call = asyncio.create_task(update())
        await wait_settled(self.engine, [call])
        try:
            profile = call.result()
        except CacheTuiError as exc:
            title, message = update_failure(user, exc)
            self._trace(title[0].lower() + title[1:], op)
            self.notify(message, title=title, severity="error")
            return
        field = next(iter(changes))
        self._trace(f"update user {user} {field} → v{profile.version} ({self.engine.policy})", op)
        await self.refresh_view()

    @in_order
    async def action_read_burst(self) -> None:
        await self._burst("read")

    @in_order
    async def action_update_burst(self) -> None:
        await self._burst("update")

    async def _burst(self, kind: str) -> None:
        users = [self._random_user() for _ in range(BURST)]
        since = time.perf_counter()
        before = self.engine.metrics
        if kind == "read":
            calls = [self.engine.read(u) for u in users]
        else:
            calls = [self.engine.update(u, random_changes(self.rng)) for u in users]
        tasks = [asyncio.create_task(call) for call in calls]
        await wait_settled(self.engine, tasks)
        results = [t.exception() or t.result() for t in tasks]
        failed = [r for r in results if isinstance(r, BaseException)]
        after = self.engine.metrics
        if kind == "read" and self.engine.policy is WritePolicy.NO_CACHE:
            done = BURST - len(failed)
            message = f"{done} {'read' if done == 1 else 'reads'}, all from the database (no cache)"
        elif kind == "read":
            hits = after.hits - before.hits
            misses = BURST - hits - len(failed)
            message = (
                f"{BURST} reads: {hits} {'hit' if hits == 1 else 'hits'}, {misses} "
                f"{'miss' if misses == 1 else 'misses'}"
            )
            loaded = after.db_reads - before.db_reads
            if 0 <= loaded < misses:  # single flight: one DB read per user, the rest wait
                message += (
                    f" ({loaded} read the database; {misses - loaded} waited for a read of "
                    "the same user in flight)"
                )
        else:
            behind = self.engine.policy is WritePolicy.WRITE_BEHIND
            message = update_burst_summary(BURST, failed, after.pending if behind else None)
            failed = []  # said
        if failed:  # the failures beside what succeeded, then the first one's reason
            message += f", {len(failed)} failed (the first: {failed[0]})"
        self._trace_last(f"burst of {BURST} {kind}s: the last one", since)
        self.notify(message, severity="warning" if failed else "information")
        await self.refresh_view()

    # -- dialogs: go to, edit --------------------------------------------------------------
    def action_goto(self) -> None:
        def chosen(user: int | None) -> None:
            if user is not None:
                self.follow(user)
                # read once the dialog is off the screen: its closing is not the read's time
                self.call_after_refresh(self.action_read, user)

        self.push_screen(GotoScreen(max(1, self.total_rows)), chosen)

    def action_edit(self) -> None:
        def saved(profile: Profile | None) -> None:
            if profile is not None:
                self.follow(profile.user_id)
                # the save's own operation (a workload's may have finished since)
                self._trace_op = screen.op_id
                self._trace_title = f"edit user {profile.user_id} → v{profile.version}"
                self.notify(
                    f"user {profile.user_id} saved as v{profile.version} ({self.engine.policy})"
                )

        screen = EditScreen(self.engine, self.followed)
        self.push_screen(screen, saved)

    # -- behind the cache's back: external write, flush, crash ------------------------------
    @in_order
    async def action_external_write(self) -> None:
        user = self.followed
        if user is None:  # a cached user with nothing pending shows staleness best
            pending_users = {w.user_id for w in self.engine.pending_writes()}
            clean = sorted(set(await self._cached()) - pending_users)
            user = self.rng.choice(clean) if clean else self._random_user()
        changes = {"bio": f"Edited by another service at {time.strftime('%H:%M:%S')}"}
        try:
            profile = await self.engine.external_update(user, changes)
        except WriteRejected as exc:
            self.notify(
                f"{exc.reason} (nothing was written)",
                title=f"External write of user {user} rejected",
                severity="error",
            )
            return
        except CacheTuiError as exc:
            self.notify(str(exc), title="External write failed", severity="error")
            return
        self._trace(f"external write of user {user} → DB v{profile.version}")
        cached = await self._cached()
        queued = {w.user_id: w.version for w in self.engine.pending_writes()}
        if user in queued:
            if self.engine.config.conflict == "overwrite":
                fate = "replaces this row (--conflict overwrite: this change is lost)"
            else:
                fate = "is parked as a dead letter of kind conflict (d), not written over it"
            note = (
                f"the pending write-behind write v{queued[user]} was built on the older row: "
                f"when it is flushed it conflicts and {fate}"
            )
        elif user in cached:
            ttl = self.engine.config.ttl
            until = (
                f"until its TTL ({ttl:g}s) runs out or it is invalidated (i)"
                if ttl
                else "until invalidated (i; no TTL set)"
            )
            note = f"the cache still holds v{cached[user].version}: stale {until}"
            if self.engine.policy is WritePolicy.WRITE_BEHIND:
                note += "; a write-behind update built on it will conflict when flushed"
        else:
            note = "not cached, so the next read will see it"
        self.notify(
            f"user {user} is v{profile.version} in the database; {note}", title="External write"
        )
        self.follow(user)

    @in_order
    async def action_invalidate(self) -> None:
        """i: drop the followed user's cache entry; its next read misses and refills it
        from the database (a pending write-behind write stays queued)."""
        user = self.followed
        if user is None:
            self.notify(
                "follow a user first (g, or enter on a row): i drops its cache entry",
                title="Invalidate",
                severity="warning",
            )
            return
        cached = await self._cached()
        try:
            await self.engine.invalidate(user)
        except CacheTuiError as exc:
            self.notify(str(exc), title=f"Invalidate user {user} failed", severity="error")
            return
        self._trace(f"invalidate user {user}")
        if not self.engine.cache_available:
            note = "the cache is unreachable: the entry goes as soon as it answers again"
        elif user in cached:
            note = "its next read misses and loads the database's version"
        else:
            note = "it was not cached (nothing to drop)"
        if any(w.user_id == user for w in self.engine.pending_writes()):
            note += "; its pending write stays queued"
        self.notify(note, title=f"User {user} invalidated", timeout=4)
        await self.refresh_view()

    @in_order
    async def action_flush(self) -> None:
        pending = len(self.engine.pending_writes())
        if not pending:
            self.notify("nothing pending to flush")
            return
        before = self.engine.metrics
        parked_before = {(d.user_id, d.version) for d in self.engine.dead_letters()}
        try:
            await self.engine.flush(timeout=2)
        except CacheTuiError as exc:
            self.notify(str(exc), title="Flush failed", severity="error")
            return
        after = self.engine.metrics
        message = flush_summary(
            after.db_writes - before.db_writes,
            after.db_transactions - before.db_transactions,
            after.rejections - before.rejections,
        )
        parked = [
            d for d in self.engine.dead_letters() if (d.user_id, d.version) not in parked_before
        ]
        if parked:  # the others landed; these wait in the dead letters (d)
            named = ", ".join(f"user {d.user_id} v{d.version} ({d.kind})" for d in parked)
            message += f"; parked as dead letters (d): {named}"
        self.notify(message, severity="warning" if parked else "information")
        await self.refresh_view()

    @in_order
    async def action_crash(self) -> None:
        policy = self.engine.policy.value
        since = time.perf_counter()
        lost = await self.engine.crash()
        self._trace_last("crash", since)
        db = await self.engine.db_rows(user for user, _ in lost)
        still = await self.engine.cache_peek(user for user, _ in lost)
        await self.refresh_view()
        self.push_screen(
            CrashReportScreen(
                policy,
                lost,
                {u: p.version for u, p in db.items()},
                still_cached={u: p.version for u, p in still.items()},
                cache_survives=not self.engine.store.lost_on_crash,
                lost_updates=self.engine.last_crash.lost_updates,
                replayed=self.engine.last_crash.replayed,
                queue=self.engine.queue_location,
            )
        )

    # -- the trace pane's operation --------------------------------------------------------
    def _trace_last(self, title: str, since: float | None = None) -> None:
        """Trace the newest finished operation (one not started in this context:
        a dialog's save, the last call of a burst, a scenario's step), among those that
        happened after ``since`` (a ``time.perf_counter()``); none: the pane is cleared
        rather than showing an older operation under this title."""
        self._trace_op, self._trace_title = 0, ""
        for event in reversed(self.engine.recent_events(400)):
            if since is not None and event.at < since:
                return
            if event.kind in TRACED and event.op_id:
                self._trace_op = event.op_id
                self._trace_title = title
                return

    def _trace(self, title: str, op: int | None = None) -> None:
        """Trace ``op`` (default: the last operation this task started)."""
        self._trace_op = last_op_id.get() if op is None else op
        self._trace_title = title


def flush_summary(rows: int, transactions: int, refused: int) -> str:
    """What a flush wrote: ``flushed 5 writes in 3 transactions``, and the tries the
    database refused. A transaction counts only if it wrote a row (as the metrics strip's
    ``tx``): one that tried only a refused row is no transaction here, and a flush that
    landed nothing says so."""
    tries = f"the database refused {refused:,} {'try' if refused == 1 else 'tries'}"
    if not rows:
        return f"nothing landed: {tries}" if refused else "nothing landed"
    said = (
        f"flushed {rows:,} {'write' if rows == 1 else 'writes'} in {transactions:,} "
        f"{'transaction' if transactions == 1 else 'transactions'}"
    )
    return f"{said} ({tries})" if refused else said


def update_burst_summary(total: int, failed: Sequence[BaseException], pending: int | None) -> str:
    """What a burst of updates did: ``97 of 100 updates acknowledged, 3 failed (the first:
    …); 40 writes pending in the queue`` (``pending``: write-behind's queue, None under
    the other policies, which have none)."""
    if failed:
        said = (
            f"{total - len(failed)} of {total} updates acknowledged, {len(failed)} failed "
            f"(the first: {failed[0]})"
        )
    else:
        said = f"{total} {'update' if total == 1 else 'updates'} acknowledged"
    if pending is not None:
        said += f"; {pending:,} {'write' if pending == 1 else 'writes'} pending in the queue"
    return said


def update_failure(user: int, exc: CacheTuiError) -> tuple[str, str]:
    """The title and message that say why an update failed: the database refusing this
    one row (a rejection), another writer having changed it (a conflict), or anything
    else (the database down, a bad value) in the engine's words. Nothing was written."""
    if isinstance(exc, WriteConflict):
        now = "the row is gone" if exc.db_version is None else f"the row is at v{exc.db_version}"
        return (
            f"Update of user {user}: conflict",
            f"another writer changed the row while this update was applied, twice ({now}); "
            "nothing was written",
        )
    if isinstance(exc, WriteRejected):
        return f"Update of user {user} rejected", f"{exc.reason} (nothing was written)"
    return f"Update of user {user} failed", str(exc)


def read_outcome(kinds: set[EventKind], policy: WritePolicy) -> str:
    """How a read was served, from the kinds of its events: a hit, or a miss and where
    its value came from (no-cache has no cache to miss)."""
    if policy is WritePolicy.NO_CACHE:
        return "from the database (no cache)"
    if EventKind.HIT in kinds:
        return "hit"
    if EventKind.QUEUE_HIT in kinds:
        return "miss, served from the write queue"
    if EventKind.DB_READ not in kinds:
        return "miss, filled meanwhile by another read of this user"
    return "miss"
