"""Key actions for showing the lab to others: help (?), focus on the panes (z) and
export of the screen and the metrics history for slides (E).

:class:`Presenting` is mixed into :class:`~cachetui.app.app.CacheTuiApp`; the files are
made by :mod:`cachetui.app.export`: written into a folder the user names, or, in a
browser (``cachetui serve``), delivered to the browser as downloads, so that a page never
writes on the machine that serves it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from textual import events

from cachetui.app.app_part import AppPart
from cachetui.app.export import MetricsSample, export_stem, export_texts, write_export
from cachetui.app.screens.export import ExportScreen
from cachetui.app.screens.help import HelpScreen
from cachetui.app.screens.verdicts import TimelineScreen, VerdictsScreen, verdicts_screen


class Presenting(AppPart):
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def action_verdicts(self) -> None:
        """v: the verdicts so far, violations with their evidence (enter: a timeline)."""
        if not isinstance(self.screen, VerdictsScreen | TimelineScreen):
            self.push_screen(verdicts_screen(self.engine, self.state_palette))

    def action_toggle_focus(self) -> None:
        self.focus_panes = not self.focus_panes

    def action_export(self) -> None:
        """Keep the screen as it is now, then ask where to save it with the metrics (in a
        browser: download them there)."""
        if isinstance(self.screen, ExportScreen):
            return
        svg = self.export_screenshot()
        samples = list(self.metrics_history)
        if self.engine.running:  # the last row: the metrics at the moment of the export
            samples.append(self._sample_since_last(time.monotonic(), self.engine.metrics))
        when = datetime.now()
        if self.is_web:
            self._deliver_export(svg, samples, when)
            return

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

    def _deliver_export(self, svg: str, samples: Sequence[MetricsSample], when: datetime) -> None:
        """The export's files to the browser, as downloads; nothing is written here."""
        files = export_texts(svg, samples, when=when, stem=export_stem(when))
        for name, text in files:
            self.deliver_text(io.StringIO(text), save_filename=name, name="export")
        self.notify(
            ", ".join(name for name, _ in files)
            + " (if the browser asks, let this page download several files)",
            title="Downloading to your browser",
            timeout=8,
        )

    def on_delivery_failed(self, event: events.DeliveryFailed) -> None:
        if event.name == "export":
            self.notify(f"{event.exception}", title="Download failed", severity="error")
