"""Where write-behind's queue lives, chosen live: ``D`` cycles through the memory queue
(lost on a crash), the default outbox beside the database, and a Redis Stream only when
``--queue`` or ``--cache`` named a server. The engine drains the queue before it moves.

:class:`QueueChoice` is one of the dashboard's knobs: the app's action for ``D`` calls it.
"""

from __future__ import annotations

from cachetui.app.dashboard import Dashboard
from cachetui.engine import CacheTuiError
from cachetui.engine.stores.redis_url import is_redis_url


class QueueChoice:
    """Where ``dashboard``'s engine queues write-behind's writes."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard

    def choices(self) -> dict[str, tuple[str, str]]:
        """What D cycles through: choice id → (queue URL, label)."""
        config = self._dashboard.engine.config
        choices = {"memory": ("memory://", "In memory (lost on a crash)")}
        if config.db_path != ":memory:":
            choices["outbox"] = ("sqlite://", "Outbox file (durable)")
        for url in (config.queue_url, config.cache_url):
            if is_redis_url(url):
                choices["redis"] = (url, "Redis Stream (durable)")
                break
        return choices

    async def cycle(self) -> None:
        """D: the next choice (the pending writes land first)."""
        dashboard = self._dashboard
        engine = dashboard.engine
        choices = list(self.choices().values())
        current = engine.config.queue_url
        urls = [url for url, _label in choices]
        index = urls.index(current) if current in urls else -1
        url, label = choices[(index + 1) % len(choices)]
        if len(engine.pending_writes()):
            dashboard.notify("landing the pending writes before the queue moves…", title="Queue")
        try:
            await engine.set_queue(url)
        except CacheTuiError as exc:
            dashboard.notify(
                f"the queue stays {engine.queue_location}: {exc}",
                severity="error",
                timeout=8,
            )
            return
        where = engine.queue_location
        dashboard.notify(
            label if where == "memory" else f"{label}: {where} (a crash now loses nothing)",
            title="Write-behind queue",
        )
        await dashboard.refresh_view()
