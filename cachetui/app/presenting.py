"""Key actions for showing the lab to others: help (?), focus on the panes (z) and
export of the screen and the metrics history for slides (E).

:class:`Presenting` is the dashboard's collaborator for the verdicts and the export (the
app keeps help and focus: its key table and its layout); the files are made by
:mod:`cachetui.app.export`: written into a folder the user names, or, in a browser
(``cachetui serve``), delivered to the browser as downloads, so that a page never writes
on the machine that serves it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from textual import events

from cachetui.app.dashboard import Dashboard
from cachetui.app.export import MetricsSample, export_stem, export_texts, write_export
from cachetui.app.screens.export import ExportScreen
from cachetui.app.screens.verdicts import TimelineScreen, VerdictsScreen, verdicts_screen


class Presenting:
    """The verdicts and the export of ``dashboard``; ``export_dir``: the folder E offers
    (the last one saved to, after a save)."""

    def __init__(self, dashboard: Dashboard, export_dir: str) -> None:
        self._dashboard = dashboard
        self.export_dir = export_dir

    def show_verdicts(self) -> None:
        """v: the verdicts so far, violations with their evidence (enter: a timeline)."""
        dashboard = self._dashboard
        if not isinstance(dashboard.screen, VerdictsScreen | TimelineScreen):
            dashboard.push_screen(verdicts_screen(dashboard.engine, dashboard.state_palette))

    def export(self) -> None:
        """E: keep the screen as it is now, then ask where to save it with the metrics (in
        a browser: download them there)."""
        dashboard = self._dashboard
        if isinstance(dashboard.screen, ExportScreen):
            return
        svg = dashboard.export_screenshot()
        samples = list(dashboard.metrics_history)
        if dashboard.engine.running:  # the last row: the metrics at the moment of the export
            samples.append(dashboard.sample_now())
        when = datetime.now()
        if dashboard.is_web:
            self._deliver_export(svg, samples, when)
            return

        def save(folder: str) -> list[Path]:
            paths = write_export(folder, svg, samples, when=when)
            self.export_dir = folder
            return paths

        def saved(paths: list[Path] | None) -> None:
            if paths:
                dashboard.notify(
                    ", ".join(path.name for path in paths),
                    title=f"Exported to {paths[0].parent}",
                    timeout=8,
                )

        dashboard.push_screen(ExportScreen(self.export_dir, len(samples), save), saved)

    def _deliver_export(self, svg: str, samples: Sequence[MetricsSample], when: datetime) -> None:
        """The export's files to the browser, as downloads; nothing is written here."""
        files = export_texts(svg, samples, when=when, stem=export_stem(when))
        for name, text in files:
            self._dashboard.deliver_text(io.StringIO(text), save_filename=name, name="export")
        self._dashboard.notify(
            ", ".join(name for name, _ in files)
            + " (if the browser asks, let this page download several files)",
            title="Downloading to your browser",
            timeout=8,
        )

    def delivery_failed(self, event: events.DeliveryFailed) -> None:
        """A download the browser did not take."""
        if event.name == "export":
            self._dashboard.notify(f"{event.exception}", title="Download failed", severity="error")
