"""The scenario banner: which scenario, which step, and the step's measured narration."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from cachetui.app.widgets.status import Part, fit_line, part
from cachetui.literal import literal, printable
from cachetui.scenarios import Frame
from cachetui.scenarios.narration import plural

HINT = "space/n next · b back · esc leave"


class ScenarioBanner(Static):
    """Hidden until a scenario runs; then two or three lines above the panes. Its first
    line never wraps (the keys' hint shortens, then goes); the narration wraps by words.
    While it shows, the app has the class ``-scenario`` (short screens make room for it)."""

    DEFAULT_CSS = """
    ScenarioBanner {
        display: none;
        height: auto;
        max-height: 7;
        padding: 0 1;
        border: tall $accent;
        background: $boost;
    }
    ScenarioBanner.-active { display: block; }
    ScenarioBanner.-busy { border: tall $warning; }
    """

    _frame: Frame | None = None
    _busy = False

    def show_frame(self, frame: Frame, *, busy: bool = False) -> None:
        self._frame, self._busy = frame, busy
        self._render_frame()
        self.set_class(True, "-active")
        self.set_class(busy, "-busy")
        self.app.set_class(True, "-scenario")

    def _render_frame(self) -> None:
        frame = self._frame
        if frame is None:
            return
        if frame.is_intro:
            where = part(f"  ·  {frame.total} {plural(frame.total, 'step')}", "", style="bold")
        else:
            where = part(f"  ·  step {frame.index + 1}/{frame.total}", style="bold")
        style = "bold" if self._busy else "dim"
        if self._busy:
            hint = part("  ·  running…", style=style)
        elif frame.is_intro:
            hint = part(
                "  ·  space: first step · esc leave", "  ·  space start · esc leave", style=style
            )
        elif frame.is_last:
            hint = part(
                "  ·  last step · b back · esc leave", "  ·  last · b back · esc leave", style=style
            )
        else:
            hint = part(f"  ·  {HINT}", "  ·  space/n b esc", style=style)
        # the way on and out stays: the title shortens, word by word, before the hint would
        head = fit_line(
            [
                part("▶ ", style="bold"),
                Part(title_forms(frame.scenario.title), drop=2),
                Part(where.forms, drop=1),
                hint,
            ],
            self.size.width,
        )
        self.update(Text("\n").join([head, literal(frame.narration)]))  # a file's words

    def on_resize(self, event: events.Resize) -> None:
        self._render_frame()

    def hide(self) -> None:
        self._frame = None
        self.update("")
        self.set_class(False, "-active")
        self.set_class(False, "-busy")
        self.app.set_class(False, "-scenario")


def title_forms(title: str) -> tuple[Text, ...]:
    """``title``, then shorter by one word at a time (with an ellipsis), down to "…"."""
    title = printable(title, newlines=False)  # a scenario file's: as it is, on one line
    words = title.split(" ")
    forms = [title] + [" ".join(words[:n]) + "…" for n in range(len(words) - 1, 0, -1)]
    return tuple(Text(form, style="bold") for form in [*forms, "…"])
