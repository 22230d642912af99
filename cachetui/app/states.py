"""How key states look: the same symbol and colour in every pane."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rich.text import Text

from cachetui.engine import KeyState

SYMBOLS: dict[KeyState, str] = {
    KeyState.CLEAN: "●",
    KeyState.DIRTY: "◆",
    KeyState.STALE: "▲",
    KeyState.ORPHANED: "✖",
    KeyState.UNCACHED: "○",
    KeyState.REJECTED: "⊘",  # a dead letter the database refused
    KeyState.CONFLICT: "≠",  # a dead letter another writer got ahead of
}
#: The states of a dead letter: drawn as a badge (reversed), which stays apart from every
#: other state in 16 colours and, with NO_COLOR, keeps its reverse video and its symbol.
DEAD_LETTER_STATES = (KeyState.REJECTED, KeyState.CONFLICT)


@dataclass(frozen=True)
class Palette:
    """The Rich colours for dark or for light themes (Rich styles cannot follow Textual's
    theme variables). Every colour keeps a contrast of at least 4.5:1 against the
    background and surface of textual-dark (DARK) and of every built-in light theme
    (LIGHT); the symbol still carries the state on a monochrome projector."""

    dark: bool
    ok: str  # clean, hits, acks
    pending: str  # dirty, misses, queued work
    stale: str  # stale, external writes
    bad: str  # orphaned, errors, crashes
    db: str  # database reads and writes
    muted: str  # uncached, evictions

    @cached_property
    def rows(self) -> dict[KeyState, str]:
        """The style of a user's cells (id, version, name) in each state."""
        return {
            KeyState.CLEAN: f"bold {self.ok}",
            KeyState.DIRTY: f"bold {self.pending}",
            KeyState.STALE: f"bold {self.stale}",
            KeyState.ORPHANED: f"bold {self.bad}",
            KeyState.UNCACHED: self.muted,
            KeyState.REJECTED: f"bold {self.bad}",
            KeyState.CONFLICT: f"bold {self.stale}",
        }

    @cached_property
    def states(self) -> dict[KeyState, str]:
        """The style of a state's own cell (symbol and name) and of its legend entry: a
        dead letter's is a reversed badge."""
        states = dict(self.rows)
        for state in DEAD_LETTER_STATES:
            states[state] = f"{states[state]} reverse"
        return states


DARK = Palette(
    dark=True,
    ok="#4cd04c",
    pending="#ffaf00",  # amber: stays apart from orphaned's red in 256 and 16 colours
    stale="#f070f0",
    bad="#ff5f5f",
    db="#62aeff",
    muted="#a0a0a0",
)
LIGHT = Palette(
    dark=False,
    ok="#0b5e0b",
    pending="#854200",
    stale="#8f0f8c",
    bad="#a80000",
    db="#004aad",
    muted="#555555",
)


def palette_for(dark: bool) -> Palette:
    """The palette for a dark or a light theme (``App.current_theme.dark``)."""
    return DARK if dark else LIGHT


#: The dark palette's state styles (for code without an app at hand).
STYLES: dict[KeyState, str] = DARK.states
# Badges carry their own background: the same on every theme.
POLICY_STYLES: dict[str, str] = {
    "write-through": "bold white on dark_green",
    "write-behind": "bold black on dark_orange",
    "write-around": "bold white on #1f5fbf",
    "no-cache": "bold white on grey37",
}


def state_cell(state: KeyState, palette: Palette = DARK) -> Text:
    return Text(f"{SYMBOLS[state]} {state.value}", style=palette.states[state])


def legend(palette: Palette = DARK, *, compact: int = 0) -> Text:
    """Every state's symbol and name, two spaces apart; ``compact`` 1: one space apart,
    2: and no space after the symbol (for a narrow header)."""
    text = Text()
    styles = palette.states
    gap = " " if compact else "  "
    inner = "" if compact > 1 else " "
    for state in KeyState:
        text.append(f"{SYMBOLS[state]}{inner}{state.value}", style=styles[state])
        text.append(gap)
    return text


def ago(seconds: float) -> str:
    """A short age in whole seconds (<1s, 12s, 4m05s): coarse on purpose, so that a
    pane's cells change about once a second, not at every repaint."""
    if seconds < 1:
        return "<1s"
    if seconds < 60:
        return f"{int(seconds)}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def compact(count: int) -> str:
    """A count in few cells: 9,999 as it is, then 87k, 1.2M, 35M, 4.1G."""
    if count < 10_000:
        return f"{count:,}"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            value = count / size
            return f"{value:.1f}{unit}" if value < 10 else f"{value:,.0f}{unit}"
    return str(count)  # pragma: no cover - unreachable


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"
