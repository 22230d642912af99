"""The compare screen: two engines, one stream of operations, two halves side by side,
and a line that states the difference live."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path
from typing import Any, cast

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from cachetui.app.faults_workload import LATENCIES, READ_RATIOS, SKEWS, next_in, next_rate
from cachetui.app.keys.bindings import COMPARE_BINDINGS, FOOTER_DROP_ORDER
from cachetui.app.screens.dialogs import GotoScreen
from cachetui.app.screens.edit import EditScreen
from cachetui.app.session import Session
from cachetui.app.states import Palette, palette_for
from cachetui.app.widgets.footer import DashboardFooter
from cachetui.app.widgets.key_table import KeyTable
from cachetui.compare.difference import difference_line, side_numbers
from cachetui.compare.edit_target import EditTarget
from cachetui.compare.mirror import Mirror, OpKind
from cachetui.compare.outcomes import burst_line, crash_line, done_line, failed_line
from cachetui.compare.side import SidePanel, side_label
from cachetui.compare.status_line import status_line
from cachetui.engine import CacheTuiError, Engine, Profile
from cachetui.engine.lab.demo_data import random_changes
from cachetui.engine.lab.workload import Workload
from cachetui.engine.words import plural
from cachetui.literal import literal

#: One half per tick, so each half repaints once a second at most (three tables a frame).
REFRESH_SECONDS = 0.5
IDLE_REFRESH_SECONDS = 2.0
BURST = 100
ERROR_RATES = (0.0, 0.1, 0.5)


class CompareApp(App[None]):
    """``a`` and ``b`` are started (and seeded alike with ``seed_profiles``) on mount and
    closed on quit. ``live=False`` stops the refresh timer (tests call
    :meth:`refresh_view`); ``timings=False`` hides durations, for deterministic snapshots."""

    CSS_PATH = Path(__file__).with_name("compare.tcss")
    TITLE = "cachetui compare"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-mid"), (40, "-tall")]
    BINDINGS = COMPARE_BINDINGS

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
        #: Both engines from start to quit, and the terminal: q on SIGTERM, SIGHUP, SIGINT.
        self.session = Session(
            self, self.mirror.engines, lambda _: self.call_later(self.action_quit)
        )
        self.followed: int | None = None
        self.total_rows = 0
        self.label_a = side_label(a, b)
        self.label_b = side_label(b, a)
        self._latency_index = 0
        self._refreshing = False
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
            self.session.failed(exc)
            return
        for index in (0, 1):
            self.side(index).total_rows = await self.engines[index].db_count()
        self.mirror.start()
        self.workload = Workload(
            self.mirror,
            keys=max(1, self.total_rows),
            seed=self.rng.random(),  # type: ignore[arg-type]
        )
        self.session.attach_terminal()
        self.side(0).query_one(KeyTable).focus()
        await self.refresh_view()
        if self.live:
            self.set_interval(REFRESH_SECONDS, self._tick)

    async def on_unmount(self) -> None:
        self.session.detach_terminal()
        await self._release()

    async def action_quit(self) -> None:
        await self._release(timeout=2)
        self.exit()

    async def _release(self, timeout: float = 1) -> None:
        if self.workload is not None:
            await self.workload.stop()
        await self.mirror.stop()
        await self.session.release(timeout)

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
            shot_a, shot_b = self.side(0).snapshot, self.side(1).snapshot
            if shot_a is not None and shot_b is not None:  # both halves shown once
                line = difference_line(  # each side's numbers as its half shows them
                    side_numbers(self.label_a, a, shot_a),
                    side_numbers(self.label_b, b, shot_b),
                    timings=self.timings,
                )
                self.query_one("#difference", Static).update(literal(line, "bold"))  # URLs
            self._show_status()
        finally:
            self._refreshing = False

    def _show_status(self) -> None:
        text = status_line(self.engines[0], self.workload, self.followed, self.palette)
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
            line = failed_line(what, user, exc, palette)
        except asyncio.CancelledError:
            return
        else:
            line = done_line(what, user, profile, engine.policy, palette)
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
            self.side(index).show_outcome(burst_line(kind, BURST, failed))
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

        policy = f"{self.label_a} vs {self.label_b}"
        target = cast(Engine, EditTarget(policy, self.mirrored, self.engines[0]))
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
            rows = after.db_writes - before.db_writes
            tx = after.db_transactions - before.db_transactions
            self.side(index).show_outcome(
                f"flush: {rows} {plural(rows, 'write')} in {tx} {plural(tx, 'transaction')}"
                if rows
                else "flush: nothing landed"
            )
        await self.refresh_view()

    @work(group="crash", exclusive=True)
    async def action_crash(self) -> None:
        """Both processes crash: what each loses (a memory queue's acknowledged writes)."""
        for index, engine in enumerate(self.engines):
            lost = await engine.crash()
            self.side(index).show_outcome(crash_line(lost, engine.last_crash, self.palette))
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
        assert self.workload is not None
        self.workload.set_rate(next_rate(self.workload.rate, step))
        self._show_status()

    def action_mix(self) -> None:
        assert self.workload is not None
        self.workload.read_ratio = next_in(READ_RATIOS, self.workload.read_ratio)
        self._show_status()

    def action_skew(self) -> None:
        assert self.workload is not None
        self.workload.set_skew(next_in(SKEWS, self.workload.skew))
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
