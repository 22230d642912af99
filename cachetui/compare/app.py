"""The compare screen: two engines, one stream of operations, two halves side by side,
and a line that states the difference live."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from cachetui.app.faults_workload import LATENCIES, READ_RATIOS, SKEWS, skew_name
from cachetui.app.operations import update_failure
from cachetui.app.quitting import guard_hangup
from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.states import Palette, palette_for
from cachetui.app.terminal import detach_from_terminal, terminal_gone
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.compare.difference import difference_line, plural, side_numbers
from cachetui.compare.mirror import Mirror, OpKind
from cachetui.compare.side import SidePanel
from cachetui.engine import (
    CacheTuiError,
    DeadLetter,
    Engine,
    PendingWrite,
    Profile,
    WritePolicy,
)
from cachetui.engine.lab.demo_data import random_changes
from cachetui.engine.lab.workload import Workload

#: One half per tick, so each half repaints once a second at most (three tables a frame).
REFRESH_SECONDS = 0.5
IDLE_REFRESH_SECONDS = 2.0
BURST = 100
ERROR_RATES = (0.0, 0.1, 0.5)
FOOTER_DROP_ORDER = ("goto", "edit", "external-write", "flush", "workload")


def side_label(engine: Engine, other: Engine) -> str:
    """The policy, and the queue too when both sides run the same policy."""
    if engine.policy is other.policy:
        return f"{engine.policy} ({engine.config.queue_url})"
    return str(engine.policy)


class _EditTarget:
    """What the edit form needs of an engine, mirrored: its read loads the form through
    both sides; its save updates both and answers with side A's outcome."""

    def __init__(self, app: CompareApp) -> None:
        self._app = app
        self.policy = f"{app.label_a} vs {app.label_b}"

    async def read(self, user_id: int) -> Profile:
        return await self._app.mirrored("read", user_id)

    async def update(self, user_id: int, changes: dict[str, Any]) -> Profile:
        return await self._app.mirrored("update", user_id, changes)

    # What the form loads without a read (no hit, no miss): side A's view of the user.
    def pending_writes(self) -> list[PendingWrite]:
        return self._app.engines[0].pending_writes()

    def dead_letters(self) -> list[DeadLetter]:
        return self._app.engines[0].dead_letters()

    async def cache_peek(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        return await self._app.engines[0].cache_peek(user_ids)

    async def db_rows(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        return await self._app.engines[0].db_rows(user_ids)


class CompareApp(App[None]):
    """``a`` and ``b`` are started (and seeded alike with ``seed_profiles``) on mount and
    closed on quit. ``live=False`` stops the refresh timer (tests call
    :meth:`refresh_view`); ``timings=False`` hides durations, for deterministic snapshots."""

    CSS_PATH = Path(__file__).with_name("compare.tcss")
    TITLE = "cachetui compare"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-mid"), (40, "-tall")]
    BINDINGS = [
        Binding("r", "read", "Read", id="read"),
        Binding("R", "burst('read')", "Read ×100", show=False, id="read-burst"),
        Binding("u", "update", "Update", id="update"),
        Binding("U", "burst('update')", "Update ×100", show=False, id="update-burst"),
        Binding("g", "goto", "Go to", id="goto"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("x", "external_write", "External", id="external-write"),
        Binding("f", "flush", "Flush", id="flush"),
        Binding("c", "crash", "Crash", id="crash"),
        Binding("o", "outage", "Outage", id="outage"),
        Binding("O", "cache_outage", "Cache outage", show=False, id="cache-outage"),
        Binding("l", "latency", "DB latency", show=False, id="latency"),
        Binding("L", "error_rate", "DB error rate", show=False, id="error-rate"),
        Binding("w", "workload", "Workload", id="workload"),
        Binding("plus,equals_sign", "rate(1)", "Rate +", show=False, id="rate-up"),
        Binding("minus", "rate(-1)", "Rate −", show=False, id="rate-down"),
        Binding("m", "mix", "Read/write mix", show=False, id="mix"),
        Binding("k", "skew", "Key skew", show=False, id="skew"),
        Binding("question_mark", "keys", "Keys", show=False, id="keys"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        a: Engine,
        b: Engine,
        *,
        seed_profiles: int = 1000,
        live: bool = True,
        timings: bool = True,
        seed: int | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        if theme is not None:
            self.theme = theme
        self.mirror = Mirror(a, b)
        self.seed_profiles = seed_profiles
        self.live = live
        self.timings = timings
        self.rng = random.Random(seed)
        self.workload: Workload | None = None
        self.startup_error: str | None = None
        self.followed: int | None = None
        self.total_rows = 0
        self.label_a = side_label(a, b)
        self.label_b = side_label(b, a)
        self._latency_index = 0
        self._refreshing = False
        self._signals: list[int] = []
        self._painted_activity: tuple[object, ...] = ()
        self._painted_at = 0.0
        self._next_side = 1

    @property
    def engines(self) -> tuple[Engine, Engine]:
        return self.mirror.engines

    @property
    def palette(self) -> Palette:
        return palette_for(self.current_theme.dark)

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="sides"):
            for name, lane in zip(("A", "B"), self.mirror.lanes, strict=True):
                yield SidePanel(name, lane.engine, lane, id=f"side-{name.lower()}")
        yield Static("", id="difference")
        yield DashboardFooter(FOOTER_DROP_ORDER)

    def side(self, index: int) -> SidePanel:
        return self.query_one(f"#side-{'ab'[index]}", SidePanel)

    async def on_mount(self) -> None:
        try:
            for engine in self.engines:
                await engine.start()
                await engine.seed(self.seed_profiles)
            self.total_rows = await self.engines[0].db_count()
        except CacheTuiError as exc:
            self.startup_error = str(exc)
            self.exit(return_code=2)
            return
        for index in (0, 1):
            self.side(index).total_rows = await self.engines[index].db_count()
        self.mirror.start()
        self.workload = Workload(
            self.mirror,
            keys=max(1, self.total_rows),
            seed=self.rng.random(),  # type: ignore[arg-type]
        )
        self._install_signal_handlers()
        self.side(0).query_one(KeyTable).focus()
        await self.refresh_view()
        if self.live:
            self.set_interval(REFRESH_SECONDS, self._tick)

    def _install_signal_handlers(self) -> None:
        """SIGTERM, SIGHUP and SIGINT quit like q in a terminal (Textual's Linux driver
        handles none of them), so the engines close and the copies are deleted; the web
        driver and headless tests keep their own handling."""
        if self.is_headless or self.is_web:
            return
        loop = asyncio.get_running_loop()
        guard_hangup()  # a hangup under tmux/ssh: see Quitting
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal)
            except (NotImplementedError, RuntimeError, ValueError, AttributeError):
                continue
            self._signals.append(signum)

    def _on_signal(self) -> None:
        if terminal_gone():  # closed under us: draw nowhere instead of hanging on it
            detach_from_terminal()
        self.call_later(self.action_quit)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        while self._signals:
            loop.remove_signal_handler(self._signals.pop())
        await self._release()

    async def action_quit(self) -> None:
        await self._release(timeout=2)
        self.exit()

    async def _release(self, timeout: float = 1) -> None:
        if self.workload is not None:
            await self.workload.stop()
        await self.mirror.stop()
        for engine in self.engines:
            if engine.running:
                try:
                    await engine.close(timeout=timeout)
                except CacheTuiError:
                    await engine.close(timeout=0, discard=True)

    # -- repainting ------------------------------------------------------------------------
    def _activity(self) -> tuple[object, ...]:
        """What changes when anything happens on either side (cheap to compute)."""
        state: list[object] = [self.followed]
        for lane in self.mirror.lanes:
            stats, m = lane.stats, lane.engine.metrics
            state += [stats.started, stats.finished, stats.failed, m.pending, m.db_writes]
            state += [m.lost_writes, lane.engine.cache_available]
        return tuple(state)

    async def _tick(self) -> None:
        """The timer: one half per tick, in turn (a frame paints three tables, not six:
        shorter pauses of the event loop), on activity; else only every
        IDLE_REFRESH_SECONDS (the 5-second windows still slide)."""
        activity = self._activity()
        idle = activity == self._painted_activity
        if idle and time.monotonic() - self._painted_at < IDLE_REFRESH_SECONDS:
            return
        self._painted_activity = activity
        self._painted_at = time.monotonic()
        self._next_side = 1 - self._next_side
        await self.refresh_view((self._next_side,))

    async def refresh_view(self, sides: tuple[int, ...] = (0, 1)) -> None:
        """Repaint the halves ``sides`` (both by default), the header and the difference
        line."""
        if self._refreshing or self.screen is not self.screen_stack[0]:
            return
        self._refreshing = True
        try:
            for index in sides:
                try:
                    await self.side(index).repaint(self.followed, self.palette, self.timings)
                except CacheTuiError as exc:
                    self.side(index).show_outcome(f"cannot refresh: {exc}")
            a, b = self.engines
            line = difference_line(
                side_numbers(self.label_a, a), side_numbers(self.label_b, b), timings=self.timings
            )
            self.query_one("#difference", Static).update(Text(line, style="bold"))
            self._show_status()
        finally:
            self._refreshing = False

    def _show_status(self) -> None:
        faults = self.engines[0].faults
        on = []
        if faults.db_down:
            on.append("DB outage")
        if faults.cache_down:
            on.append("cache outage")
        if faults.db_error_rate:
            on.append(f"DB errors {faults.db_error_rate:.0%}")
        if faults.db_latency:
            on.append(f"DB latency {faults.db_latency * 1000:g} ms")
        workload = self.workload
        if workload is None:
            load = ""
        elif workload.running:
            load = (
                f"workload {workload.rate:,} ops/s to both, {workload.read_ratio:.0%} reads, "
                f"{skew_name(workload.skew)}"
            )
        else:
            load = f"workload off (w: {workload.rate:,} ops/s)"
        followed = f"following user {self.followed}" if self.followed else ""
        parts = ["same operations to both sides", load, followed]
        text = Text(" · ".join(p for p in parts if p))
        if on:
            text.append("  ")
            text.append(" ".join(f"⚠ {f}" for f in on), style=f"bold {self.palette.bad}")
        self.query_one("#status", Static).update(text)

    # -- operations on both sides ----------------------------------------------------------
    async def mirrored(
        self, kind: OpKind, user: int, changes: dict[str, Any] | None = None
    ) -> Profile:
        """Issue one operation to both; each side shows its own outcome when it has one;
        returns side A's profile (raises side A's error)."""
        op, futures = self.mirror.issue(kind, user, changes, want_result=True)
        what = {"read": "read", "update": "update", "external": "external write of"}[kind]
        waits = []
        for index, future in enumerate(futures):
            assert future is not None
            waits.append(asyncio.ensure_future(self._report(index, what, user, future)))
        await asyncio.wait(waits)
        self.call_later(self.refresh_view)
        assert futures[0] is not None
        return futures[0].result()

    async def _report(
        self, index: int, what: str, user: int, future: asyncio.Future[Profile]
    ) -> None:
        engine = self.engines[index]
        palette = self.palette
        try:
            profile = await asyncio.shield(future)
        except CacheTuiError as exc:
            if what == "update":
                title, message = update_failure(user, exc)
                line = Text(f"✖ {title}: {message}", style=f"bold {palette.bad}")
            else:
                line = Text(f"✖ {what} user {user} failed: {exc}", style=f"bold {palette.bad}")
        except asyncio.CancelledError:
            return
        else:
            if what == "update" and engine.policy is WritePolicy.WRITE_BEHIND:
                how = "acknowledged, queued for the DB"
            elif what == "update":
                how = "in the DB"
            else:
                how = "ok"
            line = Text(f"✔ {what} user {user} → v{profile.version}: {how}", style=palette.ok)
        self.side(index).show_outcome(line)

    def _target(self) -> int:
        assert self.workload is not None
        return self.followed or self.workload.keys.next()

    @work(group="ops")
    async def action_read(self, user: int | None = None) -> None:
        with contextlib.suppress(CacheTuiError):  # each side says what happened
            await self.mirrored("read", user or self._target())

    @work(group="ops")
    async def action_update(self) -> None:
        with contextlib.suppress(CacheTuiError):
            await self.mirrored("update", self._target(), random_changes(self.rng))

    @work(group="ops")
    async def action_burst(self, kind: OpKind) -> None:
        assert self.workload is not None
        futures = []
        for _ in range(BURST):
            user = self.workload.keys.next()
            changes = random_changes(self.rng) if kind == "update" else None
            futures += self.mirror.issue(kind, user, changes, want_result=True)[1]
        await asyncio.gather(*(f for f in futures if f is not None), return_exceptions=True)
        for index in (0, 1):
            side = futures[index::2]
            failed = sum(
                1 for f in side if f is not None and (f.cancelled() or f.exception() is not None)
            )
            self.side(index).show_outcome(
                f"burst of {BURST} {kind}s: {BURST - failed} ok, {failed} failed"
            )
        await self.refresh_view()

    def action_goto(self) -> None:
        def chosen(user: int | None) -> None:
            if user is not None:
                self.followed = user
                self.action_read(user)

        self.push_screen(GotoScreen(max(1, self.total_rows)), chosen)

    def action_edit(self) -> None:
        def saved(profile: Profile | None) -> None:
            if profile is not None:
                self.followed = profile.user_id
                self.call_later(self.refresh_view)

        target = cast(Engine, _EditTarget(self))
        self.push_screen(EditScreen(target, self.followed), saved)

    @work(group="ops")
    async def action_external_write(self) -> None:
        user = self._target()
        changes = {"bio": f"Edited by another service at {time.strftime('%H:%M:%S')}"}
        with contextlib.suppress(CacheTuiError):
            await self.mirrored("external", user, changes)

    @work(group="flush", exclusive=True)
    async def action_flush(self) -> None:
        for index, engine in enumerate(self.engines):
            before = engine.metrics
            try:
                await engine.flush(timeout=2)
            except CacheTuiError as exc:
                self.side(index).show_outcome(Text(f"✖ flush failed: {exc}", style="bold red"))
                continue
            after = engine.metrics
            self.side(index).show_outcome(
                f"flush: {after.db_writes - before.db_writes} writes in "
                f"{after.db_transactions - before.db_transactions} transactions"
            )
        await self.refresh_view()

    @work(group="crash", exclusive=True)
    async def action_crash(self) -> None:
        """Both processes crash: what each loses (a memory queue's acknowledged writes)."""
        for index, engine in enumerate(self.engines):
            lost = await engine.crash()
            report = engine.last_crash
            replayed = report.replayed if report is not None else 0
            if lost:
                line = Text(
                    f"✖ crash: {plural(report.lost_updates, 'acknowledged update')} of "
                    f"{plural(len(lost), 'user')} lost (never reached the DB)",
                    style=f"bold {self.palette.bad}",
                )
            elif replayed:
                line = Text(
                    f"✔ crash: nothing lost; {plural(replayed, 'write')} replayed from the "
                    "durable queue",
                    style=self.palette.ok,
                )
            else:
                line = Text("✔ crash: nothing lost (nothing was pending)", style=self.palette.ok)
            self.side(index).show_outcome(line)
        await self.refresh_view()

    # -- faults and the workload, on both ------------------------------------------------------
    def action_outage(self) -> None:
        down = not self.engines[0].faults.db_down
        for engine in self.engines:
            engine.faults.db_down = down
        self._show_status()

    def action_cache_outage(self) -> None:
        down = not self.engines[0].faults.cache_down
        for engine in self.engines:
            engine.faults.cache_down = down
        self._show_status()

    def action_latency(self) -> None:
        self._latency_index = (self._latency_index + 1) % len(LATENCIES)
        for engine in self.engines:
            engine.faults.db_latency = LATENCIES[self._latency_index]
        self._show_status()

    def action_error_rate(self) -> None:
        """L: the share of DB calls that fail, on both: 0, 10 %, 50 %."""
        rates = ERROR_RATES
        current = self.engines[0].faults.db_error_rate
        rate = rates[(rates.index(current) + 1) % len(rates)] if current in rates else 0.0
        for engine in self.engines:
            engine.faults.db_error_rate = rate
        self._show_status()

    async def action_workload(self) -> None:
        assert self.workload is not None
        if self.workload.running:
            await self.workload.stop()
        else:
            self.workload.start()
        self._show_status()

    def action_rate(self, step: int) -> None:
        workload = self.workload
        assert workload is not None
        rates = Workload.RATES
        index = min(range(len(rates)), key=lambda i: abs(rates[i] - workload.rate))
        workload.set_rate(rates[max(0, min(len(rates) - 1, index + step))])
        self._show_status()

    def action_mix(self) -> None:
        assert self.workload is not None
        ratios = READ_RATIOS
        current = self.workload.read_ratio
        self.workload.read_ratio = ratios[(ratios.index(current) + 1) % len(ratios)]
        self._show_status()

    def action_skew(self) -> None:
        assert self.workload is not None
        skews = SKEWS
        current = self.workload.skew
        self.workload.set_skew(skews[(skews.index(current) + 1) % len(skews)])
        self._show_status()

    def action_keys(self) -> None:
        """?: the panel of every key and what it does, on both sides (? again: hidden)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def on_key_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        self.followed = event.user
        self.call_later(self.refresh_view)
