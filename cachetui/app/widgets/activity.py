"""The trace of the last operation and the scrolling event log."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import RichLog, Static

from cachetui.app.states import duration
from cachetui.engine import Event, EventKind

KIND_STYLES: dict[EventKind, str] = {
    EventKind.HIT: "green4",
    EventKind.MISS: "dark_orange",
    EventKind.QUEUE_HIT: "dark_orange",
    EventKind.DB_READ: "blue",
    EventKind.DB_WRITE: "blue",
    EventKind.FLUSH: "blue",
    EventKind.ENQUEUE: "dark_orange",
    EventKind.COALESCE: "dark_orange",
    EventKind.BACKPRESSURE: "bold red",
    EventKind.RETRY: "red",
    EventKind.ERROR: "bold red",
    EventKind.CRASH: "bold red",
    EventKind.EXTERNAL: "magenta",
    EventKind.EVICT: "grey50",
    EventKind.EXPIRE: "grey50",
    EventKind.POLICY: "bold",
    EventKind.FAULT: "bold red",
    EventKind.CACHE_DOWN: "bold red",
    EventKind.CACHE_UP: "bold green4",
    EventKind.ACK: "bold green4",
}


def describe(event: Event, timings: bool = True) -> Text:
    text = Text()
    text.append(f"{event.kind.value:<12}", style=KIND_STYLES.get(event.kind, ""))
    if event.user_id is not None:
        text.append(f" user {event.user_id}")
        if event.version is not None:
            text.append(f" v{event.version}")
    if event.detail:
        text.append(f"  {event.detail}", style="dim")
    if timings and event.duration is not None:
        text.append(f"  {duration(event.duration)}", style="italic")
    return text


class TracePane(Static):
    """The steps of the last operation started from the keyboard, with durations."""

    def show(self, title: str, events: Sequence[Event], timings: bool = True) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", width=3, justify="right")
        table.add_column(width=12)
        table.add_column()
        table.add_column(justify="right")
        if not events:
            self.update(Text(title or "Press r to read a profile, u to update one.", style="dim"))
            return
        for index, event in enumerate(events, 1):
            subject = ""
            if event.user_id is not None:
                subject = f"user {event.user_id}" + (
                    f" v{event.version}" if event.version is not None else ""
                )
            table.add_row(
                str(index),
                Text(event.kind.value, style=KIND_STYLES.get(event.kind, "")),
                Text.assemble(subject, ("  " + event.detail if event.detail else "", "dim")),
                duration(event.duration) if timings else "",
            )
        self.border_subtitle = title
        self.update(table)


class EventLog(RichLog):
    """Every engine event, newest at the bottom."""

    def add(self, events: Sequence[Event], skipped: int, timings: bool = True) -> None:
        if skipped:
            self.write(Text(f"… {skipped:,} more events", style="dim italic"))
        for event in events:
            self.write(describe(event, timings))
