"""The scenario picker (key s): every built-in scenario, plus one loaded from a file."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from cachetui.engine.words import plural
from cachetui.literal import printable
from cachetui.scenarios import Scenario


class ScenarioPicker(ModalScreen[Scenario | None]):
    """Returns the chosen scenario, or None when cancelled."""

    DEFAULT_CSS = """
    ScenarioPicker { align: center middle; }
    ScenarioPicker > Vertical {
        width: 90%; max-width: 96; height: auto; max-height: 90%;
        padding: 1 2; border: thick $accent; background: $surface;
    }
    ScenarioPicker .title { text-style: bold; }
    ScenarioPicker OptionList { height: auto; max-height: 30; }
    ScenarioPicker .hint { color: $text-muted; margin-bottom: 1; }
    ScenarioPicker.-short > Vertical { padding: 0 1; }
    ScenarioPicker.-short OptionList { max-height: 15; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        super().__init__()
        self.scenarios = list(scenarios)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Guided scenarios", classes="title")
            # above the list, which scrolls: on a short screen it stays in view
            yield Label(
                "enter: start · then space/n next, b back, esc leave · esc: cancel",
                classes="hint",
            )
            options: list[Option | None] = []
            for index, scenario in enumerate(self.scenarios):
                if index:
                    options.append(None)  # a separator line
                options.append(Option(self._prompt(scenario), id=str(index)))
            yield OptionList(*options, id="scenarios")

    @staticmethod
    def _prompt(scenario: Scenario) -> Text:
        text = Text()
        # a scenario file's words: as they are (Text takes no markup), printable only
        text.append(printable(scenario.title, newlines=False), style="bold")
        steps = len(scenario.steps)
        name = printable(scenario.name, newlines=False)
        text.append(f"\n{name} · {steps} {plural(steps, 'step')}", "dim")
        if scenario.description:
            text.append(f"\n{printable(scenario.description)}")
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.scenarios[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
