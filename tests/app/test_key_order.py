"""Keys that act on the engine take effect in the order typed (issue 32, item 1): a burst
then a crash loses the burst; a burst then an outage lands the burst; two steps of a
scenario typed at once both run; and a key typed while updates wait for room in a full
queue still takes effect (the cure, o, never waits behind what it cures)."""

from __future__ import annotations

from textual import events

from cachetui.app.screens.dialogs import CrashReportScreen
from tests.app.conftest import settle

SIZE = (160, 45)
CHARACTERS = {"space": " "}


def type_at_once(app, *keys: str) -> None:
    """The keys as a fast typist (or a paste) sends them: all in the app's queue before
    the first is handled (Pilot's press waits for each key's handling)."""
    for key in keys:
        app.post_message(events.Key(key, CHARACTERS.get(key, key)))


async def test_a_burst_then_a_crash_loses_the_burst(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        type_at_once(app, "U", "c")  # typed together
        await settle(app, pilot)
        m = app.engine.metrics
        assert m.updates == 100 and m.pending == 0
        assert m.lost_writes == 100  # every acknowledged update of the burst
        assert isinstance(app.screen, CrashReportScreen)
        assert app.screen.lost_updates == 100 and app.screen.lost


async def test_a_burst_then_an_outage_lands_the_burst_first(make_app):
    app = make_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        type_at_once(app, "U", "o")
        await settle(app, pilot)
        assert app.engine.faults.db_down
        m = app.engine.metrics
        assert m.updates == 100 and m.db_writes == 100


async def test_a_flush_then_an_outage_lands_the_queue_first(make_app):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for user in (1, 2, 3):
            await app.engine.update(user, {"bio": "queued"})
        type_at_once(app, "f", "o")
        await settle(app, pilot)
        assert app.engine.faults.db_down
        m = app.engine.metrics
        assert m.pending == 0 and m.db_writes == 3


async def test_two_scenario_steps_typed_at_once_both_run(make_app):
    app = make_app(policy="write-through")
    app.scenario_mode.initial = "write-behind"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.scenario_run is not None and app.scenario_run.frame.is_intro
        type_at_once(app, "space", "space")
        await settle(app, pilot)
        assert app.scenario_run.frame.index == 1


async def test_a_key_typed_while_a_burst_waits_for_room_takes_effect(make_app):
    """DB down, a queue of 2, every user cached: the burst's updates wait for room, which
    only the database can make. o (typed after U) turns the outage off anyway, and then
    the whole burst is acknowledged."""
    app = make_app(policy="write-behind", max_pending=2, capacity=500)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for user in range(1, 201):
            await app.engine.read(user)
        app.engine.faults.db_down = True
        type_at_once(app, "U", "o")
        await settle(app, pilot)
        assert not app.engine.faults.db_down
        await app.engine.flush()
        m = app.engine.metrics
        assert m.updates == 100 and m.pending == 0
