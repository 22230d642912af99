"""Dead letters and rejected writes in the dashboard: ``d`` opens the dead-letters view,
``P`` makes the database reject the followed user's writes (a real trigger) and accept
them again; and, at start, what the engine found: lab triggers left over by a killed run,
dead letters parked by an earlier one.

:class:`DeadLetterKeys` is one of the dashboard's knobs (the app's actions for ``d`` and
``P`` call it); it owns the users whose writes ``P`` made the database reject.
"""

from __future__ import annotations

from collections.abc import Sequence

from cachetui.app.dashboard import Dashboard
from cachetui.app.screens.dead_letters import DeadLettersScreen
from cachetui.engine import CacheTuiError, Event
from cachetui.engine.words import plural


class DeadLetterKeys:
    """Dead letters and rejected writes of ``dashboard``'s engine."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        #: Users whose writes the database rejects because P said so.
        self.rejected_writes: set[int] = set()

    def rejecting_users(self) -> list[int]:
        """The users whose writes a lab trigger rejects: set with P, or by the running
        scenario (it accepts them again when it steps back or ends)."""
        users = set(self.rejected_writes)
        run = self._dashboard.scenario_run
        if run is not None and run.active:
            users |= run.rejecting
        return sorted(users)

    # -- d -------------------------------------------------------------------------------
    def open(self, then: str = "") -> None:
        """d: open the dead-letters view; ``then``: one of its actions to run at once (the
        palette's "retry every dead letter" is ``retry_all``)."""
        dashboard = self._dashboard
        if isinstance(dashboard.screen, DeadLettersScreen):
            return

        def closed(_: None) -> None:
            dashboard.show_status()
            dashboard.call_later(dashboard.refresh_view)

        screen = DeadLettersScreen(
            dashboard.engine,
            dashboard.state_palette,
            live=dashboard.live,
            then=then,
            rejecting=self.rejecting_users,
            accepted=self._writes_accepted,
        )
        dashboard.push_screen(screen, closed)

    def _writes_accepted(self, user: int) -> None:
        """The database accepts ``user``'s writes again (P in the dead-letters view)."""
        self.rejected_writes.discard(user)
        run = self._dashboard.scenario_run
        if run is not None:
            run.rejecting.discard(user)
        self._dashboard.show_status()

    # -- P -------------------------------------------------------------------------------
    async def toggle_reject(self) -> None:
        """P: the database rejects the followed user's writes (a real trigger), or
        accepts them again."""
        dashboard = self._dashboard
        engine = dashboard.engine
        user = dashboard.followed
        if user is None:
            dashboard.notify(
                "follow a user first: g goes to one, enter follows the one under the cursor",
                title="Reject writes",
                severity="warning",
            )
            return
        reject = user not in self.rejecting_users()
        try:
            if reject:
                await engine.reject_writes(user)
            else:
                await engine.accept_writes(user)
        except CacheTuiError as exc:
            dashboard.notify(
                str(exc), title=f"Cannot change user {user}'s writes", severity="error"
            )
            return
        if reject:
            self.rejected_writes.add(user)
            attempts = engine.config.max_attempts
            dashboard.notify(
                f"a real trigger (cachetui_lab_reject_{user}) now refuses every update of "
                f"user {user}: write-behind tries it {attempts} "
                f"{plural(attempts, 'time')}, then parks it as a "
                "dead letter (d); write-through and write-around fail the caller. P again: "
                "accept",
                title=f"DB rejects user {user}'s writes",
                severity="warning",
                timeout=8,
            )
        else:
            self.rejected_writes.discard(user)
            run = dashboard.scenario_run
            if run is not None:
                run.rejecting.discard(user)
            parked = any(d.user_id == user for d in engine.dead_letters())
            dashboard.notify(
                f"the trigger is gone; user {user}'s writes land again"
                + ("; its dead letter waits for a retry (d, then r)" if parked else ""),
                title=f"DB accepts user {user}'s writes",
            )
        dashboard.show_status()

    # -- at start ------------------------------------------------------------------------
    def notify_start(self, faults: Sequence[Event]) -> None:
        """Say what the engine found when it started: ``faults`` are the FAULT events
        it emitted then (the lab triggers it removed, left over by a run that was killed),
        and dead letters parked by an earlier run."""
        dashboard = self._dashboard
        for event in faults:
            dashboard.notify(
                event.detail, title="Lab triggers removed", severity="warning", timeout=10
            )
        letters = dashboard.engine.dead_letters()
        if letters:
            count = len(letters)
            them = plural(count, "it", "them")
            dashboard.notify(
                f"{count} {plural(count, 'write was', 'writes were')} parked by an earlier "
                f"run (the database rejected {them}, or another writer got there first): d "
                f"lists {them}, to retry or discard",
                title=f"{count} dead letter{'s' if count != 1 else ''}",
                severity="warning",
                timeout=10,
            )
