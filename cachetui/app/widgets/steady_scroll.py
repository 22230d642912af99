"""Scrollbars drawn again only when what they show changes."""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView


class SteadyScrollbars(ScrollView):
    """A ScrollView whose scrollbars are not redrawn at every layout of the screen.

    Textual calls ``_size_updated`` for every widget at every layout (a label that changed
    width is enough) and a ScrollView then redraws its scrollbars, because the
    compositor's virtual size never equals the widget's own: a second update of the
    screen after each one. Here only a change of the widget's size, of its scrollable
    size or of its container lets it through."""

    _sized: tuple[Size, Size, Size] | None = None

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        sized = (size, self.virtual_size, container_size)
        if sized == self._sized:
            return False
        self._sized = sized
        return super()._size_updated(size, virtual_size, container_size, layout)
