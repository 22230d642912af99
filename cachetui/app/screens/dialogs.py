"""Small modal dialogs: go to a user, confirm, the crash report."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from cachetui.app.screens.field_rules import control_problem
from cachetui.engine.digits import digit_problem
from cachetui.engine.words import plural
from cachetui.literal import literal, printable

DIALOG_CSS = """
.dialog {
    width: 64; height: auto; max-height: 90%;
    padding: 1 2; border: thick $accent; background: $surface;
    overflow-y: auto;  /* a small terminal scrolls the dialog (focus follows) */
}
.dialog .title { text-style: bold; margin-bottom: 1; }
.dialog .error { color: $error; height: auto; }
.dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
.dialog .buttons Button { margin-left: 2; }
"""


class GotoScreen(ModalScreen[int | None]):
    """Ask for a user id; returns it, or None when cancelled. What is typed is checked as
    it is typed: anything but an id in 1…max_user gets an inline error, and enter does
    nothing until the id is valid."""

    DEFAULT_CSS = (
        "GotoScreen { align: center middle; } GotoScreen Input.-invalid { border: tall $error; }"
        + DIALOG_CSS
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, max_user: int) -> None:
        super().__init__()
        self.max_user = max_user
        self._ready = False  # the input is on screen and focused
        self._typed = ""  # keys typed before that
        self._submit = False  # and enter among them

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Go to user", classes="title")
            # not type="integer": that swallows letters silently; they get an error instead
            yield Input(placeholder=f"user id (1–{self.max_user:,})", id="user-id")
            yield Static("", classes="error", id="error")

    def on_mount(self) -> None:
        field = self.query_one("#user-id", Input)
        field.focus()
        self._ready = True
        if self._typed:  # typed before the dialog was on screen: it is the user's input
            field.insert_text_at_cursor(self._typed)
            self._typed = ""
        if self._submit:
            self.submit(field.value)

    def on_key(self, event: events.Key) -> None:
        """A key that reaches the screen before its input has the focus."""
        if self.type_ahead(event):
            event.stop()
            event.prevent_default()

    def type_ahead(self, event: events.Key) -> bool:
        """Take a key typed in one burst with the ``g`` that opened the dialog (it may
        still be on its way through the screen below): a character, backspace or enter
        goes to the input, now or as soon as it is on screen. False: not such a key."""
        field = self.query_one("#user-id", Input) if self._ready else None
        if event.key == "enter":
            if field is None:
                self._submit = True
            else:
                self.submit(field.value)
        elif event.key == "backspace":
            if field is None:
                self._typed = self._typed[:-1]
            else:
                field.action_delete_left()
        elif event.is_printable and event.character:
            if field is None:
                self._typed += event.character
            else:
                field.insert_text_at_cursor(event.character)
        else:
            return False
        return True

    def problem(self, text: str) -> str:
        """Why ``text`` is not a user id here ('' when it is one)."""
        text = text.strip().replace(",", "").replace("_", "")
        span = f"1–{self.max_user:,}"
        if not text:
            return f"type a user id ({span})"
        if problem := digit_problem(text):  # "٣" is no 3 here: digits 0–9 only
            return f"user id: {problem}"
        if problem := control_problem("user id", text):
            return problem
        if not (text.isascii() and text.isdecimal()):
            return f"a user id is a number ({span}), not {text!r}"
        if len(text.lstrip("0")) > 30:  # far past any id (and int() refuses 4,300 digits)
            return f"no user {text[:24]}…: ids run {span}"
        if not 1 <= int(text) <= self.max_user:
            return f"no user {int(text):,}: ids run {span}"
        return ""

    def _show(self, problem: str) -> None:
        self.query_one("#error", Static).update(literal(problem))  # it quotes what was typed
        self.query_one("#user-id", Input).set_class(bool(problem), "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(self.problem(event.value) if event.value.strip() else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit(event.value)

    def submit(self, text: str) -> None:
        """Enter: go to the user ``text`` names, or say why it names none."""
        problem = self.problem(text)
        self._show(problem)
        if not problem:
            self.dismiss(int(text.strip().replace(",", "").replace("_", "")))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = "ConfirmScreen { align: center middle; }" + DIALOG_CSS
    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.title_text), classes="title")
            yield Static(literal(self.message))  # it may quote an error or a path
            with Horizontal(classes="buttons"):
                yield Button(self.no, id="no", variant="primary")
                yield Button(self.yes, id="yes", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ChoiceScreen(ModalScreen[str | None]):
    """A question with named answers (buttons, first key of each label); escape: None."""

    DEFAULT_CSS = "ChoiceScreen { align: center middle; }" + DIALOG_CSS
    BINDINGS = [Binding("escape", "choose(None)", "Cancel")]

    def __init__(self, title: str, message: str, choices: dict[str, str]) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.choices = choices  # id → label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.title_text), classes="title")
            yield Static(literal(self.message))  # it may quote an error or a path
            with Horizontal(classes="buttons"):
                for index, (key, label) in enumerate(self.choices.items()):
                    yield Button(
                        label, id=f"choice-{key}", variant="primary" if index == 0 else "default"
                    )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_choose(self, key: str | None) -> None:
        self.dismiss(key)


class CrashReportScreen(ModalScreen[None]):
    """What a simulated crash lost, by user and version."""

    DEFAULT_CSS = (
        "CrashReportScreen { align: center middle; } "
        "CrashReportScreen DataTable { height: auto; max-height: 16; } "
        # a short terminal: fewer table rows (it scrolls), so Close stays on screen
        "CrashReportScreen.-short DataTable { max-height: 5; } "
        "CrashReportScreen.-short .dialog { padding: 0 1; }" + DIALOG_CSS
    )
    BINDINGS = [Binding("escape,enter,c,q", "close", "Close")]

    def __init__(
        self,
        policy: str,
        lost: Sequence[tuple[int, int]],
        db_versions: dict[int, int],
        *,
        still_cached: dict[int, int] | None = None,
        cache_survives: bool = False,
        lost_updates: int = 0,
        replayed: int = 0,
        queue: str = "",
    ):
        super().__init__()
        self.policy = policy
        self.lost = list(lost)
        self.lost_updates = max(lost_updates, len(self.lost))
        self.replayed = replayed
        self.queue = queue
        self.db_versions = db_versions
        self.still_cached = still_cached or {}
        self.cache_survives = cache_survives

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("✖ Process crash simulated", classes="title")
            vanished = (
                "The write-behind queue vanished without a flush (the cache is an external "
                "server: it kept its contents)."
                if self.cache_survives
                else "The cache and the write-behind queue vanished without a flush."
            )
            if self.replayed:
                were = plural(self.replayed, "write was", "writes were")
                # the queue's path is a user's: a Text, never markup around it
                yield Static(
                    Text.assemble(
                        "The process state vanished; the durable queue did not. ",
                        (str(self.replayed), "bold"),
                        f" pending {were} replayed from ",
                        printable(self.queue, newlines=False) or "the outbox",
                        " and land at the next flush.",
                    )
                )
            if self.lost:
                users = len(self.lost)
                updates = self.lost_updates
                yield Static(
                    f"{vanished} [b]{updates}[/b] acknowledged "
                    f"{plural(updates, 'update')} of [b]{users}[/b] "
                    f"{plural(users, 'user')} "
                    f"{plural(updates, 'was', 'were')} lost: the callers were "
                    "told these updates succeeded, but the database never got them."
                )
                if self.still_cached:
                    yield Static(
                        f"[b]{len(self.still_cached)}[/b] of them still "
                        f"{plural(len(self.still_cached), 'sits', 'sit')} in the cache, "
                        "newer than the database with no pending write to land them "
                        "([b]✖ orphaned[/b]): readers see them until they are evicted, "
                        "expire or are overwritten, then the older database version returns."
                    )
                # not focusable: a focused DataTable would take enter for itself
                table: DataTable[str] = DataTable(cursor_type="none")
                table.can_focus = False
                columns = ["user", "lost version", "database still has"]
                if self.cache_survives:  # an external cache: what it still serves
                    columns.append("cache has")
                table.add_columns(*columns)
                for user, version in self.lost:
                    db_v = self.db_versions.get(user)
                    cells = [str(user), f"v{version}", f"v{db_v}" if db_v else "–"]
                    if self.cache_survives:
                        cached_v = self.still_cached.get(user)
                        cells.append(f"v{cached_v} ✖ orphaned" if cached_v else "–")
                    table.add_row(*cells)
                yield table
            elif self.replayed:
                yield Static("Nothing acknowledged was lost.")
            elif self.cache_survives:
                yield Static(
                    f"Nothing acknowledged was lost: under {self.policy} every acknowledged "
                    "write was already in the database. The cache server kept its contents."
                )
            else:
                yield Static(
                    f"The cache vanished, but nothing acknowledged was lost: under "
                    f"{self.policy} every acknowledged write was already in the database."
                )
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
