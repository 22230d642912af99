"""How key states look: the same symbol and colour in every pane."""

from __future__ import annotations

from rich.text import Text

from cachetui.engine import KeyState

SYMBOLS: dict[KeyState, str] = {
    KeyState.CLEAN: "●",
    KeyState.DIRTY: "◆",
    KeyState.STALE: "▲",
    KeyState.ORPHANED: "✖",
    KeyState.UNCACHED: "○",
}
# Colours chosen to stay apart on dark and light themes (and on washed-out projectors);
# the symbol carries the state for monochrome screens.
STYLES: dict[KeyState, str] = {
    KeyState.CLEAN: "bold green4",
    KeyState.DIRTY: "bold dark_orange",
    KeyState.STALE: "bold magenta",
    KeyState.ORPHANED: "bold red",
    KeyState.UNCACHED: "grey50",
}
POLICY_STYLES: dict[str, str] = {
    "write-through": "bold white on dark_green",
    "write-behind": "bold black on dark_orange",
    "write-around": "bold white on blue",
    "no-cache": "bold white on grey37",
}


def state_cell(state: KeyState) -> Text:
    return Text(f"{SYMBOLS[state]} {state.value}", style=STYLES[state])


def legend() -> Text:
    text = Text()
    for state in KeyState:
        text.append(f"{SYMBOLS[state]} {state.value}  ", style=STYLES[state])
    return text


def ago(seconds: float) -> str:
    """A short age in whole seconds (<1s, 12s, 4m05s): coarse on purpose, so that a
    pane's cells change about once a second, not at every repaint."""
    if seconds < 1:
        return "<1s"
    if seconds < 60:
        return f"{int(seconds)}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"
