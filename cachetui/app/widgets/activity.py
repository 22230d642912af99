"""The trace of the last operation and the scrolling event log."""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog, Static

from cachetui.app.states import DARK, Palette, duration
from cachetui.app.widgets.steady_scroll import SteadyScrollbars
from cachetui.engine import Event, EventKind
from cachetui.literal import literal, printable

#: Each event kind's colour, as a role of the theme's palette, and extra style.
KIND_ROLES: dict[EventKind, tuple[str, str]] = {
    EventKind.HIT: ("ok", ""),
    EventKind.MISS: ("pending", ""),
    EventKind.QUEUE_HIT: ("pending", ""),
    EventKind.DB_READ: ("db", ""),
    EventKind.DB_WRITE: ("db", ""),
    EventKind.FLUSH: ("db", ""),
    EventKind.ENQUEUE: ("pending", ""),
    EventKind.COALESCE: ("pending", ""),
    EventKind.BACKPRESSURE: ("bad", "bold"),
    EventKind.RETRY: ("bad", ""),
    EventKind.ERROR: ("bad", "bold"),
    EventKind.CRASH: ("bad", "bold"),
    EventKind.EXTERNAL: ("stale", ""),
    EventKind.EVICT: ("muted", ""),
    EventKind.EXPIRE: ("muted", ""),
    EventKind.POLICY: ("", "bold"),
    EventKind.FAULT: ("bad", "bold"),
    EventKind.CACHE_DOWN: ("bad", "bold"),
    EventKind.CACHE_UP: ("ok", "bold"),
    EventKind.ACK: ("ok", "bold"),
    # a badge, as the states in the panes: they stay apart in 16 colours and NO_COLOR
    EventKind.CONFLICT: ("stale", "bold reverse"),
    EventKind.DEAD_LETTER: ("bad", "bold reverse"),
}


def kind_style(kind: EventKind, palette: Palette = DARK) -> str:
    role, extra = KIND_ROLES.get(kind, ("", ""))
    colour = getattr(palette, role) if role else ""
    return f"{extra} {colour}".strip()


#: The event kind's column (cells), and the space after it.
KIND_WIDTH = 12


def describe(event: Event, timings: bool = True, palette: Palette = DARK, width: int = 0) -> Text:
    """One log entry: the event's kind, then its user, detail and duration. Given the
    ``width`` (cells), a long entry wraps by words under the detail (a hanging indent),
    never back to the kind's column."""
    text = Text()
    if event.user_id is not None:
        text.append(f"user {event.user_id}")
        if event.version is not None:
            text.append(f" v{event.version}")
    if event.detail:  # a profile's field or a server's error: as it is, on one line
        detail = printable(event.detail, newlines=False)
        text.append(f"  {detail}" if text else detail, style="dim")
    if timings and event.duration is not None:
        text.append(f"  {duration(event.duration)}", style="italic")
    kind = event.kind.value[:KIND_WIDTH].ljust(KIND_WIDTH + 1)
    line = Text(end="")
    line.append(kind, style=kind_style(event.kind, palette))
    room = width - len(kind)
    if width <= 0 or text.cell_len <= room or room < 8:
        return line.append_text(text)
    parts = text.wrap(_MEASURE, room, overflow="fold")
    indent = " " * len(kind)
    for index, part in enumerate(parts):
        part.rstrip()
        if index:
            line.append("\n" + indent)
        line.append_text(part)
    return line


#: Wrapping measures text only: a console that never writes anywhere.
_MEASURE = Console(file=io.StringIO(), width=200, color_system=None, legacy_windows=False)


#: Below this width (cells) the Last operation pane leaves out its step numbers.
NARROW_TRACE = 56


class TracePane(Static):
    """The steps of the last operation started from the keyboard, with durations."""

    _shown: object = None

    def show(
        self,
        title: str,
        events: Sequence[Event],
        timings: bool = True,
        palette: Palette = DARK,
    ) -> None:
        narrow = 0 < self.size.width < NARROW_TRACE  # no step numbers: room for the words
        shown = (
            title,
            tuple((e.kind, e.user_id, e.version, e.detail, e.duration) for e in events),
            timings,
            palette,
            narrow,
        )
        if shown == self._shown:
            return  # the same operation: drawn already
        self._shown = shown
        table = Table.grid(padding=(0, 1))
        if not narrow:
            table.add_column(style="dim", width=3, justify="right")
        table.add_column(width=12 if not narrow else 10)
        table.add_column()
        table.add_column(justify="right")
        if not events:
            self.border_subtitle = ""  # no operation: no title of an old one either
            self.update(
                literal(title or "Press r to read a profile, u to update one.", "dim"),
                layout=False,  # its size is the pane's, whatever it shows
            )
            return
        for index, event in enumerate(events, 1):
            subject = ""
            if event.user_id is not None:
                subject = f"user {event.user_id}" + (
                    f" v{event.version}" if event.version is not None else ""
                )
            detail = printable(event.detail, newlines=False)  # a field or an error, as it is
            table.add_row(
                *([] if narrow else [str(index)]),
                Text(event.kind.value, style=kind_style(event.kind, palette)),
                Text.assemble(subject, ("  " + detail if detail else "", "dim")),
                duration(event.duration) if timings else "",
            )
        self.border_subtitle = literal(title, newlines=False)  # a str would be markup
        self.update(table, layout=False)


class EventLog(RichLog, SteadyScrollbars):
    """Every engine event, newest at the bottom. It keeps the events it shows, so that
    :meth:`repaint` can redraw them in another theme's colours."""

    #: RichLog sets it at every write: as Widget's, that would lay the whole screen out
    #: again at every repaint until the log is full. Only the scrollbar depends on it
    #: (see :meth:`_write`).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_width", 20)  # RichLog's 78 would scroll sideways when narrow
        super().__init__(**kwargs)
        self._shown: deque[Event | int] = deque(maxlen=self.max_lines or 500)
        self._style: tuple[bool, Palette] = (True, DARK)
        self._width = 0

    def add(
        self,
        events: Sequence[Event],
        skipped: int,
        timings: bool = True,
        palette: Palette = DARK,
    ) -> None:
        self._style = (timings, palette)
        items: list[Event | int] = [skipped] if skipped else []
        items.extend(events)
        self._shown.extend(items)
        self._write(items)

    def repaint(self, timings: bool, palette: Palette) -> None:
        """Write every kept line again (after a theme change, or to wrap at a new width)."""
        self._style = (timings, palette)
        self.clear()
        self._write(list(self._shown))

    def _write(self, items: Sequence[Event | int]) -> None:
        """One write for all of them: each write of a RichLog lays the screen out again."""
        if not items:
            return
        timings, palette = self._style
        width = self.scrollable_content_region.width
        entries = [
            _skipped(item) if isinstance(item, int) else describe(item, timings, palette, width)
            for item in items
        ]
        # it follows the newest line while it shows it: scrolled up (to read), it stays
        at_end = self.scroll_y >= self.max_scroll_y
        first = self._start_line  # the oldest line kept (a full log drops the oldest)
        # scrolled to the end now, in the same screen update (a RichLog scrolls after the
        # next one: a second update of the screen per repaint)
        self.write(Text("\n").join(entries), width=width or None, scroll_end=False)
        # the thumb; a scrollbar that appears lays the screen out (Textual does, then)
        self._scroll_update(self.virtual_size)
        if self.auto_scroll and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif (dropped := self._start_line - first) and not at_end:
            # the lines read stay where they are while the oldest go
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.repaint(*self._style)


def _skipped(count: int) -> Text:
    return Text(f"… {count:,} more events", style="dim italic")
