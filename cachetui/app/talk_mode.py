"""Talk mode (``cachetui --talk``, see :mod:`cachetui.cli.talk` for the database it runs
on): the latency preset that makes caching visibly pay, and ``X``, which puts the lab
back to its start without restarting.

:class:`TalkMode` is the dashboard's collaborator for it. At the start (:meth:`TalkMode.open`,
once the session has seeded) it keeps the seeded rows, the policy, the queue and the
link's RTT; ``X`` (confirmed: :meth:`TalkMode.confirmation`) stops the workload, switches
faults and partitions off, puts the preset back and calls
:meth:`~cachetui.engine.Engine.reset_lab` (:meth:`TalkMode.reset`): the rows as kept, an
empty cache and queue, no dead letters, every counter at zero and a new epoch.
"""

from __future__ import annotations

import asyncio
import contextlib

from cachetui.app.dashboard import Dashboard
from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.keys.records import actions_when
from cachetui.app.keys.table import KEYS
from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.cli.talk import TALK_DB_LATENCY
from cachetui.engine import CacheTuiError, Profile, WritePolicy

#: The actions bound only in talk mode (the key table's "talk" ones).
TALK_ACTIONS = actions_when("talk", KEYS)


class TalkMode:
    """Talk mode of ``dashboard`` (``on``: ``--talk``); P's rejected writes are
    ``rejects``'s, accepted again by the reset."""

    def __init__(self, dashboard: Dashboard, rejects: DeadLetterKeys, *, on: bool) -> None:
        self._dashboard = dashboard
        self._rejects = rejects
        self.on = on
        # what X puts back, kept by open()
        self._rows: list[Profile] = []
        self._policy = WritePolicy.WRITE_THROUGH
        self._queue = ""
        self._rtt: float | None = None

    def allows(self, action: str) -> bool | None:
        """``X`` exists in talk mode only (not in the footer, the palette or the keys).
        None: ``action`` is not talk mode's."""
        return self.on if action in TALK_ACTIONS else None

    async def open(self, total_rows: int) -> None:
        """Once seeded: the preset (without a link, a database latency of
        :data:`TALK_DB_LATENCY`; a link's RTT was set by ``--talk``), and what ``X`` puts
        back."""
        engine = self._dashboard.engine
        link = engine.link
        self._rtt = link.rtt if link is not None else None
        self._policy = engine.policy
        self._queue = engine.config.queue_url
        rows = await engine.db_rows(range(1, total_rows + 1))
        self._rows = [rows[user] for user in sorted(rows)]
        self._preset()

    def _preset(self) -> None:
        engine = self._dashboard.engine
        if engine.link is None:
            engine.faults.db_latency = TALK_DB_LATENCY

    def confirmation(self) -> ConfirmScreen | None:
        """X: the dialog that asks before the reset (None: not now, and why was said)."""
        if not self.on:
            return None
        if self._dashboard.scenario_run is not None:
            self._dashboard.notify(
                "leave the scenario first (esc), then X", title="Reset", timeout=3
            )
            return None
        return ConfirmScreen(
            "Reset the lab?",
            "Back to the start of the talk, without restarting: the talk database's rows "
            "as they were seeded, an empty cache and queue, no dead letters, every counter "
            "at 0 (lost writes too), the start's policy, latency and link; a new epoch "
            "begins.\n\nOnly the talk's own database is touched.",
            yes="Reset",
            no="Cancel",
        )

    async def reset(self) -> None:
        """The lab back at the start of the talk (X, confirmed)."""
        dashboard = self._dashboard
        engine = dashboard.engine
        workload = dashboard.workload
        if workload is not None and workload.running:
            await workload.stop()
        try:
            for user in self._rejects.rejecting_users():  # P's triggers
                with contextlib.suppress(CacheTuiError):
                    await engine.accept_writes(user)
            self._rejects.rejected_writes.clear()
            engine.faults.clear()
            link = engine.link
            if link is not None:
                await asyncio.to_thread(setattr, link, "partition", None)
                if self._rtt is not None and link.rtt != self._rtt:
                    await asyncio.to_thread(setattr, link, "rtt", self._rtt)
            epoch = await engine.reset_lab(self._rows)
            if engine.config.queue_url != self._queue:
                await engine.set_queue(self._queue)
            await engine.set_policy(self._policy)
        except CacheTuiError as exc:
            dashboard.notify(f"reset failed: {exc}", title="Reset", severity="error")
            return
        finally:
            self._preset()
        dashboard.follow(None)
        dashboard.restart_rates()
        dashboard.metrics_history.clear()
        dashboard.notify(f"the lab is back at its start (epoch {epoch})", title="Reset", timeout=3)
        await dashboard.refresh_view()
