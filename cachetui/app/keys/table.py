"""The one table of cachetui's keys (see :mod:`cachetui.app.keys`): each row's keys and
what they do, as the help screen and the README list them, with the bindings behind them.
Its order is the footer's, the command palette's and the help screen's."""

# ruff: noqa: E501

from __future__ import annotations

from cachetui.app.keys.records import BOTH, COMPARE, DASHBOARD, PALETTE_ACTION, Key
from cachetui.app.keys.records import KeyBinding as B

# fmt: off
KEYS: tuple[Key, ...] = (
    Key(
        "1 2 3 0",
        "policy: write-through, write-behind, write-around, no cache",
        (
            B("1", "policy('write-through')", "Through", "write-through", "switch to write-through: updates commit to the database, then set the cache", footer=DASHBOARD),
            B("2", "policy('write-behind')", "Behind", "write-behind", "switch to write-behind: updates set the cache and queue the database write", footer=DASHBOARD),
            B("3", "policy('write-around')", "Around", "write-around", "switch to write-around: updates commit to the database, drop the cache entry", footer=DASHBOARD),
            B("0", "policy('no-cache')", "No cache", "no-cache", "switch to no cache: every read and write goes straight to the database", footer=DASHBOARD),
        ),
    ),
    Key(
        "p",
        "cycle through the policies",
        (B("p", "cycle_policy", "Next policy", "cycle-policy", "switch to the next policy"),),
    ),
    Key(
        "r / R",
        "read the followed user, else a Zipf-skewed random one / a burst of 100 reads",
        (
            B("r", "read", "Read", "read", "read the followed user, else a random one", modes=BOTH, footer=BOTH),
            B("R", "read_burst", "Read ×100", "read-burst", "read 100 random users at once", modes=BOTH, compare_action="burst('read')"),
        ),
    ),
    Key(
        "u / U",
        "update a random field of the followed user (else a random one) / a burst of 100 updates (random users)",
        (
            B("u", "update", "Update", "update", "update a random field of the followed user, else of a random one", modes=BOTH, footer=BOTH),
            B("U", "update_burst", "Update ×100", "update-burst", "update 100 random users at once", modes=BOTH, compare_action="burst('update')"),
        ),
    ),
    Key(
        "g",
        "go to a user by id: read it and follow it in all three panes (what you type right after `g`, even before the dialog shows, goes into it: `g 1 2 3 enter` in one go works)",
        (B("g", "goto", "Go to", "goto", "type a user id: read that user and follow it in all three panes", modes=BOTH, footer=BOTH),),
    ),
    Key(
        "enter",
        "follow the user under the cursor in all three panes (↑ ↓, page up/down, home/end move the cursor; once moved it stays on its user while rows come and go under load; a click moves it, a second click on the same row follows)",
    ),
    Key(
        "e",
        "edit the followed user in a form (or type an id and press enter to load one); opening it reads nothing (no hit, no miss); errors show inline as you type, nothing written on error",
        (B("e", "edit", "Edit", "edit", "edit the followed user's fields in a form", modes=BOTH, footer=BOTH),),
    ),
    Key(
        "x",
        "external DB write that bypasses the cache (the followed user, or a cached one)",
        (B("x", "external_write", "External", "external-write", "write to the database behind the cache's back, as another service would", modes=BOTH, footer=BOTH),),
    ),
    Key(
        "i",
        "invalidate: drop the followed user's cache entry, so its next read misses and loads the database's version (the cure for a stale entry; a pending write stays queued)",
        (B("i", "invalidate", "Invalidate", "invalidate", "drop the followed user's cache entry: its next read misses"),),
    ),
    Key(
        "f",
        "flush the write-behind queue now",
        (B("f", "flush", "Flush", "flush", "write the pending write-behind queue to the database now", modes=BOTH, footer=BOTH),),
    ),
    Key(
        "c",
        "crash: the queue (and an in-process cache) vanish; shows the acknowledged writes lost (a Redis cache survives: its lost versions show as orphaned)",
        (B("c", "crash", "Crash", "crash", "simulate a process crash: the queue vanishes; shows the writes lost", modes=BOTH, footer=BOTH),),
    ),
    Key(
        "o",
        "DB outage on/off (every DB call fails); with [a link](docs/link.md) (`--db-rtt`, `--cache-rtt`): off → DB outage → link blackhole (bytes held: calls wait for their timeout) → link reset (connections refused) → off, each said in the Events pane",
        (
            B("o", "outage", "Outage", "outage", "database outage on/off: every database call fails", modes=BOTH, footer=BOTH, when="no link"),
            B("o", "link_fault", "Outage/partition", "link-fault", "cycle: off → DB outage → link blackhole (bytes held) → link reset → off", footer=DASHBOARD, when="link"),
        ),
    ),
    Key(
        "O",
        "cache outage on/off (the cache store is unreachable: reads go to the DB)",
        (B("O", "cache_outage", "Cache outage", "cache-outage", "cache outage on/off: the cache store is unreachable", modes=BOTH),),
    ),
    Key(
        "d",
        "dead letters: the writes the database rejected or that conflicted, parked (see [Dead letters and conflicts](docs/engine.md#dead-letters-and-conflicts)); inside, `r` retries the selected one, `R` all of them, `delete` (or backspace) discards the selected one after asking, `P` accepts its user's writes again (the lab trigger goes), `enter` follows its user, `esc` closes; each says what happened (landed, parked again, still pending and why)",
        (B("d", "dead_letters", "Dead letters", "dead-letters", "list the writes the database rejected or that conflicted"),),
    ),
    Key(
        "D",
        "cycle the write-behind queue: memory (lost on a crash) → the outbox file beside the database → a Redis Stream (when `--queue` or `--cache` named a server); pending writes land before it moves (see [Making write-behind durable](docs/durable-queue.md))",
        (B("D", "cycle_queue", "Cycle the write-behind queue", "queue", "where write-behind queues: memory, an outbox, a Redis Stream (lands first)"),),
    ),
    Key(
        "P",
        "the database rejects every write of the followed user (a real database trigger, `cachetui_lab_reject_<id>`: a poison row); the header shows it; `P` again accepts them",
        (B("P", "toggle_reject", "Reject followed user's writes", "reject-writes", "the database rejects the followed user's writes (again: accepts them)"),),
    ),
    Key(
        "l",
        "cycle DB latency: 0, 10 ms, 100 ms, 1 s; with a link: the link's RTT, live: its start value → 10 ms → 50 ms → 0.3 ms → back (the header shows the RTT measured through the link, every second)",
        (
            B("l", "latency", "DB latency", "latency", "cycle the database latency: 0, 10 ms, 100 ms, 1 s", modes=BOTH, when="no link"),
            B("l", "link_rtt", "Link RTT", "link-rtt", "cycle the link's round trip, live: its start value, 10 ms, 50 ms, 0.3 ms", when="link"),
        ),
    ),
    Key(
        "L",
        "DB error rate: 0, 10 %, 50 % of database calls fail (compare mode)",
        (B("L", "error_rate", "DB error rate", "error-rate", "cycle the database error rate: 0, 10 %, 50 % of calls fail", modes=COMPARE),),
    ),
    Key(
        "w, + / -",
        "start/stop a background workload; its rate up / down (10 … 50,000 ops/s)",
        (
            B("w", "workload", "Workload", "workload", "start or stop the background workload", modes=BOTH, footer=BOTH),
            B("plus,equals_sign", "rate(1)", "Rate +", "rate-up", "raise the background workload's rate", modes=BOTH),
            B("minus", "rate(-1)", "Rate −", "rate-down", "lower the background workload's rate", modes=BOTH),
        ),
    ),
    Key(
        "m",
        "workload read/write mix: 80/20, 50/50, 95/5, 20/80",
        (B("m", "mix", "Read/write mix", "mix", "cycle the workload's read/write mix", modes=BOTH),),
    ),
    Key(
        "k",
        "workload key skew (Zipf s): 1.1, uniform, 0.8, 1.5",
        (B("k", "skew", "Key skew", "skew", "cycle the workload's key skew", modes=BOTH),),
    ),
    Key(
        "tab",
        "move between panes (the focused one has a highlighted border; the event log follows the newest event unless you scroll it up to read)",
    ),
    Key(
        "z",
        "focus: hide the event log and the secondary metrics to enlarge the three panes (`z` again: back)",
        (B("z", "toggle_focus", "Focus panes", "focus-panes", "hide the event log and secondary metrics to enlarge the panes"),),
    ),
    Key(
        "M",
        "reset the metrics: totals, latencies, the 5 s window and the verdict counts start again (lost writes, dead letters and conflicts are kept)",
        (B("M", "reset_metrics", "Reset metrics", "reset-metrics", "totals, latencies and the 5 s window start again"),),
    ),
    Key(
        "E",
        "export the screen (SVG) and the metrics history (CSV, JSON) into a folder you choose",
        (B("E", "export", "Export screen + metrics", "export", "save the screen (SVG) and the metrics history (CSV, JSON) into a folder"),),
    ),
    Key(
        "X",
        "talk mode only (`--talk`), after asking: the lab back to its start without restarting: the talk database's rows as seeded, cache, queue and dead letters empty, every counter at 0 (lost writes too), the start's policy, queue, latency and link; a new epoch",
        (B("X", "talk_reset", "Reset lab", "talk-reset", "talk mode: put the lab back to its start (rows, cache, queue, counters)", footer=DASHBOARD, when="talk"),),
    ),
    Key(
        "v",
        "verdicts: what each policy cost in correctness so far (the metrics strip's title says it in one line: `write-around: 0 lost · 31 stale (≤ 2 writes, ≤ 840 ms behind) · RYW ✓`): the violations, each with its evidence; `enter` opens that user's timeline, a space-time diagram (a lane per caller, then cache, queue, database; versions on each step); `esc` back (see [Verdicts](docs/verdicts.md))",
        (B("v", "verdicts", "Verdicts", "verdicts", "what each policy cost in correctness: lost writes, stale reads, RYW…", footer=DASHBOARD),),
    ),
    Key(
        "F",
        "the fleet pane: one row per instance on the fleet queue (`--queue redis://…`, see [A fleet](docs/fleet.md)): name, policy, pending writes, last heartbeat, partitions held, what it claimed from dead instances, live / dead / claimed away; the Write queue pane then says who lands each pending write; without a fleet queue it says how to start one",
        (B("F", "fleet", "Fleet", "fleet", "show or hide the fleet's instances: pending, heartbeat, partitions, claims"),),
    ),
    Key(
        "?",
        "help: each policy and each key (`esc`, `q` or `?` closes it)",
        (
            B("question_mark", "help", "Help", "help", "what each policy, state and key means", footer=DASHBOARD),
            B("question_mark", "keys", "Keys", "keys", "show or hide the panel of every key and what it does", modes=COMPARE),
        ),
    ),
    Key(
        "s",
        "guided scenarios; in a scenario `space`/`n` next step, `b` step back, `escape` leave",
        (
            B("s", "scenarios", "Scenarios", "scenarios", "pick a guided scenario to play step by step"),
            # The scenario banner shows these three while a scenario runs.
            B("space,n", "scenario_next", "Next step", "scenario-next", "run the scenario's next step", when="scenario"),
            B("b", "scenario_back", "Step back", "scenario-back", "go back one step (the state before it is restored)", when="scenario"),
            B("escape", "scenario_leave", "Leave scenario", "scenario-leave", "leave the scenario: policy, faults, cache and rows as before it", when="scenario"),
        ),
    ),
    Key(
        "ctrl+p",
        "command palette: every action by name, with its key and what it does (a scenario's steps only while one runs)",
    ),
    Key(
        "q",
        "quit (also `ctrl+q`, `ctrl+c`): flushes pending writes first; if the DB is down, says how many would be lost and asks; says how many dead letters stay parked in the database (named on stderr after exit)",
        (B("q", "quit", "Quit", "quit", "flush pending writes to the database, then quit", modes=BOTH, footer=BOTH),),
    ),
)
# fmt: on

#: The actions whose footer keys leave a narrow footer first, in order (each stays in help
#: and the palette; :data:`PALETTE_ACTION` is ctrl+p). Help (?) and quit (q) never leave.
FOOTER_DROP_ORDER: tuple[str, ...] = (
    "verdicts",
    "talk_reset",
    "goto",
    "edit",
    "workload",
    "external_write",
    PALETTE_ACTION,
    "policy('no-cache')",
    "flush",
    "outage",
    "link_fault",
    "crash",
    "policy('write-around')",
)
