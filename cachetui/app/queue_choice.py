"""Where write-behind's queue lives, chosen live: ``Q`` offers the memory queue (lost on
a crash), the default outbox beside the database, and a Redis Stream only when
``--queue`` or ``--cache`` named a server. The engine drains the queue before it moves.

:class:`QueueChoice` is mixed into :class:`~cachetui.app.app.CacheTuiApp`.
"""

from __future__ import annotations

from textual import work

from cachetui.app.app_part import AppPart
from cachetui.app.screens.dialogs import ChoiceScreen
from cachetui.engine import CacheTuiError

REDIS_SCHEMES = ("redis", "rediss", "unix")


class QueueChoice(AppPart):
    def queue_choices(self) -> dict[str, tuple[str, str]]:
        """What Q offers: choice id → (queue URL, label)."""
        config = self.engine.config
        choices = {"memory": ("memory://", "Memory (lost on a crash)")}
        if config.db_path != ":memory:":
            choices["outbox"] = ("sqlite://", "Outbox file (durable)")
        for url in (config.queue_url, config.cache_url):
            if url.split("://", 1)[0].lower() in REDIS_SCHEMES:
                choices["redis"] = (url, "Redis Stream (durable)")
                break
        return choices

    @work(group="queue", exclusive=True)
    async def action_choose_queue(self) -> None:
        choices = self.queue_choices()
        current = self.engine.queue_location
        answer = await self.push_screen_wait(
            ChoiceScreen(
                "Write-behind queue",
                f"Now: {current}. A durable queue acknowledges an update once it is "
                "journaled (an append per acknowledgement), and a crash then loses "
                "nothing. Pending writes land in the database before the queue moves.",
                {key: label for key, (_url, label) in choices.items()},
            )
        )
        if answer is None or answer not in choices:
            return
        url = choices[answer][0]
        try:
            await self.engine.set_queue(url)
        except CacheTuiError as exc:
            self.notify(f"the queue stays {current}: {exc}", severity="error", timeout=8)
            return
        self.notify(f"write-behind queue: {self.engine.queue_location}", title="Queue")
        await self.refresh_view()
