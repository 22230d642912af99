"""Where write-behind's queue lives, chosen live: ``D`` cycles through the memory queue
(lost on a crash), the default outbox beside the database, and a Redis Stream only when
``--queue`` or ``--cache`` named a server. The engine drains the queue before it moves.

:class:`QueueChoice` is mixed into :class:`~cachetui.app.app.CacheTuiApp`.
"""

from __future__ import annotations

from cachetui.app.app_part import AppPart
from cachetui.app.key_order import in_order
from cachetui.engine import CacheTuiError
from cachetui.engine.stores.redis_url import is_redis_url


class QueueChoice(AppPart):
    def queue_choices(self) -> dict[str, tuple[str, str]]:
        """What D cycles through: choice id → (queue URL, label)."""
        config = self.engine.config
        choices = {"memory": ("memory://", "In memory (lost on a crash)")}
        if config.db_path != ":memory:":
            choices["outbox"] = ("sqlite://", "Outbox file (durable)")
        for url in (config.queue_url, config.cache_url):
            if is_redis_url(url):
                choices["redis"] = (url, "Redis Stream (durable)")
                break
        return choices

    @in_order
    async def action_cycle_queue(self) -> None:
        choices = list(self.queue_choices().values())
        current = self.engine.config.queue_url
        urls = [url for url, _label in choices]
        index = urls.index(current) if current in urls else -1
        url, label = choices[(index + 1) % len(choices)]
        if len(self.engine.pending_writes()):
            self.notify("landing the pending writes before the queue moves…", title="Queue")
        try:
            await self.engine.set_queue(url)
        except CacheTuiError as exc:
            self.notify(
                f"the queue stays {self.engine.queue_location}: {exc}",
                severity="error",
                timeout=8,
            )
            return
        where = self.engine.queue_location
        self.notify(
            label if where == "memory" else f"{label}: {where} (a crash now loses nothing)",
            title="Write-behind queue",
        )
        await self.refresh_view()
