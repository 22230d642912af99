"""The status header: the policy, the cache, database and flush settings, faults, the
state legend and the background workload, in two lines that never wrap.

:class:`StatusHeader` makes the lines for the dashboard (which draws them whenever a
knob, a repaint or a sample changes what they say); the widget that fits them to the
width is :class:`~cachetui.app.widgets.status.StatusBar`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text

from cachetui.app.dashboard import Dashboard
from cachetui.app.dead_letter_keys import DeadLetterKeys
from cachetui.app.faults_workload import skew_name
from cachetui.app.states import POLICY_STYLES, SYMBOLS, duration, legend
from cachetui.app.widgets.status import Part, part
from cachetui.engine import EngineConfig, KeyState
from cachetui.engine.lab.link import Link
from cachetui.engine.lab.workload import ENGINE_LIMITED, Workload


class StatusHeader:
    """The header of ``dashboard``; the users whose writes are rejected are
    ``rejects``'s."""

    def __init__(self, dashboard: Dashboard, rejects: DeadLetterKeys) -> None:
        self._dashboard = dashboard
        self._rejects = rejects

    def lines(self) -> list[list[Part]]:
        """Two header lines that never wrap: on a narrow screen the db path, the cache
        and the flush settings shorten, then go; the policy and faults always stay."""
        dashboard = self._dashboard
        engine = dashboard.engine
        config = engine.config
        policy = engine.policy.value

        def labelled(label: str, value: str) -> Text:
            return Text.assemble((f"  {label} ", "dim"), value)

        ttl = f", ttl {config.ttl:g}s" if config.ttl else ", no ttl"
        bound = engine.max_pending  # a scenario may lower it for a demo
        described = getattr(engine.db, "description", "")  # a server's, once opened
        run = dashboard.scenario_run  # a scenario pauses the flush timer: its steps flush
        interval = "by step" if run is not None and run.active else f"{config.flush_interval:g}s"
        line1 = [
            part(f" {policy.upper()} ", style=POLICY_STYLES[policy]),
            part(
                labelled("cache", f"{engine.store.description}{ttl}"),
                labelled("cache", engine.store.description.split(" (")[0]),
                "",
                drop=2,
            ),
            part(
                *(labelled("db", form) for form in db_forms(described, config)),
                "",
                drop=3,
            ),
            part(
                labelled("flush", f"{interval} · batch {config.batch_size} · max {bound:,}"),
                labelled("flush", interval),
                "",
                drop=1,
            ),
        ]

        def alarm(message: str) -> Text:
            return Text.assemble("  ", (f" ⚠ {message} ", "bold white on red"))

        if engine.queue_durable:  # where acknowledged write-behind writes wait
            where = engine.queue_location
            persistence = engine.queue_persistence
            line1.insert(
                3,
                part(
                    labelled("queue", f"{where} ({persistence})" if persistence else where),
                    labelled("queue", "redis stream" if persistence else Path(where).name),
                    "",
                    drop=2,
                ),
            )
        faults = engine.faults.describe()
        if faults:
            line1.append(part(alarm(faults)))
        for name, link in (("cache", engine.links.cache), ("db", engine.links.db)):
            if link is not None:  # right after the db (the cache's after the db's)
                line1.insert(3, link_part(name, link))
                if link.partition is not None:
                    line1.append(part(alarm(PARTITION_ALARMS[link.partition].format(name))))
        lost_file = engine.database_file_error
        if lost_file:  # deleted or replaced while open: writes stay pending, q offers a new file
            how = "deleted" if " was deleted " in lost_file else "replaced"
            line1.append(
                part(
                    alarm(f"DB file {how}: writes kept pending, q offers a new file"),
                    alarm(f"DB file {how}"),
                )
            )
        rejecting = self._rejects.rejecting_users()
        if rejecting:  # P: a real trigger refuses these users' writes
            users = ", ".join(str(u) for u in rejecting)
            who = f"user {users}'s writes" if len(rejecting) == 1 else f"writes of users {users}"
            line1.append(part(alarm(f"DB rejects {who}"), alarm(f"rejects {users}")))
        if not engine.cache_available and not engine.faults.cache_down:
            line1.append(part(alarm(engine.cache_error), alarm("cache unreachable")))
        letters = len(engine.dead_letters())
        if letters:  # parked writes wait for someone to retry or discard them (d)
            badge = dashboard.state_palette.states[KeyState.REJECTED]
            symbol = SYMBOLS[KeyState.REJECTED]
            named = f"{letters:,} dead letter{'s' if letters != 1 else ''}"
            line1.append(
                part(
                    Text.assemble("  ", (f" {symbol} {named}: d ", badge)),
                    Text.assemble("  ", (f" {symbol} {letters:,} ", badge)),
                )
            )
        palette = dashboard.state_palette
        # the legend compacts first: the workload's numbers and its limit matter more
        forms = [legend(palette), legend(palette, compact=1), legend(palette, compact=2)]
        workload = dashboard.workload
        running = workload is not None and workload.running
        if running:  # at 80 columns even the compact legend left no room for the rate
            forms.append(Text(""))
        line2 = [part(*forms, drop=2)]
        if workload is not None and running:
            line2.extend(workload_parts(workload))
            line1.extend(workload_errors(workload, alarm))
        return [line1, line2]


