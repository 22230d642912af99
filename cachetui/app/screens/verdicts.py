"""The verdicts screen (key v): each policy's verdict, then the violations found so far,
each with its evidence (the records that make it); enter opens that user's timeline, a
space-time diagram (:mod:`~cachetui.app.widgets.timeline`); escape goes back.

Names, callers and write ids come from the history (a caller may be named by anyone):
every line is built as plain text, never markup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from cachetui.app.states import DARK, Palette
from cachetui.app.widgets.timeline import render_timeline
from cachetui.app.widgets.verdict_line import policy_verdict
from cachetui.engine import Engine, Verdicts, Violation
from cachetui.engine.history import KINDS
from cachetui.engine.history.timeline import Timeline, user_timeline
from cachetui.engine.words import plural
from cachetui.literal import printable

HINT = "↑↓ choose · enter that user's timeline · esc back"
EMPTY = "No violations so far: every read returned the newest acknowledged write."


def evidence_line(record: dict[str, Any]) -> str:
    """One record of the evidence, in words (plain text)."""
    kind = record.get("type")
    if kind == "op":
        version = record.get("version")
        shown = "" if version is None else f" v{version}"
        wid = record.get("write_id")
        return printable(
            f"{record.get('op')}{shown} by {record.get('caller')} ({record.get('outcome')}"
            f"{'' if wid is None else ', write ' + str(wid)}), op {record.get('op_id')}",
            newlines=False,
        )
    if kind == "landing":
        return printable(
            f"landed v{record.get('version')} (write {record.get('write_id')}, "
            f"tx {record.get('tx')})",
            newlines=False,
        )
    if kind == "live":
        return printable(
            f"now: pending {record.get('pending')}, parked {record.get('parked')}: neither "
            "landed, nor queued, nor parked",
            newlines=False,
        )
    return printable(str(record), newlines=False)


def violation_text(v: Violation, palette: Palette = DARK) -> Text:
    """The violation's headline, then its evidence, one record a line."""
    text = Text()
    text.append(KINDS.get(v.kind, v.kind).rstrip("s"), f"bold {palette.bad}")
    who = "" if v.caller is None else f", {v.caller}"
    text.append(printable(f" · {v.policy} · user {v.user}{who}", newlines=False))
    if v.kind == "stale":
        writes = plural(v.writes, "write")
        text.append(f" · {v.writes} {writes}, {v.ms:,.0f} ms behind")
    if v.promised:
        text.append(" · breaks its promise", f"bold {palette.bad}")
    for record in v.evidence:
        text.append("\n  ")
        text.append(evidence_line(record), "dim")
    return text


class VerdictsScreen(Screen[None]):
    """``verdicts``: the engine's verdicts when opened; ``timeline(violation)``: that
    violation's user's timeline."""

    DEFAULT_CSS = """
    VerdictsScreen { padding: 0 1; }
    VerdictsScreen .title { text-style: bold; margin-bottom: 1; }
    VerdictsScreen #policies { height: auto; margin-bottom: 1; }
    VerdictsScreen OptionList { height: 1fr; }
    VerdictsScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,v,q", "close", "Back")]

    def __init__(
        self,
        verdicts: Verdicts,
        timeline: Callable[[Violation], Timeline],
        palette: Palette = DARK,
    ) -> None:
        super().__init__()
        self.verdicts = verdicts
        self.timeline = timeline
        self.palette = palette
        # newest first: the one just seen on the dashboard is at the top
        self.violations = list(reversed(verdicts.violations))

    def compose(self) -> ComposeResult:
        v = self.verdicts
        yield Label(
            f"Verdicts: {v.operations:,} operations judged"
            + (f" ({v.skipped:,} records left the ring unjudged)" if v.skipped else ""),
            classes="title",
        )
        policies = Text("\n").join(
            policy_verdict(p, self.palette) for p in v.policies.values() if p.policy != "external"
        )
        yield Static(policies, id="policies")
        if self.violations:
            yield OptionList(
                *(
                    Option(violation_text(x, self.palette), id=str(i))
                    for i, x in enumerate(self.violations)
                ),
                id="violations",
            )
        else:
            yield Static(EMPTY, id="violations-empty")
        yield Label(HINT, classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        violation = self.violations[event.option_index]
        self.app.push_screen(TimelineScreen(self.timeline(violation), violation, self.palette))

    def action_close(self) -> None:
        self.dismiss()


class TimelineScreen(Screen[None]):
    """One user's space-time diagram, the violation it was opened from above it."""

    DEFAULT_CSS = """
    TimelineScreen { padding: 0 1; }
    TimelineScreen .title { text-style: bold; }
    TimelineScreen #violation { height: auto; margin-bottom: 1; }
    TimelineScreen ScrollableContainer { height: 1fr; }
    TimelineScreen #timeline { width: auto; }
    TimelineScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,q", "close", "Back")]

    def __init__(
        self, timeline: Timeline, violation: Violation | None = None, palette: Palette = DARK
    ) -> None:
        super().__init__()
        self.timeline = timeline
        self.violation = violation
        self.palette = palette

    def compose(self) -> ComposeResult:
        t = self.timeline
        yield Label(f"Timeline of user {t.user}: time runs down (ms)", classes="title")
        if self.violation is not None:
            yield Static(violation_text(self.violation, self.palette), id="violation")
        with ScrollableContainer():
            width = self.app.size.width - 4  # padding and a scrollbar
            yield Static(render_timeline(t, self.palette, width), id="timeline")
        yield Label("┬ ┴ an operation from invoke to completion · ● a step · ✗ evidence "
                    "· esc back", classes="hint")  # fmt: skip

    def action_close(self) -> None:
        self.dismiss()


def engine_timeline(engine: Engine) -> Callable[[Violation], Timeline]:
    """A violation's user's timeline from ``engine``'s history ring and recent events."""

    def timeline(violation: Violation) -> Timeline:
        return user_timeline(
            violation.user,
            engine.history.records_of(violation.user),
            engine.recent_events(),
            violation.evidence,
        )

    return timeline


def verdicts_screen(engine: Engine, palette: Palette = DARK) -> VerdictsScreen:
    """The verdicts screen of ``engine`` as it is now (judging what is new first)."""
    return VerdictsScreen(engine.verdicts(), engine_timeline(engine), palette)
