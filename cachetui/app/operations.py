"""Key actions on the data: switch the policy, read, update, go to, edit, write behind the
cache's back, flush, crash; and the trace of the last operation they show.

:class:`Operations` is the dashboard's collaborator for them: the app's actions for these
keys call it (each after the keys typed before, see :mod:`~cachetui.app.key_order`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from cachetui.app.dashboard import Dashboard
from cachetui.app.key_order import wait_settled
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
from cachetui.engine.words import plural

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


class Operations:
    """The operations on ``dashboard``'s data, each traced in the trace pane."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        self._engine = dashboard.engine

    # -- policies --------------------------------------------------------------------------
    async def cycle_policy(self) -> None:
        """p: the next policy in the order of the keys 1 2 3 0."""
        order = list(POLICY_KEYS.values())
        current = order.index(self._engine.policy)
        await self.switch_policy(order[(current + 1) % len(order)])

    async def switch_policy(self, policy: WritePolicy) -> None:
        """1 2 3 0: write-through, write-behind, write-around, no cache (leaving
        write-behind flushes first)."""
        if policy is self._engine.policy:
            self._dashboard.notify(f"already {policy}")
            return
        pending = len(self._engine.pending_writes())
        if pending:
            writes = plural(pending, "write")
            self._dashboard.notify(
                f"Flushing {pending} pending {writes} before leaving write-behind…"
            )
        try:
            await self._engine.set_policy(policy)
        except CacheTuiError as exc:
            self._dashboard.notify(
                f"still {self._engine.policy}: {exc}",
                title="Cannot switch policy",
                severity="error",
            )
            return
        self._dashboard.notify(f"policy: {policy}", timeout=2)
        await self._dashboard.refresh_view()

    # -- reads and updates -----------------------------------------------------------------
    def _random_user(self) -> int:
        assert self._dashboard.workload is not None
        return self._dashboard.workload.keys.next()

    async def _cached(self) -> dict[int, Profile]:
        """What the cache holds now ({} while it is unavailable)."""
        try:
            return {e.profile.user_id: e.profile for e in await self._engine.cache_entries()}
        except StoreUnavailable:
            return {}

    async def _target_user(self) -> int:
        """The followed user if any; else a skewed random one. During a DB outage an
        update needs a cached user (its current profile cannot come from the DB)."""
        if self._dashboard.followed is not None:
            return self._dashboard.followed
        if self._engine.faults.db_down:
            cached = list(await self._cached())
            cached += [w.user_id for w in self._engine.pending_writes()]
            if cached:
                return self._dashboard.rng.choice(sorted(set(cached)))
        return self._random_user()

    async def read(self, user: int | None = None) -> None:
        """r: read ``user`` (default: the followed one, else a random one) and trace it:
        the trace shows the engine's own durations."""
        user = user or await self._target_user()
        try:
            profile = await self._engine.read(user)
        except CacheTuiError as exc:
            self.trace(f"read user {user} failed")
            self._dashboard.notify(str(exc), title=f"Read of user {user} failed", severity="error")
            return
        op = last_op_id.get()  # set in this task by the engine
        how = read_outcome({e.kind for e in self._engine.trace(op)}, self._engine.policy)
        self.trace(f"read user {user} v{profile.version}: {how}", op)
        if how == "hit":  # served from the cache: say so when the database has moved on
            try:
                row = (await self._engine.db_rows([user])).get(user)
            except CacheTuiError:
                row = None
            if row is not None and row.version > profile.version:
                self.trace(
                    f"read user {user} v{profile.version}: hit (stale: DB has v{row.version})", op
                )
        await self._dashboard.refresh_view()

    async def update(self, user: int | None = None) -> None:
        """u: update ``user`` (default: the followed one, else a random one) with a random
        change; an update waiting for room in a full queue lets the next key run."""
        user = user or await self._target_user()
        changes = random_changes(self._dashboard.rng)
        op = 0

        async def update() -> Profile:
            nonlocal op
            try:
                return await self._engine.update(user, changes)
            finally:
                op = last_op_id.get()  # set in this task by the engine

        # an update may wait for room in a full queue: the next key need not wait for it
        call = asyncio.create_task(update())
        await wait_settled(self._engine, [call])
        try:
            profile = call.result()
        except CacheTuiError as exc:
            title, message = update_failure(user, exc)
            self.trace(title[0].lower() + title[1:], op)
            self._dashboard.notify(message, title=title, severity="error")
            return
        field = next(iter(changes))
        self.trace(f"update user {user} {field} → v{profile.version} ({self._engine.policy})", op)
        await self._dashboard.refresh_view()

    async def burst(self, kind: str) -> None:
        """R and U: 100 reads or updates of random users at once."""
        users = [self._random_user() for _ in range(BURST)]
        since = time.perf_counter()
        before = self._engine.metrics
        if kind == "read":
            calls = [self._engine.read(u) for u in users]
        else:
            calls = [self._engine.update(u, random_changes(self._dashboard.rng)) for u in users]
        tasks = [asyncio.create_task(call) for call in calls]
        await wait_settled(self._engine, tasks)
        results = [t.exception() or t.result() for t in tasks]
        failed = [r for r in results if isinstance(r, BaseException)]
        after = self._engine.metrics
        if kind == "read" and self._engine.policy is WritePolicy.NO_CACHE:
            done = BURST - len(failed)
            message = f"{done} {plural(done, 'read')}, all from the database (no cache)"
        elif kind == "read":
            hits = after.hits - before.hits
            misses = BURST - hits - len(failed)
            message = (
                f"{BURST} reads: {hits} {plural(hits, 'hit')}, {misses} "
                f"{plural(misses, 'miss', 'misses')}"
            )
            loaded = after.db_reads - before.db_reads
            if 0 <= loaded < misses:  # single flight: one DB read per user, the rest wait
                message += (
                    f" ({loaded} read the database; {misses - loaded} waited for a read of "
                    "the same user in flight)"
                )
        else:
            behind = self._engine.policy is WritePolicy.WRITE_BEHIND
            message = update_burst_summary(BURST, failed, after.pending if behind else None)
            failed = []  # said
        if failed:  # the failures beside what succeeded, then the first one's reason
            message += f", {len(failed)} failed (the first: {failed[0]})"
        self.trace_last(f"burst of {BURST} {kind}s: the last one", since)
        self._dashboard.notify(message, severity="warning" if failed else "information")
        await self._dashboard.refresh_view()

    # -- dialogs: go to, edit --------------------------------------------------------------
    def goto(self, read: Callable[[int], None]) -> None:
        """g: the go-to dialog; the user chosen is followed, then ``read`` (once the
        dialog is off the screen: its closing is not the read's time)."""
        dashboard = self._dashboard

        def chosen(user: int | None) -> None:
            if user is not None:
                dashboard.follow(user)
                dashboard.call_after_refresh(lambda: read(user))

        dashboard.push_screen(GotoScreen(max(1, dashboard.total_rows)), chosen)

    def edit(self) -> None:
        """e: the edit dialog for the followed user (or one to choose)."""

        def saved(profile: Profile | None) -> None:
            if profile is not None:
                self._dashboard.follow(profile.user_id)
                # the save's own operation (a workload's may have finished since)
                self.trace(f"edit user {profile.user_id} → v{profile.version}", screen.op_id)
                self._dashboard.notify(
                    f"user {profile.user_id} saved as v{profile.version} ({self._engine.policy})"
                )

        screen = EditScreen(self._engine, self._dashboard.followed)
        self._dashboard.push_screen(screen, saved)

    # -- behind the cache's back: external write, flush, crash ------------------------------
    async def external_write(self) -> None:
        """x: another service writes the followed user's row (else a cached one's)
        behind the cache's back."""
        user = self._dashboard.followed
        if user is None:  # a cached user with nothing pending shows staleness best
            pending_users = {w.user_id for w in self._engine.pending_writes()}
            clean = sorted(set(await self._cached()) - pending_users)
            user = self._dashboard.rng.choice(clean) if clean else self._random_user()
        changes = {"bio": f"Edited by another service at {time.strftime('%H:%M:%S')}"}
        try:
            profile = await self._engine.external_update(user, changes)
        except WriteRejected as exc:
            self._dashboard.notify(
                f"{exc.reason} (nothing was written)",
                title=f"External write of user {user} rejected",
                severity="error",
            )
            return
        except CacheTuiError as exc:
            self._dashboard.notify(str(exc), title="External write failed", severity="error")
            return
        self.trace(f"external write of user {user} → DB v{profile.version}")
        cached = await self._cached()
        queued = {w.user_id: w.version for w in self._engine.pending_writes()}
        if user in queued:
            if self._engine.config.conflict == "overwrite":
                fate = "replaces this row (--conflict overwrite: this change is lost)"
            else:
                fate = "is parked as a dead letter of kind conflict (d), not written over it"
            note = (
                f"the pending write-behind write v{queued[user]} was built on the older row: "
                f"when it is flushed it conflicts and {fate}"
            )
        elif user in cached:
            ttl = self._engine.config.ttl
            until = (
                f"until its TTL ({ttl:g}s) runs out or it is invalidated (i)"
                if ttl
                else "until invalidated (i; no TTL set)"
            )
            note = f"the cache still holds v{cached[user].version}: stale {until}"
            if self._engine.policy is WritePolicy.WRITE_BEHIND:
                note += "; a write-behind update built on it will conflict when flushed"
        else:
            note = "not cached, so the next read will see it"
        self._dashboard.notify(
            f"user {user} is v{profile.version} in the database; {note}", title="External write"
        )
        self._dashboard.follow(user)

    async def invalidate(self) -> None:
        """i: drop the followed user's cache entry; its next read misses and refills it
        from the database (a pending write-behind write stays queued)."""
        user = self._dashboard.followed
        if user is None:
            self._dashboard.notify(
                "follow a user first (g, or enter on a row): i drops its cache entry",
                title="Invalidate",
                severity="warning",
            )
            return
        cached = await self._cached()
        try:
            await self._engine.invalidate(user)
        except CacheTuiError as exc:
            self._dashboard.notify(
                str(exc), title=f"Invalidate user {user} failed", severity="error"
            )
            return
        self.trace(f"invalidate user {user}")
        if not self._engine.cache_available:
            note = "the cache is unreachable: the entry goes as soon as it answers again"
        elif user in cached:
            note = "its next read misses and loads the database's version"
        else:
            note = "it was not cached (nothing to drop)"
        if any(w.user_id == user for w in self._engine.pending_writes()):
            note += "; its pending write stays queued"
        self._dashboard.notify(note, title=f"User {user} invalidated", timeout=4)
        await self._dashboard.refresh_view()

    async def flush(self) -> None:
        """f: flush the write-behind queue now."""
        pending = len(self._engine.pending_writes())
        if not pending:
            self._dashboard.notify("nothing pending to flush")
            return
        before = self._engine.metrics
        parked_before = {(d.user_id, d.version) for d in self._engine.dead_letters()}
        try:
            await self._engine.flush(timeout=2)
        except CacheTuiError as exc:
            self._dashboard.notify(str(exc), title="Flush failed", severity="error")
            return
        after = self._engine.metrics
        message = flush_summary(
            after.db_writes - before.db_writes,
            after.db_transactions - before.db_transactions,
            after.rejections - before.rejections,
        )
        parked = [
            d for d in self._engine.dead_letters() if (d.user_id, d.version) not in parked_before
        ]
        if parked:  # the others landed; these wait in the dead letters (d)
            named = ", ".join(f"user {d.user_id} v{d.version} ({d.kind})" for d in parked)
            message += f"; parked as dead letters (d): {named}"
        self._dashboard.notify(message, severity="warning" if parked else "information")
        await self._dashboard.refresh_view()

    async def crash(self) -> None:
        """c: the process crashes: what it loses (a memory queue's acknowledged writes)."""
        policy = self._engine.policy.value
        since = time.perf_counter()
        lost = await self._engine.crash()
        self.trace_last("crash", since)
        db = await self._engine.db_rows(user for user, _ in lost)
        still = await self._engine.cache_peek(user for user, _ in lost)
        await self._dashboard.refresh_view()
        self._dashboard.push_screen(
            CrashReportScreen(
                policy,
                lost,
                {u: p.version for u, p in db.items()},
                still_cached={u: p.version for u, p in still.items()},
                cache_survives=not self._engine.store.lost_on_crash,
                lost_updates=self._engine.last_crash.lost_updates,
                replayed=self._engine.last_crash.replayed,
                queue=self._engine.queue_location,
            )
        )

    # -- the trace pane's operation --------------------------------------------------------
    def trace_last(self, title: str, since: float | None = None) -> None:
        """Trace the newest finished operation (one not started in this context:
        a dialog's save, the last call of a burst, a scenario's step), among those that
        happened after ``since`` (a ``time.perf_counter()``); none: the pane is cleared
        rather than showing an older operation under this title."""
        self._dashboard.show_trace(0, "")
        for event in reversed(self._engine.recent_events(400)):
            if since is not None and event.at < since:
                return
            if event.kind in TRACED and event.op_id:
                self._dashboard.show_trace(event.op_id, title)
                return

    def trace(self, title: str, op: int | None = None) -> None:
        """Trace ``op`` (default: the last operation this task started)."""
        self._dashboard.show_trace(last_op_id.get() if op is None else op, title)


def flush_summary(rows: int, transactions: int, refused: int) -> str:
    """What a flush wrote: ``flushed 5 writes in 3 transactions``, and the tries the
    database refused. A transaction counts only if it wrote a row (as the metrics strip's
    ``tx``): one that tried only a refused row is no transaction here, and a flush that
    landed nothing says so."""
    tries = f"the database refused {refused:,} {plural(refused, 'try', 'tries')}"
    if not rows:
        return f"nothing landed: {tries}" if refused else "nothing landed"
    said = (
        f"flushed {rows:,} {plural(rows, 'write')} in {transactions:,} "
        f"{plural(transactions, 'transaction')}"
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
        said = f"{total} {plural(total, 'update')} acknowledged"
    if pending is not None:
        said += f"; {pending:,} {plural(pending, 'write')} pending in the queue"
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
