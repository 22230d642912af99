"""The export dialog: which folder gets the screenshot and the metrics history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cachetui.app.export import ExportError
from cachetui.app.screens.dialogs import DIALOG_CSS
from cachetui.app.screens.field_rules import control_problem
from cachetui.engine.words import plural
from cachetui.literal import literal


class ExportScreen(ModalScreen[list[Path] | None]):
    """Asks for a folder (prefilled) and calls ``save(folder_text)``, which writes the files
    and returns their paths, or raises ExportError: its message is shown under the field
    and the dialog stays open. Returns the paths, or None when cancelled."""

    DEFAULT_CSS = (
        "ExportScreen { align: center middle; } "
        "ExportScreen .dialog { width: 72; max-width: 95%; } "
        "ExportScreen Input.-invalid { border: tall $error; }" + DIALOG_CSS
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, folder: str, samples: int, save: Callable[[str], list[Path]]) -> None:
        super().__init__()
        self.folder = folder
        self.samples = samples
        self.save = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export the screen and the metrics", classes="title")
            yield Static(
                "The screen as it was when you asked (SVG) and the metrics history "
                f"({self.samples:,} {plural(self.samples, 'sample')}, one a "
                "second) as CSV and JSON, named cachetui-<date>-<time>. Into the folder "
                "(created if missing):"
            )
            yield Input(self.folder, id="folder", placeholder="folder")
            yield Static("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        folder = self.query_one("#folder", Input)
        if not getattr(self.app, "timings", True):  # deterministic screens: no blinking
            folder.cursor_blink = False
        folder.focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def submit(self) -> None:
        folder = self.query_one("#folder", Input)
        if problem := control_problem("the folder", folder.value):
            self._show(problem)
            return
        try:
            paths = self.save(folder.value)
        except ExportError as exc:
            self._show(str(exc))  # it names the folder
            return
        self.dismiss(paths)

    @on(Input.Changed)
    def check(self, event: Input.Changed) -> None:
        """As typed: a control character is said at once; an older error goes."""
        self._show(control_problem("the folder", event.value))

    def _show(self, problem: str) -> None:
        self.query_one("#folder", Input).set_class(bool(problem), "-invalid")
        self.query_one("#error", Static).update(literal(problem))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
