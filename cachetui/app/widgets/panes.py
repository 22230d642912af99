"""The three side-by-side panes: Cache, Write queue, Database. What they show is made
by :mod:`cachetui.app.pane_contents`; they draw it (:meth:`PaneTable.show`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import RenderableType
from textual.widgets import Static

from cachetui.app.pane_contents import FOLLOW_MARK, PaneContent
from cachetui.app.widgets.key_table import Column, KeyTable

__all__ = ["FOLLOW_MARK", "CachePane", "DatabasePane", "FleetPane", "PaneTable", "QueuePane"]


class PaneTable(KeyTable):
    """A pane that draws what :mod:`cachetui.app.pane_contents` made for it."""

    def show(self, content: PaneContent) -> None:
        """Its rows (only the lines that look different are drawn again) and titles."""
        self.sync(content.rows)
        self.set_titles(content.titles, content.subtitles)


#: The last steps of every pane's narrowing: rather than cut a number (a version of
#: 90596 shown as 9059, or as 9… at the pane's edge), drop whole columns until the user's
#: id fits alone (the row's colour still tells its state).
NUMBERS_WHOLE = (("drop", "state"), ("drop", "v"))

#: The columns the Cache and Database panes start with.
PROFILE_COLUMNS = (
    Column("user", 5, fit=True),
    Column("v", 3, fit=True),
    Column("name", 12, grow=8),
    Column("state", 10),
)


class CachePane(PaneTable):
    """What the cache store holds, by user id. Narrow, it keeps user, version and state
    (as its symbol when even narrower). ``uses``: the lookups that found the entry, by
    reads and by updates (the hit ratio counts reads only)."""

    NARROWING = (
        ("drop", "age"),
        ("drop", "uses"),
        ("drop", "name"),
        ("squeeze", "state"),
        *NUMBERS_WHOLE,
    )

    def __init__(self, ttl: bool, **kwargs: str | None) -> None:
        last = Column("ttl", 5, key="age", fit=True) if ttl else Column("age", 5, fit=True)
        self.show_ttl = ttl
        super().__init__([*PROFILE_COLUMNS, Column("uses", 4, fit=True), last], **kwargs)


class QueuePane(PaneTable):
    """Pending write-behind writes, oldest first. Narrow, it keeps user, version, the
    database's version and how many updates were coalesced. In a fleet
    (:meth:`for_queue`), the owner column says who lands each write (``a→b``: ``a``
    acknowledged it, ``b`` lands it), after the version; it is dropped after db v."""

    NARROWING: ClassVar[Sequence[tuple[str, str]]] = (
        ("drop", "age"),
        ("drop", "in-flight"),
        ("drop", "retry"),
        ("drop", "coal."),
        ("drop", "db v"),  # then v: the user's id stays, whole
        ("drop", "v"),
    )

    def __init__(self, **kwargs: str | None) -> None:
        columns = [
            Column("user", 5, fit=True),
            Column("v", 3, fit=True),
            Column("db v", 4, fit=True),
            Column("coal.", 5, fit=True),
            Column("age", 5, fit=True),
            Column("retry", 5, fit=True),
            Column("", 4, key="in-flight"),
        ]
        if self.fleet:
            columns.insert(2, Column("owner", 6, grow=8))
        super().__init__(columns, **kwargs)

    fleet = False

    @staticmethod
    def for_queue(fleet: bool, **kwargs: str | None) -> QueuePane:
        """The pane for the engine's queue: with an owner column in a fleet."""
        return FleetQueuePane(**kwargs) if fleet else QueuePane(**kwargs)


class FleetQueuePane(QueuePane):
    """The Write queue pane in a fleet: with the owner column."""

    fleet = True
    NARROWING = (
        ("drop", "age"),
        ("drop", "in-flight"),
        ("drop", "retry"),
        ("drop", "coal."),
        ("drop", "db v"),
        ("drop", "owner"),
        ("drop", "v"),
    )


class FleetPane(Static):
    """F: the instances of the fleet (or how to start one), above the metrics."""

    def show(self, content: RenderableType, title: str, subtitle: str = "") -> None:
        self.border_title, self.border_subtitle = title, subtitle
        self.update(content)


class DatabasePane(PaneTable):
    """A bounded window of the profiles table: recent rows plus the users on screen.
    Narrow, it keeps user, version and state (as its symbol when even narrower)."""

    NARROWING = (
        ("drop", "updated"),
        ("drop", "name"),
        ("squeeze", "state"),
        *NUMBERS_WHOLE,
    )

    def __init__(self, **kwargs: str | None) -> None:
        super().__init__([*PROFILE_COLUMNS, Column("updated", 12)], **kwargs)
