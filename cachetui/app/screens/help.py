"""The help screen: what each policy does, what each key does."""

# ruff: noqa: E501

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

POLICIES_MD = """\
# cachetui — a lab for cache write policies

Every read and update goes through a real cache store in front of a real database: a
SQLite file, or a PostgreSQL server (`--db postgresql://…`; the header names it).
The three panes show what each of them holds **right now**; a user keeps the same colour and symbol in all three:
**● clean** (cache = DB) · **◆ dirty** (a newer write is pending) ·
**▲ stale** (the DB is newer than the cache) · **✖ orphaned** (the cache is newer than
the DB, nothing pending) · **○ uncached** · and two for a write parked as a **dead
letter** (never dropped: **d** lists them to retry or discard): **⊘ rejected** (the DB
refused it, e.g. a constraint; **P** stages one) · **≠ conflict** (another writer
changed the row since the write was built; under write-behind it is parked, not written
over the other writer).

Each policy, and what an update does under it:

- **1 write-through**: commits to the DB, then sets the cache, then returns. *Cost:*
  every update pays a DB commit; cache and DB agree after it.
- **2 write-behind**: sets the cache, queues the write, returns at once; the queue is
  flushed in batches every flush interval, coalescing repeated updates of a user into
  one DB write. *Risk:* fastest, but a crash loses what is queued (**c** shows exactly
  what).
- **3 write-around**: commits to the DB and drops the cache entry. *Cost:* the next
  read of that user misses.
- **0 no cache**: reads and writes go straight to the DB. The baseline: every read
  pays the DB.

Reads: a hit is served from the cache; a miss looks in the write queue first
(read-your-writes), then reads the DB and fills the cache. Leaving write-behind
flushes the queue first. Quitting flushes it too.

No policy protects against a write that bypasses the cache (**x**, another service):
even under write-through the cached entry stays **▲ stale** until it is invalidated
(**i**) or expires (TTL).

The Database pane keeps a window of rows: the followed user first, then the users just
written, then the latest updated. Its **updated** column is when the update was
acknowledged: under write-behind that is before its commit (the row lands at the next
flush, with that time). Under **0 no cache** the Cache pane still lists what the cache
holds, but no read or write uses it.

The Cache pane's **uses** column counts the lookups that found the entry: reads
(hits), updates, and the misses that waited for another read of the same user to load
it (one database read serves them all). The **hit ratio** in the metrics counts reads
that found the entry at once, so the two differ as soon as cached users are updated or
read concurrently.
"""


CLOSE_HINT = "esc, q or ? closes · ↑ ↓ PgUp PgDn scroll"


def keys_markdown(bindings: list[tuple[str, str]]) -> str:
    lines = ["## Keys", "", "| key | what it does |", "|---|---|"]
    lines += [f"| `{key}` | {text} |" for key, text in bindings]
    return "\n".join(lines) + "\n\nEvery action is also in the command palette (**ctrl+p**).\n"


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 120; height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
        border-title-style: bold; border-subtitle-color: $text;
    }
    HelpScreen.-narrow > VerticalScroll { width: 100%; height: 100%; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.key_help = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Help"
            scroll.border_subtitle = CLOSE_HINT  # on the frame: seen however far it scrolls
            yield Markdown(POLICIES_MD + "\n" + keys_markdown(self.key_help))

    def action_close(self) -> None:
        self.dismiss(None)
