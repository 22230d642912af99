"""The status header: lines that never wrap. Each line is made of parts; when a line is
too wide, its least important parts get their shorter forms, then go."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Span, Text
from textual import events
from textual.widgets import Static

from cachetui.literal import literal, printable_text


class Part(NamedTuple):
    """A piece of a line: ``forms`` from longest to shortest (an empty last form means the
    part may go); parts with a higher ``drop`` shorten first."""

    forms: tuple[Text, ...]
    drop: int = 0


def part(*forms: Text | str, drop: int = 0, style: str = "") -> Part:
    """A part of one line: a form may quote a server's error or a path, shown as it is
    (a Text takes no markup) and on one line (no control character, no newline)."""
    return Part(
        tuple(
            printable_text(f, newlines=False)
            if isinstance(f, Text)
            else literal(f, style, newlines=False)
            for f in forms
        ),
        drop,
    )


def fit_line(parts: Sequence[Part], width: int) -> Text:
    """``parts`` joined into one line of at most ``width`` cells (``width <= 0``: no limit).
    Every part takes its next shorter form before any takes the one after (so parts shorten
    before they go), the highest ``drop`` first, the rightmost among equals; if the
    shortest forms are still too wide, the line ends with an ellipsis."""
    chosen = [0] * len(parts)

    def line() -> Text:
        return Text("").join(p.forms[i] for p, i in zip(parts, chosen, strict=True))

    text = line()
    while width > 0 and text.cell_len > width:
        shorter = [i for i, p in enumerate(parts) if chosen[i] < len(p.forms) - 1]
        if not shorter:
            text.truncate(width, overflow="ellipsis")
            break
        index = min(shorter, key=lambda i: (chosen[i], -parts[i].drop, -i))
        chosen[index] += 1
        text = line()
    return text


class StatusBar(Static):
    """Lines of :class:`Part`, refitted whenever the header's width changes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: list[list[Part]] = []
        self._shown: tuple[str, tuple[Span, ...]] | None = None

    def show(self, lines: Sequence[Sequence[Part]]) -> None:
        self._lines = [list(line) for line in lines]
        self._fit()

    def _fit(self) -> None:
        width = self.size.width
        text = Text("\n").join(fit_line(line, width) for line in self._lines)
        shown = (text.plain, tuple(text.spans))
        if shown == self._shown:
            return  # the same words in the same colours
        self._shown = shown
        self.update(text, layout=False)  # its height is set by the layout, not its lines

    def on_resize(self, event: events.Resize) -> None:
        self._fit()
