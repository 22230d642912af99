"""The dead-letters view (key d): the writes the database would not take, parked in its
``dead_letters`` table; r retries the selected one, R all of them, delete discards one
(after a confirmation). What happened is said in a notification; errors too, with their
cause."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.app.states import DARK, Palette
from cachetui.app.widgets.dead_letter_table import DeadLetterTable, describe_letter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.engine import CacheTuiError, DeadLetter, Engine
from cachetui.engine.words import plural
from cachetui.literal import literal

#: The longest a retry waits for its writes to land before saying they are queued.
RETRY_FLUSH_SECONDS = 2.0
HINT = "r retry · R retry all · delete discard · P accept writes · enter follow · esc close"
EMPTY = (
    "No dead letters: every acknowledged write has landed or is still pending. A write "
    "the database rejects max_attempts times, or one another writer got ahead of, is "
    "parked here, never dropped."
)


class DeadLettersScreen(ModalScreen[None]):
    """``live``: re-read the dead letters every second (the flusher may park more);
    ``then``: an action of this screen to run once it is shown."""

    DEFAULT_CSS = """
    DeadLettersScreen { align: center middle; }
    DeadLettersScreen > Vertical {
        width: 90%; max-width: 150; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    DeadLettersScreen .title { text-style: bold; margin-bottom: 1; }
    /* rows at once, so that title, table, detail and keys fit in 90 % of the height */
    DeadLettersScreen DeadLetterTable { height: auto; max-height: 20; }
    DeadLettersScreen.-mid DeadLetterTable { max-height: 10; }
    DeadLettersScreen #detail { height: auto; max-height: 6; margin-top: 1; }
    DeadLettersScreen .hint { color: $text-muted; margin-top: 1; }
    /* a short terminal (80x24): fewer rows at once (the table scrolls), the rest stays */
    DeadLettersScreen.-short DeadLetterTable { max-height: 7; }
    DeadLettersScreen.-short .title, DeadLettersScreen.-short .hint { margin: 0; }
    """
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("R", "retry_all", "Retry all"),
        Binding("delete,backspace", "discard", "Discard"),
        Binding("P", "accept_writes", "Accept writes"),
        Binding("escape,d,q", "close", "Close"),
    ]

    def __init__(
        self,
        engine: Engine,
        palette: Palette = DARK,
        *,
        live: bool = True,
        then: str = "",
        rejecting: Callable[[], list[int]] = list,
        accepted: Callable[[int], None] = lambda user: None,
    ) -> None:
        super().__init__()
        self.engine = engine
        #: The users a lab trigger rejects (P set it), and what to tell when P removes one.
        self.rejecting = rejecting
        self.accepted = accepted
        self.palette = palette
        self.live = live
        self.then = then  # an action to run once shown (e.g. retry_all, from the palette)
        self._letters: dict[int, DeadLetter] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Dead letters", classes="title", id="title")
            yield DeadLetterTable(id="letters")
            yield Static("", id="detail")
            yield Static(HINT, classes="hint")

    def on_mount(self) -> None:
        self.show_letters()
        self.query_one(DeadLetterTable).focus()
        if self.live:
            self.set_interval(1.0, self.show_letters)
        if self.then:
            self.call_after_refresh(self.run_action, self.then)

    @property
    def table(self) -> DeadLetterTable:
        return self.query_one(DeadLetterTable)

    def show_letters(self) -> None:
        """Read the dead letters from the engine and show them."""
        letters = self.engine.dead_letters()
        self._letters = {d.user_id: d for d in letters}
        table = self.table
        selected = table.user_at_cursor()
        table.show(letters, self.palette)
        if selected is not None:  # the cursor stays on its user when rows come and go
            table.move_to_user(selected)
        count = len(letters)
        title = "Dead letters: none" if not count else f"Dead letters: {count:,} parked"
        where = Path(self.engine.config.db_path).name
        self.query_one("#title", Label).update(literal(title + (f" in {where}" if count else "")))
        self._show_detail()

    def _show_detail(self) -> None:
        letter = self._letters.get(self.table.user_at_cursor() or 0)
        if letter is None:
            text = EMPTY if not self._letters else ""
        else:
            text = describe_letter(letter, self.engine.config.conflict)
        self.query_one("#detail", Static).update(literal(text))  # the database's error, as it is

    def on_key_table_row_highlighted(self, event: KeyTable.RowHighlighted) -> None:
        self._show_detail()

    def on_key_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        # the app follows the user (the message bubbles on to it); the panes show it
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    # -- retry ---------------------------------------------------------------------------
    @work(group="dead-letters", exclusive=True)
    async def action_retry(self) -> None:
        user = self.table.user_at_cursor()
        if user is None:
            self.notify("no dead letter to retry", timeout=3)
            return
        await self._retry(user)

    @work(group="dead-letters", exclusive=True)
    async def action_retry_all(self) -> None:
        if not self._letters:
            self.notify("no dead letters to retry", timeout=3)
            return
        await self._retry(None)

    async def _retry(self, user: int | None) -> None:
        """Put the letters back in the write queue, wait a little for them to land, and
        say which landed, which were parked again and which still wait."""
        engine = self.engine
        asked = [user] if user is not None else list(self._letters)
        try:
            users = await engine.retry_dead_letters(user)
        except CacheTuiError as exc:
            self.notify(str(exc), title="Cannot retry", severity="warning")
            self.show_letters()
            return
        self.show_letters()
        kept = [u for u in asked if u not in users]  # a newer pending write holds them
        if not users:
            self.notify(
                f"{_users(kept, 'has a newer pending write', 'have newer pending writes')}: "
                "flush first (f), then retry",
                title="Nothing retried",
                severity="warning",
            )
            return
        try:
            await engine.flush(timeout=min(RETRY_FLUSH_SECONDS, engine.config.flush_timeout))
        except CacheTuiError as exc:
            self.show_letters()
            self.notify(
                f"{_users(users, 'is', 'are')} back in the write queue, but the database "
                f"is not taking writes: {exc}. "
                f"{plural(len(users), 'It lands', 'They land')} when it answers.",
                title="Retried, still pending",
                severity="warning",
                timeout=8,
            )
            return
        self.show_letters()
        if user is not None:
            self.table.move_to_user(user)  # parked again: it is a new row at the end
        parked = [u for u in users if u in self._letters]
        landed = [u for u in users if u not in self._letters]
        parts = []
        if landed:
            parts.append(f"{_users(landed)} landed in the database")
        if parked:
            errors = {self._letters[u].error for u in parked}
            parts.append(f"{_users(parked, 'was', 'were')} parked again: {'; '.join(errors)}")
        if kept:
            parts.append(f"{_users(kept)} kept (a newer write is pending: flush it first)")
        self.notify(
            "; ".join(parts),
            title="Retried",
            severity="warning" if parked or kept else "information",
            timeout=8,
        )

    # -- P: the key the detail names works here too ---------------------------------------
    @work(group="dead-letters", exclusive=True)
    async def action_accept_writes(self) -> None:
        user = self.table.user_at_cursor()
        if user is None:
            self.notify("no dead letter selected", timeout=3)
            return
        if user not in self.rejecting():
            self.notify(
                f"no lab trigger rejects user {user}'s writes: nothing to accept",
                title="Accept writes",
                timeout=4,
            )
            return
        try:
            await self.engine.accept_writes(user)
        except CacheTuiError as exc:
            self.notify(str(exc), title=f"Cannot change user {user}'s writes", severity="error")
            return
        self.accepted(user)
        self.notify(
            f"the lab trigger is gone; r retries user {user}'s dead letter",
            title=f"DB accepts user {user}'s writes",
        )

    # -- discard -------------------------------------------------------------------------
    @work(group="dead-letters", exclusive=True)
    async def action_discard(self) -> None:
        user = self.table.user_at_cursor()
        letter = self._letters.get(user or 0)
        if user is None or letter is None:
            self.notify("no dead letter to discard", timeout=3)
            return
        try:
            row = (await self.engine.db_rows([user])).get(user)
        except CacheTuiError:
            row = None
        holds = f"v{row.version}" if row is not None else "its row (unreadable now)"
        confirm = ConfirmScreen(
            f"Discard user {user}'s dead letter?",
            f"v{letter.version} ({_why(letter)}) was acknowledged but never "
            f"reached the database. Discarding it drops it for good, with its cache entry: "
            f"reads then see the database's {holds}.",
            yes=f"Discard v{letter.version}",
            no="Keep",
        )
        if not await self.app.push_screen_wait(confirm):
            self.notify(f"user {user}'s dead letter is kept", timeout=3)
            return
        try:
            letter = await self.engine.discard_dead_letter(user)
        except CacheTuiError as exc:
            self.notify(str(exc), title="Cannot discard", severity="error")
            self.show_letters()
            return
        self.show_letters()
        self.notify(
            f"user {user}'s v{letter.version} ({letter.kind}) is dropped; reads see the "
            f"database's {holds}",
            title="Dead letter discarded",
        )


def _users(users: Collection[int], one: str = "", many: str = "") -> str:
    """``user 13`` / ``users 1, 13``, with the verb that goes with one or many."""
    named = ", ".join(str(u) for u in sorted(users))
    text = f"user {named}" if len(users) == 1 else f"users {named}"
    verb = one if len(users) == 1 else many
    return f"{text} {verb}" if verb else text


def _why(letter: DeadLetter) -> str:
    """The kind and the error, once (a conflict's error already starts with its kind)."""
    if letter.error.startswith(letter.kind):
        return letter.error
    return f"{letter.kind}: {letter.error}"
