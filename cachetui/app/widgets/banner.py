"""The scenario banner: which scenario, which step, and the step's measured narration."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cachetui.scenarios import Frame

HINT = "space/n next · b back · esc leave"


class ScenarioBanner(Static):
    """Hidden until a scenario runs; then two or three lines above the panes."""

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

    def show_frame(self, frame: Frame, *, busy: bool = False) -> None:
        scenario = frame.scenario
        head = Text()
        head.append("▶ ", style="bold")
        head.append(scenario.title, style="bold")
        if frame.is_intro:
            where = f"  ·  {frame.total} steps"
        else:
            where = f"  ·  step {frame.index + 1}/{frame.total}"
        head.append(where, style="bold")
        if busy:
            head.append("  ·  running…", style="bold")
        elif frame.is_intro:
            head.append("  ·  space: first step · esc leave", style="dim")
        elif frame.is_last:
            head.append("  ·  last step · b back · esc leave", style="dim")
        else:
            head.append(f"  ·  {HINT}", style="dim")
        self.update(Text("\n").join([head, Text(frame.narration)]))
        self.set_class(True, "-active")
        self.set_class(busy, "-busy")

    def hide(self) -> None:
        self.update("")
        self.set_class(False, "-active")
        self.set_class(False, "-busy")
