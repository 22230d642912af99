"""The edit form: change a user's fields; every field is checked as it is typed, and
what is wrong shows under the form at once (an error goes as soon as its field is right)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cachetui.app.screens.dialogs import DIALOG_CSS
from cachetui.app.screens.field_rules import control_problem
from cachetui.engine import CacheTuiError, Engine, Profile, ValidationError
from cachetui.engine.digits import digit_problem
from cachetui.engine.engine import last_op_id
from cachetui.engine.profile import MAX_INTEGER, UPDATABLE_FIELDS, validate_changes
from cachetui.literal import literal

LOAD_FIRST = "no user loaded: type a user id and press enter to load it"


class EditScreen(ModalScreen[Profile | None]):
    """Loads the user's current profile, then submits only the fields that changed.

    The form saves to the user it loaded, and only while the id field names that user:
    an id typed but not loaded (enter) is an inline error, never a save to another user.
    Each change of a field checks the whole form again: the errors under it are always
    those of what it holds now (an error of a Save that failed goes at the next change).
    """

    DEFAULT_CSS = (
        "EditScreen { align: center middle; } "
        "EditScreen .dialog { width: 72; max-width: 100%; } "
        "EditScreen .row { height: 3; } "
        "EditScreen .row Label { width: 11; padding-top: 1; } "
        "EditScreen .row Input { width: 1fr; } "
        "EditScreen Input.-invalid { border: tall $error; } "
        # a short terminal (80×24): one line a field, so the errors and the buttons show
        "EditScreen.-short .dialog { padding: 0 1; max-height: 100%; } "
        "EditScreen.-short .title { margin-bottom: 0; } "
        "EditScreen.-short .row { height: 1; } "
        "EditScreen.-short .row Label { padding-top: 0; } "
        "EditScreen.-short .row Input { border: none; height: 1; padding: 0 1; } "
        "EditScreen.-short .row Input { background: $boost; } "
        "EditScreen.-short .row Input:focus { background-tint: $foreground 15%; } "
        "EditScreen.-short .row Input.-invalid { border: none; background: $error 35%; } "
        "EditScreen.-short .buttons { margin-top: 0; }" + DIALOG_CSS
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, engine: Engine, user_id: int | None) -> None:
        super().__init__()
        self.engine = engine
        self.user_id = user_id
        self.current: Profile | None = None
        self.op_id = 0  # the saved update's operation (0: none yet)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Edit a profile", classes="title")
            with Horizontal(classes="row"):
                yield Label("user id")
                # not type="integer": that drops "²" without a word (the rule: id_problem)
                yield Input(str(self.user_id or ""), id="user_id")
            for field in UPDATABLE_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(field)
                    yield Input(id=field)
            yield Static("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    async def on_mount(self) -> None:
        if not getattr(self.app, "timings", True):  # deterministic screens: no blinking
            for input_ in self.query(Input):
                input_.cursor_blink = False
        if self.user_id is not None:
            await self._load(self.user_id)
            self.query_one("#name", Input).focus()
        else:  # say at once what to do, not only after a Save
            self.query_one("#error", Static).update(LOAD_FIRST)
            self.query_one("#user_id", Input).focus()

    @on(Input.Submitted, "#user_id")
    async def _user_chosen(self, event: Input.Submitted) -> None:
        problem = id_problem(event.value)
        if problem:
            self._error(problem, "user_id")
            return
        await self._load(int(event.value.strip()))

    @on(Input.Changed)
    def _edited(self) -> None:
        """Any field changed: the form is checked again and its errors shown, as typed
        (the focus stays where the user types)."""
        problems = self.problems()
        if not problems and self.current is None:
            self._show(LOAD_FIRST)
            return
        self._show("\n".join(problems.values()), *problems)

    def problems(self) -> dict[str, str]:
        """Each field that is wrong now → why: the id (not a number, or not the user the
        form holds), then the profile's fields once a user is loaded."""
        text = self.query_one("#user_id", Input).value
        problems: dict[str, str] = {}
        wrong_id = (id_problem(text) if text.strip() else "") or self._id_mismatch()
        if wrong_id:
            problems["user_id"] = wrong_id
        if self.current is not None:
            problems.update(self.changes()[1])
        return problems

    def _id_mismatch(self) -> str:
        """Why the form cannot save while its id field names another user ('' if it can)."""
        if self.current is None:
            return ""
        text = self.query_one("#user_id", Input).value.strip()
        loaded = self.current.user_id
        if text == str(loaded):
            return ""
        other = f"user {text}" if text else "no user"
        return (
            f"the form holds user {loaded} but the id says {other}: press enter in the id "
            f"field to load it, or put back {loaded} to save"
        )

    async def _current(self, user_id: int) -> Profile | None:
        """What an update of the user builds on, looked at without a read (opening the
        form is no cache hit or miss): its pending write, its rejected dead letter, its
        cache entry, else its database row (None: no such user)."""
        engine = self.engine
        for write in reversed(engine.pending_writes()):
            if write.user_id == user_id:
                return write.profile
        for letter in engine.dead_letters():
            if letter.user_id == user_id and letter.kind == "rejected":
                return letter.profile
        cached = await engine.cache_peek([user_id])
        if user_id in cached:
            return cached[user_id]
        return (await engine.db_rows([user_id])).get(user_id)

    async def _load(self, user_id: int) -> None:
        try:
            profile = await self._current(user_id)
        except CacheTuiError as exc:
            self._error(str(exc), "user_id")
            return
        if profile is None:
            self._error(f"no user {user_id}", "user_id")
            return
        self.current = profile
        self.user_id = user_id
        self.query_one("#user_id", Input).value = str(user_id)
        for field in UPDATABLE_FIELDS:
            self.query_one(f"#{field}", Input).value = str(getattr(profile, field))
        self._error("")
        self.query_one(".title", Label).update(
            f"Edit user {user_id} (v{profile.version}, {self.engine.policy})"
        )

    def changes(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The fields that differ from the loaded profile, typed as the engine wants, and
        an error for each field that is not valid (every one of them, not just the first)."""
        assert self.current is not None
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for field in UPDATABLE_FIELDS:
            raw = self.query_one(f"#{field}", Input).value
            value: Any = raw
            problem = digit_problem(raw) if field == "followers" else ""
            problem = problem or control_problem(field, raw)
            if problem:
                errors[field] = f"{field}: {problem}" if field == "followers" else problem
                continue
            if field == "followers":
                digits = raw.strip()
                if digits.isascii() and digits.isdigit() and len(digits) > 30:
                    errors[field] = (
                        f"followers must be <= {MAX_INTEGER:,} (the largest the database "
                        f"stores), got a number of {len(digits):,} digits"
                    )
                    continue
                try:
                    if not raw.strip().isascii():
                        raise ValueError(raw)
                    value = int(raw.strip())
                except ValueError:
                    errors[field] = f"followers must be a whole number, got {raw!r}"
                    continue
            try:
                validate_changes({field: value})
            except ValidationError as exc:
                errors[field] = str(exc)
                continue
            if value != getattr(self.current, field):
                changes[field] = value
        return changes, errors

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#name, #bio, #location, #followers")
    async def save(self) -> None:
        if self.current is None:
            self._error(LOAD_FIRST, "user_id")
            return
        problems = self.problems()
        if "user_id" in problems:  # the form's user is not the one the id names
            problems["user_id"] = f"nothing saved: {problems['user_id']}"
        if problems:
            self._error("\n".join(problems.values()), *problems)
            return
        changes, _ = self.changes()
        try:
            changes = validate_changes(changes)
            profile = await self.engine.update(self.current.user_id, changes)
            self.op_id = last_op_id.get()  # the trace pane shows this operation
        except ValidationError as exc:
            self._error(str(exc), *([exc.field] if exc.field else []))
            return
        except CacheTuiError as exc:
            self._error(str(exc))
            return
        self.dismiss(profile)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _show(self, message: str, *fields: str) -> None:
        """Show ``message`` (one line per error) and mark ``fields`` invalid."""
        self.query_one("#error", Static).update(literal(message))  # it may quote the input
        for input_ in self.query(Input):
            input_.set_class(input_.id in fields, "-invalid")

    def _error(self, message: str, *fields: str) -> None:
        """:meth:`_show`, and the focus goes to the first field named (enter, Save)."""
        self._show(message, *fields)
        if fields:
            self.query_one(f"#{fields[0]}", Input).focus()


def id_problem(text: str) -> str:
    """Why ``text`` names no user id ('' when it names one): digits 0–9 only, the rule of
    every numeric field."""
    text = text.strip()
    if problem := digit_problem(text):
        return f"user id: {problem}"
    if problem := control_problem("user id", text):
        return problem
    if not (text.isascii() and text.isdigit()):
        return f"not a user id: {text!r} (a whole number)"
    if len(text.lstrip("0")) > len(str(MAX_INTEGER)):  # int() refuses 4,300 digits
        return f"no user {text[:24]}…: ids are at most {MAX_INTEGER:,}"
    return ""
