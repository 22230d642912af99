"""A bordered widget's content lines framed without Textual's general line renderer.

Textual draws every line of a widget through its styles cache, which re-reads the
widget's styles and works out its border, padding, tint, opacity and hatch for each
line: ~40 µs a line here, ~60 µs under load, whatever the line holds. A pane at 20,000
ops/s changes every row at every repaint, so that was most of a repaint's CPU.

For the plain case (a left and a right border, no padding, tint, opacity, text opacity,
hatch or outline, no horizontal scroll) a content line is only the border's left cell,
the content padded to its width and the border's right cell. :class:`BorderFrame` builds
those two cells once per look of the widget, with Textual's own box characters
(``textual._border.get_box``: private, and Textual is pinned; ``tests/app/test_key_table``
checks that both ways give the same lines), and keeps each line of the widget framed
while its content line is the same object: one per line, as Textual's cache does (more
would keep the strips of rows long gone alive, each a dozen objects that the garbage
collector walks). Anything else falls back to Textual's renderer.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from textual._border import get_box
from textual.color import Color
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget


class BorderFrame:
    """The left and right border cells of one look of a widget, and its framed lines."""

    def __init__(self) -> None:
        self._look: tuple[object, ...] | None = None
        self._cells: tuple[Segment, Segment, Style] | None = None
        self._framed: dict[int, tuple[Strip, Strip]] = {}  # line → (content, framed)
        self._framing = False  # the last lines were framed here

    def render_lines(
        self, widget: Widget, crop: Region, textual: Callable[[Region], list[Strip]]
    ) -> list[Strip]:
        """``widget``'s lines in ``crop``, as ``textual`` (Textual's own renderer, the
        widget's ``super().render_lines``) gives them: its content lines framed here in
        the plain case, the rest (the border's top and bottom lines, any other look) by
        ``textual``."""
        if not self._fits(widget):
            if self._framing:  # lines framed meanwhile never reached Textual's cache
                self._framing = False
                widget._styles_cache.clear()
            return textual(crop)
        self._framing = True
        width, height = widget.region.size
        top, bottom = widget.styles.gutter.top, height - widget.styles.gutter.bottom
        for y in [y for y in self._framed if y >= bottom]:  # the widget got shorter
            del self._framed[y]
        content_width = widget.content_region.width
        filters = widget.get_line_filters()
        background = widget.background_colors[1]
        strips = (
            textual(Region(0, crop.y, width, min(top, crop.bottom) - crop.y))
            if crop.y < top
            else []
        )
        for y in range(max(crop.y, top), min(crop.bottom, bottom)):
            strip = self._frame(y, widget.render_line(y - top), content_width, width)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.bottom > bottom:
            start = max(bottom, crop.y)
            strips += textual(Region(0, start, width, crop.bottom - start))
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _fits(self, widget: Widget) -> bool:
        """True if ``widget``'s content lines can be framed here (the plain case), after
        which :meth:`_frame` uses its current look."""
        styles = widget.styles
        (left_type, left_color), (right_type, right_color) = styles.border_left, styles.border_right
        if (
            not left_type
            or not right_type
            or any(styles.padding)
            or styles.tint.a
            or widget.opacity != 1.0
            or styles.text_opacity != 1.0
            or any(edge for edge, _ in styles.outline)
            or (styles.has_rule("hatch") and styles.hatch != "none")
            or widget.scroll_offset.x
        ):
            return False
        base_background, background = widget.background_colors
        look = (left_type, left_color, right_type, right_color, base_background, background)
        if look != self._look:
            self._look = look
            self._framed.clear()
            self._cells = _border_cells(
                left_type, left_color, right_type, right_color, base_background, background
            )
        return True

    def _frame(self, y: int, content: Strip, content_width: int, width: int) -> Strip:
        """Line ``y``: ``content`` between the border cells, ``width`` cells in all (kept
        while that line's content is the same object)."""
        assert self._cells is not None
        kept = self._framed.get(y)
        if kept is not None and kept[0] is content and kept[1].cell_length == width:
            return kept[1]
        left, right, inner = self._cells
        padded = content.adjust_cell_length(content_width, inner.rich_style)
        framed = Strip([left, *padded, right], width)
        self._framed[y] = (content, framed)
        return framed


def _border_cells(
    left_type: str,
    left_color: Color,
    right_type: str,
    right_color: Color,
    base_background: Color,
    background: Color,
) -> tuple[Segment, Segment, Style]:
    """The left and right border cells and the content's background style, made as
    Textual's styles cache makes them for a content line at opacity 1."""
    inner = Style(background=base_background + background)
    outer = Style(background=base_background)
    left = get_box(left_type, inner, outer, Style(foreground=base_background + left_color))
    right = get_box(right_type, inner, outer, Style(foreground=base_background + right_color))
    return left[1][0], right[1][2], inner
