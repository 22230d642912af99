"""Every built-in scenario end to end in the app, checking each narration against the engine.

The narration's numbers are measured, so each test asserts both what the banner says and
what the engine's metrics and the database rows say, independently.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from cachetui.app.app import CacheTuiApp
from cachetui.app.screens.scenario_picker import ScenarioPicker
from cachetui.app.widgets.banner import ScenarioBanner
from cachetui.engine import EventKind, WritePolicy
from cachetui.scenarios import BUILTIN_NAMES, Frame, builtin_scenario
from tests.app.conftest import build_app, notifications, rows, settle, text_of
from tests.conftest import db_version
from tests.waits import wait_until

SIZE = (160, 45)


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    return str(tmp_path / "profiles.db")


def make(db_file: str, scenario: str | None = None, **options) -> CacheTuiApp:
    """The app as tests/app/conftest.py builds it, told to start into ``scenario``."""
    app = build_app(db_file, **options)
    app.scenario_mode.initial = scenario
    return app


def frame(app: CacheTuiApp) -> Frame:
    assert app.scenario_run is not None and app.scenario_run.frame is not None
    return app.scenario_run.frame


def banner(app: CacheTuiApp) -> str:
    return " ".join(text_of(app, "#scenario-banner").split())


async def press(app: CacheTuiApp, pilot, key: str = "space") -> Frame:
    await pilot.press(key)
    await settle(app, pilot)
    return frame(app)


async def cached(app: CacheTuiApp) -> dict[int, int]:
    return {e.profile.user_id: e.profile.version for e in await app.engine.cache_entries()}


def says(app: CacheTuiApp, text: str) -> None:
    """The banner shows the narration, and the narration says ``text``."""
    narration = frame(app).narration
    assert text in narration, narration
    assert " ".join(narration.split()) in banner(app)


# -- each shipped scenario ---------------------------------------------------------------------
async def test_no_cache_then_cache(db_file):
    app = make(db_file, "no-cache")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert frame(app).is_intro and "Without a cache" in banner(app)
        await press(app, pilot)
        m = app.engine.metrics
        assert app.engine.policy is WritePolicy.NO_CACHE
        assert (m.reads, m.db_reads, m.hits) == (20, 20, 0)
        assert await cached(app) == {}
        says(app, "No cache: 20 reads made 20 database reads")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.reads, m.misses, m.db_reads) == (40, 40, 40)
        assert set(await cached(app)) == set(range(1, 21))
        says(app, "the same 20 reads made 20 misses and 20 database reads to fill it")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.reads, m.hits, m.db_reads) == (60, 20, 40)
        says(app, "20 of 20 hit the cache (100%), 0 database reads")
        assert frame(app).is_last


async def test_write_through_equality_and_cost(db_file):
    app = make(db_file, "write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        assert app.engine.faults.db_latency == 0.02
        says(app, "database 20 ms away. User 7 is cached at v1; the database holds v1")
        assert app.followed == 7 and 7 in rows(app, "#cache")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.updates, m.db_writes, m.db_transactions) == (5, 5, 5)
        assert m.update_p50 is not None and m.update_p50 >= 0.018  # each paid the DB
        assert db_version(db_file, 7) == 6 and (await cached(app))[7] == 6
        says(app, "5 updates of user 7, each committed before it was acknowledged: ")
        says(app, "5 database writes in 5 transactions")
        await press(app, pilot)
        assert app.engine.metrics.pending == 0 and app.engine.metrics.hits == 1
        says(app, "Cache v6, database v6: equal, with 0 writes pending")
        says(app, "1 hit, 0 database reads")


async def test_write_behind_acks_at_once_and_coalesces(db_file):
    app = make(db_file, "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        assert app.engine.policy is WritePolicy.WRITE_BEHIND
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.updates, m.db_writes, m.coalesced, m.pending) == (30, 0, 29, 1)
        assert m.update_p50 is not None and m.update_p50 < 0.02  # no DB wait for an ack
        assert db_version(db_file, 7) == 1
        assert rows(app, "#queue")[7][1] == "31"
        says(app, "30 updates acknowledged at once")
        says(app, "cache v31, queue v31 (29 updates coalesced into 1 pending write)")
        says(app, "database still v1")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.updates, m.db_writes, m.db_transactions, m.pending) == (30, 1, 1, 0)
        assert db_version(db_file, 7) == 31
        says(app, "30 updates became 1 database write in 1 transaction (29 absorbed")
        says(app, "Database v31 = cache v31")


async def test_crash_names_the_lost_writes(db_file):
    app = make(db_file, "crash")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        says(app, "5 users were read into the cache")
        await press(app, pilot)
        m = app.engine.metrics
        assert m.updates == 9 and m.lost_writes == 9 and m.db_writes == 0  # updates lost
        lost = {(1, 2), (2, 2), (3, 6), (4, 2), (5, 2)}
        for user, version in lost:
            assert db_version(db_file, user) == 1 < version
        says(app, "9 updates acknowledged, then a crash: the write queue vanished")
        says(app, "5 users have lost acknowledged writes; the newest lost: user 1 v2, user 2 v2, ")
        says(app, "user 3 v6")
        assert await cached(app) == {} and app.engine.metrics.pending == 0
        crash = [e for e in app.engine.recent_events() if e.kind is EventKind.CRASH]
        assert crash and "5 users' acknowledged writes lost" in crash[-1].detail
        await press(app, pilot)
        assert (await cached(app))[3] == 1
        says(app, "After the crash user 3 reads v1 (0 hits, 1 miss) and the database holds v1")


async def test_write_around_update_then_miss(db_file):
    app = make(db_file, "write-around")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        says(app, "User 7 is cached at v1, like the database (v1)")
        await press(app, pilot)
        assert db_version(db_file, 7) == 2 and 7 not in await cached(app)
        assert app.engine.metrics.db_writes == 1
        says(app, "committed to the database (1 write, now v2)")
        says(app, "the cache holds nothing for user 7")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.misses, m.db_reads) == (2, 2)  # step 1's miss and this one
        assert (await cached(app))[7] == 2
        says(app, "missed (1 miss) and paid 1 database read to cache v2 again")


async def test_external_write_is_stale_until_invalidated(db_file):
    app = make(db_file, "stale")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        await press(app, pilot)
        assert db_version(db_file, 7) == 2 and (await cached(app))[7] == 1
        assert app.engine.metrics.external_writes == 1
        says(app, "it holds v2 now, the cache still v1")
        assert "stale" in " ".join(rows(app, "#cache")[7])
        await press(app, pilot)
        assert app.engine.metrics.hits == 1
        says(app, "A read hits (1 hit) and serves the stale v1 while the database has v2")
        says(app, "The entry never expires (no TTL).")
        await press(app, pilot)
        assert (await cached(app))[7] == 2
        says(app, "miss (1 miss) and fetch v2 from the database (which holds v2)")


async def test_stale_with_a_ttl_says_when_it_expires(db_file):
    app = make(db_file, "stale", ttl=300.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(3):
            await press(app, pilot)
        assert "The entry expires in " in frame(app).narration
        seconds = int(frame(app).narration.split("expires in ")[1].split()[0])
        assert 290 <= seconds <= 300


async def test_outage_write_through_fails_write_behind_rides_it_out(db_file):
    app = make(db_file, "outage")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        says(app, "15 users were read into the cache")
        await press(app, pilot)
        m = app.engine.metrics
        assert app.engine.faults.db_down and m.failed_updates == 1 and m.updates == 0
        assert (await cached(app))[1] == 1
        says(app, "write-through failed the caller with “database is down (injected outage)”")
        says(app, "0 updates were acknowledged and the cache still holds v1")
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.updates, m.pending, app.engine.queue.max_pending) == (10, 10, 10)
        assert all(db_version(db_file, u) == 1 for u in range(1, 11))
        says(app, "10 updates acknowledged at once with the database down")
        says(app, "10 writes wait in the queue, bounded at 10")
        assert re.search(r"· max 10(?![,\d])", text_of(app, "#status"))  # the live bound
        await press(app, pilot)
        m = app.engine.metrics
        assert (m.updates, m.pending) == (10, 10)
        blocked = [e for e in app.engine.recent_events() if e.kind is EventKind.BACKPRESSURE]
        assert {e.user_id for e in blocked} == set(range(11, 16))
        says(app, "The queue is full (10 of 10): 0 more updates were acknowledged and 5 updates")
        says(app, "are waiting for room")
        await press(app, pilot)
        m = app.engine.metrics
        assert not app.engine.faults.db_down
        assert (m.updates, m.pending, m.db_writes, m.lost_writes) == (15, 0, 15, 0)
        assert all(db_version(db_file, u) == 2 for u in range(1, 16))
        says(app, "15 writes landed in 2 transactions, 5 waiting updates were acknowledged")
        says(app, "0 writes still pending, 0 writes lost")


async def test_poison_row_lands_the_others_and_parks_the_rejected_one(db_file):
    app = make(db_file, "poison-row")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await step(app, pilot)
        says(app, "The database now rejects every write of user 4")
        assert "DB rejects user 4's writes" in text_of(app, "#status")
        await step(app, pilot)
        says(app, "6 updates acknowledged at once: 6 writes pending, user 4's (v2) among them")
        await step(app, pilot)
        m = app.engine.metrics
        assert (m.db_writes, m.rejections, m.dead_letters) == (5, 3, 1)
        assert [db_version(db_file, u) for u in range(1, 7)] == [2, 2, 2, 1, 2, 2]
        says(app, "The flush: 5 writes landed in ")
        says(app, "User 4's was refused 3 times, then parked as a dead letter (rejected: ")
        says(app, "Nothing was dropped: user 4 v2 (rejected).")
        assert "⊘ rejected" in rows(app, "#cache")[4] and "⊘ rejected" in rows(app, "#database")[4]
        await step(app, pilot)
        assert app.engine.dead_letters()[0].version == 3 and db_version(db_file, 4) == 1
        says(app, "replaces it (v3, still built on v1); it is not sent to the database (0 writes)")
        says(app, "Reads serve it: cache v3, database v1.")
        await step(app, pilot)
        assert db_version(db_file, 4) == 3 and app.engine.dead_letters() == []
        says(app, "it landed, the database holds v3; 0 dead letters are left.")
        assert "rejects" not in text_of(app, "#status")
        await pilot.press("escape")
        await settle(app, pilot)
        await leaves_no_trace(app, db_file)


async def test_another_writer_parks_a_conflict_with_both_versions(db_file):
    app = make(db_file, "another-writer")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(3):
            await step(app, pilot)
        assert db_version(db_file, 7) == 3 and app.engine.metrics.pending == 1
        says(app, "it holds v3 now. The queue still holds v2, built on v1.")
        await step(app, pilot)
        m = app.engine.metrics
        assert (m.conflicts, m.db_writes, m.dead_letters) == (1, 0, 1)
        [letter] = app.engine.dead_letters()
        assert (letter.kind, letter.version, letter.base_version, letter.db_version) == (
            "conflict",
            2,
            1,
            3,
        )
        assert db_version(db_file, 7) == 3 and 7 not in await cached(app)
        says(app, "The flush found the row at v3, not at v1: 1 conflict, 0 rows written.")
        says(app, "The write (v2) is parked as a dead letter of kind conflict")
        says(app, "so reads see the database (v3)")
        assert "≠ conflict" in rows(app, "#database")[7]
        assert any(e.kind is EventKind.CONFLICT for e in app.engine.recent_events())
        await step(app, pilot)
        assert app.engine.dead_letters() == [] and (await cached(app))[7] == 3
        says(app, "User 7 reads v3 (1 miss), the other writer's version; 0 dead letters are left.")
        await pilot.press("escape")
        await settle(app, pilot)
        await leaves_no_trace(app, db_file)


async def step(app: CacheTuiApp, pilot) -> Frame:
    """Next step, waiting only for its worker (which repaints the panes and the banner)."""
    await pilot.press("space")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    return frame(app)


async def leaves_no_trace(app: CacheTuiApp, db_file: str) -> None:
    """After leaving: no dead letter, no lab trigger, no pending write, rows as before."""
    assert app.scenario_run is None
    assert app.engine.dead_letters() == [] and app.engine.metrics.pending == 0
    with sqlite3.connect(db_file) as conn:
        assert (
            conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'cachetui_lab%'"
            ).fetchall()
            == []
        )
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
    assert all(db_version(db_file, u) == 1 for u in range(1, 10))


# -- back, leave, picker, command line ------------------------------------------------------------
async def test_back_restores_the_state_before_the_step(db_file):
    app = make(db_file, "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(3):
            await press(app, pilot)
        assert db_version(db_file, 7) == 31
        step2 = await press(app, pilot, "b")  # state after step 2: before the flush
        assert step2.index == 1
        m = app.engine.metrics
        assert (m.updates, m.coalesced, m.pending, m.db_writes) == (30, 29, 1, 0)
        assert db_version(db_file, 7) == 1 and (await cached(app))[7] == 31
        says(app, "30 updates acknowledged at once")
        again = await press(app, pilot)  # the flush can be shown again
        assert again.index == 2 and db_version(db_file, 7) == 31
        says(app, "30 updates became 1 database write")
        await press(app, pilot, "b")
        step1 = await press(app, pilot, "b")
        assert step1.index == 0 and app.engine.metrics.updates == 0
        assert await cached(app) == {7: 1} and app.engine.metrics.pending == 0
        intro = await press(app, pilot, "b")
        assert intro.is_intro and await cached(app) == {} and db_version(db_file, 7) == 1
        assert app.engine.faults.db_latency == 0
        await press(app, pilot, "b")
        assert any("start of the scenario" in n for n in notifications(app))
        assert (await press(app, pilot, "n")).index == 0


async def test_back_over_a_crash_and_over_blocked_updates(db_file):
    app = make(db_file, "crash")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(3):
            await press(app, pilot)
        before = frame(app)
        await press(app, pilot, "b")
        assert frame(app).index == 1 and app.engine.metrics.lost_writes == 9
        assert db_version(db_file, 3) == 1 and await cached(app) == {}
        assert (await press(app, pilot)).narration == before.narration
    app = make(db_file, "outage")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            await press(app, pilot)
        await press(app, pilot, "b")
        assert frame(app).index == 3 and app.engine.faults.db_down
        assert "5 updates are waiting for room" in frame(app).narration
        assert app.engine.metrics.pending == 10
        assert all(db_version(db_file, u) == 1 for u in range(1, 16))
        await press(app, pilot)
        assert app.engine.metrics.db_writes == 15 and db_version(db_file, 15) == 2


async def test_escape_leaves_and_restores_the_engine(db_file):
    app = make(db_file, policy="write-around", max_pending=500)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.engine.read(5)
        app.engine.faults.db_latency = 0.001
        app.start_scenario(builtin_scenario("outage"))
        await settle(app, pilot)
        assert app.engine.faults.db_latency == 0  # the baseline has no fault
        assert isinstance(app.query_one(ScenarioBanner), ScenarioBanner)
        assert app.query_one("#scenario-banner").display
        for _ in range(4):
            await press(app, pilot)
        assert app.engine.queue.max_pending == 10 and app.engine.faults.db_down
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.scenario_run is None
        assert not app.query_one("#scenario-banner").display
        assert app.engine.policy is WritePolicy.WRITE_AROUND
        assert app.engine.faults.db_latency == 0.001 and not app.engine.faults.db_down
        assert app.engine.queue.max_pending == 500
        assert app.engine.metrics.pending == 0
        assert await cached(app) == {5: 1}
        assert all(db_version(db_file, u) == 1 for u in range(1, 16))
        assert any("left" in n for n in notifications(app))
        # without a scenario the step keys do nothing
        await pilot.press("space", "b", "escape")
        await settle(app, pilot)
        # … and the metrics are back at their values on entry (one read)
        assert app.scenario_run is None and app.engine.metrics.reads == 1


async def test_picker_lists_every_builtin_and_starts_one(db_file):
    app = make(db_file)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, ScenarioPicker), "s opened the picker")
        picker = app.screen
        assert [s.name for s in picker.scenarios] == list(BUILTIN_NAMES)
        await pilot.press("down", "down", "enter")  # the third: write-behind
        await settle(app, pilot)
        assert frame(app).scenario.name == "write-behind" and frame(app).is_intro
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, ScenarioPicker), "s opened the picker")
        await pilot.press("escape")  # closes the picker, not the scenario
        await settle(app, pilot)
        assert app.scenario_run is not None


async def test_picking_another_scenario_leaves_the_first(db_file):
    app = make(db_file, "write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        await press(app, pilot)
        assert db_version(db_file, 7) == 1 and app.engine.metrics.pending == 1
        app.start_scenario(builtin_scenario("stale"))
        await settle(app, pilot)
        assert frame(app).scenario.name == "stale" and app.engine.metrics.pending == 0
        assert db_version(db_file, 7) == 1 and await cached(app) == {}
        await press(app, pilot)
        says(app, "User 7 is cached at v1; the database holds v1.")


async def test_a_scenario_file_from_the_command_line(db_file, tmp_path):
    path = tmp_path / "talk.toml"
    path.write_text(
        'title = "My talk"\n'
        "[[step]]\n"
        'narration = "{updates} updates became {total.db_writes:write}."\n'
        'actions = ["policy write-behind", "read 3", "update 3 x4", "flush"]\n'
    )
    app = make(db_file, str(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "My talk" in banner(app)
        await press(app, pilot)
        assert app.engine.metrics.db_writes == 1
        says(app, "4 updates became 1 write.")
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, ScenarioPicker), "s opened the picker")
        assert [s.name for s in app.screen.scenarios][-1] == "talk"
        await pilot.press("escape")


async def test_a_bad_scenario_name_given_to_the_app_is_reported(db_file):
    app = make(db_file, "nope")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.scenario_run is None
        assert any("unknown scenario 'nope'" in n for n in notifications(app))


TALKS = Path(__file__).resolve().parents[2] / "docs" / "talks.md"
TALKS_TOML = re.search(r"```toml\n(.*?)```", TALKS.read_text(), re.S).group(1)


async def test_the_talk_pages_scenario_example_runs(db_file, tmp_path):
    path = tmp_path / "breath.toml"
    path.write_text(TALKS_TOML)
    app = make(db_file, str(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot)
        says(app, "30 updates of one user, acknowledged at once: 1 write pending.")
        await press(app, pilot)
        says(app, "The flush wrote 1 row in 1 transaction.")
        assert db_version(db_file, 7) == 31
