"""The fleet on the dashboard: ``F`` shows the instances, the Write queue pane says who
lands each pending write, and the Events pane says when an instance dies, who claims its
partitions and when its writes have all landed.

:class:`FleetPanel` is the :class:`~cachetui.app.refresh.Refresher`'s: it looks at the
fleet once a second while live (:meth:`look`; tests call it), and reads the fleet's
pending writes at each repaint (:meth:`queue`). It only calls the engine's
``fleet_status()`` and ``fleet_pending()``; what they show is
:mod:`~cachetui.app.fleet_view`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App
from textual.css.query import NoMatches

from cachetui.app.dashboard import Dashboard
from cachetui.app.fleet_view import (
    NO_FLEET,
    WATCH_LIMIT,
    FleetQueue,
    FleetWatch,
    fleet_queue,
    fleet_table,
    fleet_titles,
)
from cachetui.app.widgets.panes import FleetPane
from cachetui.engine import CacheTuiError, EngineConfig

if TYPE_CHECKING:
    from cachetui.engine.fleet.status import FleetStatus


def in_fleet(config: EngineConfig) -> bool:
    """True when the engine's write-behind queue is the fleet queue."""
    return config.fleet and config.queue_url.startswith(("redis://", "rediss://"))


class FleetPanel:
    """The fleet pane and what the dashboard saw of the fleet (see the module)."""

    def __init__(self, dashboard: Dashboard, app: App[Any]) -> None:
        self._dashboard = dashboard
        self._app = app
        self.shown = False
        self.watch = FleetWatch()
        self.status: FleetStatus | None = None

    @property
    def in_fleet(self) -> bool:
        """True when the engine's write-behind queue is the fleet queue."""
        return in_fleet(self._dashboard.engine.config)

    def toggle(self) -> None:
        """F: show or hide the pane (drawn at once, then once a second while live)."""
        self.shown = not self.shown
        self._app.set_class(self.shown, "-fleet")
        if self.shown:
            self._app.run_worker(self.look(), group="fleet", exit_on_error=False)

    async def look(self) -> None:
        """Read the fleet; say in the Events pane what changed; draw the pane if shown."""
        engine = self._dashboard.engine
        if not engine.running:
            return
        said: list[str] = []
        try:
            status = await engine.fleet_status()
            if status is not None:
                said = self.watch.observe(status)
                if self.watch.following:
                    pending = await engine.fleet_pending(WATCH_LIMIT)
                    said += self.watch.count(pending, complete=len(pending) < WATCH_LIMIT)
        except (CacheTuiError, OSError) as exc:
            self._draw(Text(f"cannot read the fleet: {exc}"), "Fleet")
            return
        for line in said:
            self._dashboard.narrate(line)
        self.show(status)

    def show(self, status: FleetStatus | None) -> None:
        """Draw ``status`` in the pane if shown (None: how to start a fleet)."""
        engine = self._dashboard.engine
        self.status = status
        if status is None:
            self._draw(Text(NO_FLEET), "Fleet")
            return
        table = fleet_table(
            status,
            self.watch,
            engine.policy.value,
            timings=self._dashboard.timings,
            palette=self._dashboard.state_palette,
        )
        self._draw(table, *fleet_titles(status))

    def _draw(self, content: Text | Any, title: str, subtitle: str = "") -> None:
        if not self.shown:
            return
        try:
            pane = self._app.screen_stack[0].query_one("#fleet", FleetPane)
        except NoMatches:
            return  # the dashboard is going
        pane.show(content, title, subtitle)

    async def queue(self, limit: int, local: Iterable[int]) -> FleetQueue | None:
        """The fleet's pending writes for the Write queue pane (None: not in a fleet),
        ``local``: the users in this instance's own queue."""
        engine = self._dashboard.engine
        if not self.in_fleet:
            return None
        try:
            if not self.watch.names:  # names before the first look
                status = await engine.fleet_status()
                for line in self.watch.observe(status) if status is not None else ():
                    self._dashboard.narrate(line)
            pending = await engine.fleet_pending(limit)
        except (CacheTuiError, OSError):
            return None
        return fleet_queue(pending, self.watch.names, local)
