"""Talk mode (``cachetui --talk``, see :mod:`cachetui.cli.talk` for the database it runs
on): the latency preset that makes caching visibly pay, and ``X``, which puts the lab
back to its start without restarting.

:class:`TalkMode` is mixed into :class:`~cachetui.app.app.CacheTuiApp`. At the start
(:meth:`open_talk`) it keeps the seeded rows, the policy, the queue and the link's RTT;
``X`` (confirmed) stops the workload, switches faults and partitions off, puts the
preset back and calls :meth:`~cachetui.engine.Engine.reset_lab`: the rows as kept, an
empty cache and queue, no dead letters, every counter at zero and a new epoch.
"""

from __future__ import annotations

import asyncio
import contextlib

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.app.keys.records import actions_when
from cachetui.app.keys.table import KEYS
from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.cli.talk import TALK_DB_LATENCY
from cachetui.engine import CacheTuiError, Profile, WritePolicy

#: The actions bound only in talk mode (the key table's "talk" ones).
TALK_ACTIONS = actions_when("talk", KEYS)


class TalkMode(AppPart):
    talk: bool = False  # set by CacheTuiApp.__init__ (--talk)
    _talk_rows: list[Profile]
    _talk_policy: WritePolicy
    _talk_queue: str
    _talk_rtt: float | None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``X`` exists in talk mode only (not in the footer, the palette or the keys)."""
        if action in TALK_ACTIONS:
            return self.talk
        return super().check_action(action, parameters)

    async def open_talk(self) -> None:
        """Once seeded: the preset (without a link, a database latency of
        :data:`TALK_DB_LATENCY`; a link's RTT was set by ``--talk``), and what ``X`` puts
        back."""
        engine = self.engine
        link = engine.link
        self._talk_rtt = link.rtt if link is not None else None
        self._talk_policy = engine.policy
        self._talk_queue = engine.config.queue_url
        rows = await engine.db_rows(range(1, self.total_rows + 1))
        self._talk_rows = [rows[user] for user in sorted(rows)]
        self._talk_preset()

    def _talk_preset(self) -> None:
        if self.engine.link is None:
            self.engine.faults.db_latency = TALK_DB_LATENCY

    def action_talk_reset(self) -> None:
        """X: ask, then reset the lab."""
        if not self.talk:
            return
        if self.scenario_run is not None:
            self.notify("leave the scenario first (esc), then X", title="Reset", timeout=3)
            return
        dialog = ConfirmScreen(
            "Reset the lab?",
            "Back to the start of the talk, without restarting: the talk database's rows "
            "as they were seeded, an empty cache and queue, no dead letters, every counter "
            "at 0 (lost writes too), the start's policy, latency and link; a new epoch "
            "begins.\n\nOnly the talk's own database is touched.",
            yes="Reset",
            no="Cancel",
        )
        self.push_screen(dialog, self._talk_answer)

    def _talk_answer(self, yes: bool | None) -> None:
        if yes:
            self._talk_reset()

    @in_order
    async def _talk_reset(self) -> None:
        engine = self.engine
        if self.workload is not None and self.workload.running:
            await self.workload.stop()
        try:
            for user in self.rejecting_users():  # P's triggers
                with contextlib.suppress(CacheTuiError):
                    await engine.accept_writes(user)
            self.rejected_writes.clear()
            engine.faults.clear()
            link = engine.link
            if link is not None:
                await asyncio.to_thread(setattr, link, "partition", None)
                if self._talk_rtt is not None and link.rtt != self._talk_rtt:
                    await asyncio.to_thread(setattr, link, "rtt", self._talk_rtt)
            epoch = await engine.reset_lab(self._talk_rows)
            if engine.config.queue_url != self._talk_queue:
                await engine.set_queue(self._talk_queue)
            await engine.set_policy(self._talk_policy)
        except CacheTuiError as exc:
            self.notify(f"reset failed: {exc}", title="Reset", severity="error")
            return
        finally:
            self._talk_preset()
        self.follow(None)
        self.restart_rates()
        self.metrics_history.clear()
        self.notify(f"the lab is back at its start (epoch {epoch})", title="Reset", timeout=3)
        await self.refresh_view()