def workload_parts(w: Workload) -> list[Part]:
    """The running workload: achieved vs target, and why it is below (the engine or
    the event loop, not the target, sets the rate)."""
    achieved = w.achieved
    done = "–" if achieved is None else f"{achieved:,.0f}"
    rate = f"   ▶ workload {done}/s of {w.target:,} target"
    parts = [
        part(
            f"{rate} · {w.read_ratio:.0%} reads · {skew_name(w.skew)}",
            rate,
            f"   ▶ workload {done}/s of {w.target:,}",
            "   ▶ workload",
            drop=0,
            style="bold",
        )
    ]
    limit = w.limited_by
    if limit is not None:
        why = "waits on the engine" if limit == ENGINE_LIMITED else "no loop time left"
        parts.append(
            part(  # the panes repaint at 2 Hz meanwhile (Refresher.panes_slowed)
                Text(
                    f"  rate set by the {limit} ({why}), not the target · panes 2/s",
                    style="yellow",
                ),
                Text(f"  set by the {limit}", style="yellow"),
                drop=1,
            )
        )
    return parts


def workload_errors(w: Workload, alarm: Callable[[str], Text]) -> list[Part]:
    """The workload's failed operations (since it was made) with the last cause."""
    stats = w.stats
    if not stats.errors:
        return []
    cause = stats.last_error or "no cause given"
    if not stats.reads and not stats.updates:
        return [
            part(
                alarm(f"every workload operation fails: {cause}"),
                alarm("every workload operation fails"),
            )
        ]
    return [
        part(
            alarm(f"{stats.errors:,} workload errors, last: {cause}"),
            alarm(f"{stats.errors:,} workload errors"),
        )
    ]


#: The header's alarm while a link is partitioned (``{}``: db or cache).
PARTITION_ALARMS = {
    "blackhole": "{} link blackhole: bytes held",
    "reset": "{} link reset: connections refused",
}


def db_forms(description: str, config: EngineConfig) -> list[str]:
    """The database in the header, longest first: a server's description ("PostgreSQL
    15.10 at HOST:PORT/DBNAME"), then without the version, then the database's name
    alone, then the kind; a SQLite file's path, then its name."""
    if config.db_url is None:
        return [description or config.db_path, Path(config.db_path).name]
    kind, at, where = description.partition(" ")[0], " at ", description.partition(" at ")[2]
    if not where:  # not opened yet: the URL, masked
        return [description, kind]
    dbname = where.rpartition("/")[2]
    return [description, f"{kind}{at}{where}", f"{kind} {dbname}" if dbname else kind, kind]


def link_part(name: str, link: Link) -> Part:
    """A link's header part: its RTT as set and as measured through it (the relay's
    report, every second: see docs/link.md) and, with jitter, the jitter's p50/p99."""
    label = Text(f"  {name} link ", style="dim")
    rtt = duration(link.rtt)
    measured = link.measured_rtt()
    seen = "measuring…" if measured is None else f"measured {duration(measured)}"
    short = "…" if measured is None else duration(measured)
    if link.partition is not None:
        seen = short = "partitioned"
    jitter = ""
    if link.jitter:
        jitter = f" · jitter p50 {duration(link.jitter_p50)} p99 {duration(link.jitter)}"
    return part(  # shortens after the cache and the db (drop 2, 3): it is live
        label + Text(f"rtt {rtt} ({seen}){jitter}"),
        label + Text(f"{rtt} ({short}){jitter}"),
        label + Text(f"{rtt} ({short})"),
        label + Text(rtt),
        drop=1,
    )
