"""A user's timeline as a space-time diagram: one lane (a column) per caller, then the
cache, the write queue and the database; time runs down the shared axis on the left
(ms since the first mark). An operation is a bar from its invoke (┬) to its completion
(┴), labelled with the version it read or wrote; a landing, an external write and a
cache or queue step are a point (●) with theirs. The violation's evidence is marked ✗.

Every name and label is drawn as plain text (a caller's name cannot restyle the
screen)."""

from __future__ import annotations

from rich.text import Text

from cachetui.app.states import DARK, Palette
from cachetui.engine.history.timeline import Mark, Timeline
from cachetui.literal import printable

LANE = 18  # cells per lane at most (fewer, down to MIN_LANE, to fit the width)
MIN_LANE = 10
AXIS = 11  # the time axis: "+1,234.5 ms"
_SHORT = {"read": "R", "update": "W", "external": "X", "landing": "DB"}


def label(mark: Mark) -> str:
    """``R v3``, ``W v4``, ``DB v4 tx 7``, ``set v4``, ``W info``…"""
    name = _SHORT.get(mark.kind, mark.kind)
    version = "" if mark.version is None else f" v{mark.version}"
    detail = f" {mark.detail}" if mark.detail else ""
    return f"{name}{version}{detail}"


def _fit(text: str, width: int) -> str:
    text = printable(text, newlines=False)
    return text[: width - 1].ljust(width) if len(text) >= width else text.ljust(width)


def render_timeline(timeline: Timeline, palette: Palette = DARK, width: int = 0) -> Text:
    """The diagram, one line per moment something starts or ends; lanes narrowed to fit
    ``width`` cells when it is given (wider still: it scrolls)."""
    lanes = timeline.lanes
    lane = LANE
    if width:
        lane = max(MIN_LANE, min(LANE, (width - AXIS - 1) // max(1, len(lanes))))

    def _cell(text: str) -> str:
        return _fit(text, lane)

    column = {name: i for i, name in enumerate(lanes)}
    out = Text(no_wrap=True, overflow="crop")
    out.append(" " * AXIS + " ")
    for name in lanes:
        out.append(_cell(name), "bold")
    out.append("\n")
    out.append("─" * AXIS + "┬" + "─" * (lane * len(lanes)) + "\n", "dim")
    if not timeline.marks:
        out.append(" " * AXIS + "│ nothing recorded for this user in the history's ring\n")
        return out
    moments = sorted({m.start_ns for m in timeline.marks} | {m.end_ns for m in timeline.marks})
    origin = moments[0]
    starts: dict[int, list[Mark]] = {}
    ends: dict[int, list[Mark]] = {}
    for m in timeline.marks:
        starts.setdefault(m.start_ns, []).append(m)
        ends.setdefault(m.end_ns, []).append(m)
    open_bars: dict[int, Mark] = {}
    for at in moments:
        cells: list[tuple[str, str]] = [("┊".ljust(lane), "dim")] * len(lanes)
        for m, _ in [(b, 0) for b in open_bars.values()]:
            cells[column[m.lane]] = ("│".ljust(lane), _style(m, palette))
        for m in starts.get(at, []):
            i = column[m.lane]
            if m.end_ns == m.start_ns:
                cells[i] = (_cell(f"● {label(m)}" + (" ✗" if m.evidence else "")),
                            _style(m, palette))  # fmt: skip
            else:
                cells[i] = (_cell(f"┬ {_SHORT.get(m.kind, m.kind)}"), _style(m, palette))
                open_bars[i] = m
        for m in ends.get(at, []):
            if m.end_ns == m.start_ns:
                continue
            i = column[m.lane]
            cells[i] = (_cell(f"┴ {label(m)}" + (" ✗" if m.evidence else "")),
                        _style(m, palette))  # fmt: skip
            open_bars.pop(i, None)
        out.append(f"{(at - origin) / 1e6:>+{AXIS - 3},.1f} ms", "dim")
        out.append("│", "dim")
        for text, style in cells:
            out.append(text, style)
        out.append("\n")
    return out


def _style(mark: Mark, palette: Palette) -> str:
    if mark.evidence:
        return f"bold {palette.bad}"
    if mark.lane == "database":
        return palette.db
    if mark.kind in ("update", "external"):
        return palette.pending
    return ""
