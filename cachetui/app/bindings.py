"""The dashboard's keys: what each is bound to, the help screen's lines about them, and
which of them leave a narrow footer first. :class:`~cachetui.app.app.CacheTuiApp` binds
them; the actions they name live in the app's parts (see its docstring)."""

from __future__ import annotations

import dataclasses

from textual.binding import Binding, BindingType

from cachetui.app.widgets.footer import PALETTE as PALETTE_KEY

#: Footer keys that leave a narrow footer first (all stay in help and the palette). The
#: way to help (?) and out (q) never leaves.
FOOTER_DROP_ORDER = (
    "verdicts",
    "talk_reset",
    "goto",
    "edit",
    "workload",
    "external_write",
    PALETTE_KEY,
    "policy('no-cache')",
    "flush",
    "outage",
    "link_fault",
    "crash",
    "policy('write-around')",
)

#: The dashboard's key bindings (``CacheTuiApp.BINDINGS``).
DASHBOARD_BINDINGS: list[BindingType] = [
    Binding(
        "1",
        "policy('write-through')",
        "Through",
        id="write-through",
        tooltip="switch to write-through: updates commit to the database, then set the cache",
    ),
    Binding(
        "2",
        "policy('write-behind')",
        "Behind",
        id="write-behind",
        tooltip="switch to write-behind: updates set the cache and queue the database write",
    ),
    Binding(
        "3",
        "policy('write-around')",
        "Around",
        id="write-around",
        tooltip="switch to write-around: updates commit to the database, drop the cache entry",
    ),
    Binding(
        "0",
        "policy('no-cache')",
        "No cache",
        id="no-cache",
        tooltip="switch to no cache: every read and write goes straight to the database",
    ),
    Binding(
        "p",
        "cycle_policy",
        "Next policy",
        show=False,
        id="cycle-policy",
        tooltip="switch to the next policy",
    ),
    Binding("r", "read", "Read", id="read", tooltip="read the followed user, else a random one"),
    Binding(
        "R",
        "read_burst",
        "Read ×100",
        show=False,
        id="read-burst",
        tooltip="read 100 random users at once",
    ),
    Binding(
        "u",
        "update",
        "Update",
        id="update",
        tooltip="update a random field of the followed user, else of a random one",
    ),
    Binding(
        "U",
        "update_burst",
        "Update ×100",
        show=False,
        id="update-burst",
        tooltip="update 100 random users at once",
    ),
    Binding(
        "g",
        "goto",
        "Go to",
        id="goto",
        tooltip="type a user id: read that user and follow it in all three panes",
    ),
    Binding("e", "edit", "Edit", id="edit", tooltip="edit the followed user's fields in a form"),
    Binding(
        "x",
        "external_write",
        "External",
        id="external-write",
        tooltip="write to the database behind the cache's back, as another service would",
    ),
    Binding(
        "i",
        "invalidate",
        "Invalidate",
        show=False,
        id="invalidate",
        tooltip="drop the followed user's cache entry: its next read misses",
    ),
    Binding(
        "f",
        "flush",
        "Flush",
        id="flush",
        tooltip="write the pending write-behind queue to the database now",
    ),
    Binding(
        "c",
        "crash",
        "Crash",
        id="crash",
        tooltip="simulate a process crash: the queue vanishes; shows the writes lost",
    ),
    Binding(
        "o",
        "outage",
        "Outage",
        id="outage",
        tooltip="database outage on/off: every database call fails",
    ),
    Binding(  # with a link (--db-rtt, --cache-rtt) instead of the one above
        "o",
        "link_fault",
        "Outage/partition",
        id="link-fault",
        tooltip="cycle: off → DB outage → link blackhole (bytes held) → link reset → off",
    ),
    Binding(
        "O",
        "cache_outage",
        "Cache outage",
        show=False,
        id="cache-outage",
        tooltip="cache outage on/off: the cache store is unreachable",
    ),
    Binding(
        "d",
        "dead_letters",
        "Dead letters",
        show=False,
        id="dead-letters",
        tooltip="list the writes the database rejected or that conflicted",
    ),
    Binding(
        "D",
        "cycle_queue",
        "Cycle the write-behind queue",
        show=False,
        id="queue",
        tooltip="where write-behind queues: memory, an outbox, a Redis Stream (lands first)",
    ),
    Binding(
        "P",
        "toggle_reject",
        "Reject followed user's writes",
        show=False,
        id="reject-writes",
        tooltip="the database rejects the followed user's writes (again: accepts them)",
    ),
    Binding(
        "l",
        "latency",
        "DB latency",
        show=False,
        id="latency",
        tooltip="cycle the database latency: 0, 10 ms, 100 ms, 1 s",
    ),
    Binding(  # with a link (--db-rtt, --cache-rtt) instead of the one above
        "l",
        "link_rtt",
        "Link RTT",
        show=False,
        id="link-rtt",
        tooltip="cycle the link's round trip, live: its start value, 10 ms, 50 ms, 0.3 ms",
    ),
    Binding(
        "w",
        "workload",
        "Workload",
        id="workload",
        tooltip="start or stop the background workload",
    ),
    Binding(
        "plus,equals_sign",
        "rate(1)",
        "Rate +",
        show=False,
        id="rate-up",
        tooltip="raise the background workload's rate",
    ),
    Binding(
        "minus",
        "rate(-1)",
        "Rate −",
        show=False,
        id="rate-down",
        tooltip="lower the background workload's rate",
    ),
    Binding(
        "m",
        "mix",
        "Read/write mix",
        show=False,
        id="mix",
        tooltip="cycle the workload's read/write mix",
    ),
    Binding(
        "k", "skew", "Key skew", show=False, id="skew", tooltip="cycle the workload's key skew"
    ),
    Binding(
        "z",
        "toggle_focus",
        "Focus panes",
        show=False,
        id="focus-panes",
        tooltip="hide the event log and secondary metrics to enlarge the panes",
    ),
    Binding(
        "M",
        "reset_metrics",
        "Reset metrics",
        show=False,
        id="reset-metrics",
        tooltip="totals, latencies and the 5 s window start again",
    ),
    Binding(
        "E",
        "export",
        "Export screen + metrics",
        show=False,
        id="export",
        tooltip="save the screen (SVG) and the metrics history (CSV, JSON) into a folder",
    ),
    Binding(  # talk mode only (--talk): see cachetui.app.talk_mode
        "X",
        "talk_reset",
        "Reset lab",
        id="talk-reset",
        tooltip="talk mode: put the lab back to its start (rows, cache, queue, counters)",
    ),
    Binding(
        "v",
        "verdicts",
        "Verdicts",
        id="verdicts",
        tooltip="what each policy cost in correctness: lost writes, stale reads, RYW…",
    ),
    Binding(
        "question_mark",
        "help",
        "Help",
        id="help",
        tooltip="what each policy, state and key means",
    ),
    Binding(
        "s",
        "scenarios",
        "Scenarios",
        show=False,
        id="scenarios",
        tooltip="pick a guided scenario to play step by step",
    ),
    # The scenario banner shows these three while a scenario runs (else disabled).
    Binding(
        "space,n",
        "scenario_next",
        "Next step",
        show=False,
        id="scenario-next",
        tooltip="run the scenario's next step",
    ),
    Binding(
        "b",
        "scenario_back",
        "Step back",
        show=False,
        id="scenario-back",
        tooltip="go back one step (the state before it is restored)",
    ),
    Binding(
        "escape",
        "scenario_leave",
        "Leave scenario",
        show=False,
        id="scenario-leave",
        tooltip="leave the scenario: policy, faults, cache and rows as before it",
    ),
    Binding(
        "q",
        "quit",
        "Quit",
        id="quit",
        tooltip="flush pending writes to the database, then quit",
    ),
]
#: (key, description) for the help screen and the README, in a sensible order.
DASHBOARD_KEY_HELP: list[tuple[str, str]] = [
    ("1 2 3 0", "policy: write-through, write-behind, write-around, no cache"),
    ("p", "cycle through the policies"),
    ("r / R", "read the followed user, else a Zipf-skewed random one / a burst of 100 reads"),
    ("u / U", "update a random field of the followed (else a random) user / a burst of 100"),
    ("g", "go to a user by id: read it and follow it in all three panes"),
    ("enter", "follow the user under the cursor in all three panes"),
    ("e", "edit a user in a form (errors shown inline, nothing written on error)"),
    ("x", "external DB write that bypasses the cache (the followed or a cached user)"),
    ("i", "invalidate: drop the followed user's cache entry (its next read misses)"),
    ("f", "flush the write-behind queue now"),
    ("c", "crash: the queue (and an in-process cache) vanish; shows the writes lost"),
    (
        "D",
        "cycle write-behind's queue: memory (lost on a crash) → an outbox file → a Redis "
        "Stream when --queue or --cache named a server (durable: a crash loses nothing)",
    ),
    (
        "o",
        "DB outage on/off (every DB call fails); with a link (--db-rtt, --cache-rtt): off → "
        "DB outage → link blackhole (bytes held: calls time out) → link reset (connections "
        "refused) → off",
    ),
    ("O", "cache outage on/off (the cache store is unreachable: reads go to the DB)"),
    (
        "d",
        "dead letters: writes the DB rejected or that conflicted, parked; inside: r retry, "
        "R retry all, delete discard (asks first), enter follow",
    ),
    (
        "P",
        "the DB rejects the followed user's writes (a real trigger; P again: accepts): a "
        "poison row",
    ),
    (
        "l",
        "cycle DB latency: 0, 10 ms, 100 ms, 1 s; with a link: the link's RTT, live: its "
        "start value, 10 ms, 50 ms, 0.3 ms (the header shows it measured)",
    ),
    ("w", "start/stop a background workload"),
    ("+ / -", "workload rate up / down"),
    ("m", "workload read/write mix: 80/20, 50/50, 95/5, 20/80"),
    ("k", "workload key skew (Zipf s): 1.1, uniform, 0.8, 1.5"),
    ("tab", "move between panes"),
    ("z", "focus: hide the event log and secondary metrics to enlarge the panes (z: back)"),
    (
        "M",
        "reset the metrics: totals, latencies and the 5 s window start again (lost "
        "writes, dead letters and conflicts are kept)",
    ),
    (
        "v",
        "verdicts: each policy's lost writes, stale reads, read-your-writes… and the "
        "violations with their evidence; enter: that user's timeline (esc: back)",
    ),
    ("E", "export the screen (SVG) and the metrics history (CSV, JSON) into a folder"),
    (
        "X",
        "talk mode only (--talk): reset the lab to its start, after asking: the talk "
        "database's rows, an empty cache and queue, no dead letters, every counter at 0 "
        "(lost writes too), the start's policy, latency and link; a new epoch",
    ),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("s", "guided scenarios: pick one to play step by step (or `cachetui --scenario NAME`)"),
    ("n b esc", "in a scenario: next step (also space) / step back (state restored) / leave"),
    ("q", "quit (flushes pending writes first)"),
]


def first_key(binding: Binding) -> Binding:
    """``binding`` with only the first of its keys ("plus,equals_sign": "plus")."""
    return dataclasses.replace(binding, key=binding.key.split(",")[0])
