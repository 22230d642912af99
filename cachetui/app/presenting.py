"""Key actions for showing the lab to others: help (?), focus on the panes (z) and
export of the screen and the metrics history for slides (E).

:class:`Presenting` is mixed into :class:`~cachetui.app.app.CacheTuiApp`; the files are
written by :mod:`cachetui.app.export`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from cachetui.app.app_part import AppPart
from cachetui.app.export import write_export
from cachetui.app.screens.export import ExportScreen
from cachetui.app.screens.help import HelpScreen


class Presenting(AppPart):
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def action_toggle_focus(self) -> None:
        self.focus_panes = not self.focus_panes

    def action_export(self) -> None:
        """Keep the screen as it is now, then ask where to save it with the metrics."""
        if isinstance(self.screen, ExportScreen):
            return
        svg = self.export_screenshot()
        samples = list(self.metrics_history)
        if self.engine.running:  # the last row: the metrics at the moment of the export
            samples.append(self._sample_since_last(time.monotonic(), self.engine.metrics))
        when = datetime.now()

        def save(folder: str) -> list[Path]:
            paths = write_export(folder, svg, samples, when=when)
            self.export_dir = folder
            return paths

        def saved(paths: list[Path] | None) -> None:
            if paths:
                self.notify(
                    ", ".join(path.name for path in paths),
                    title=f"Exported to {paths[0].parent}",
                    timeout=8,
                )

        self.push_screen(ExportScreen(self.export_dir, len(samples), save), saved)
