"""F, the fleet pane, and the Write queue pane's owner column: with a real fleet (the
app's engine and a second engine on one SQLite file and one Redis fleet queue), without
one (one line on how to start one), and as a snapshot; and what the Events pane says when
an instance dies, its partitions are claimed and its writes have landed."""

from __future__ import annotations

import asyncio
import time

from cachetui.app.fleet_view import NO_FLEET, FleetWatch
from cachetui.app.widgets.panes import FleetPane
from cachetui.engine import Engine, EngineConfig
from cachetui.engine.fleet.leases import Claim
from cachetui.engine.fleet.status import FleetMember, FleetStatus, PendingEntry
from tests.app.conftest import build_app, rows, settle, text_of
from tests.conftest import delete_test_keys

TIMEOUT = 30.0  # seconds a fleet may take to settle on a loaded machine (not a speed test)


async def until(check, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        assert time.monotonic() < deadline, f"not within {TIMEOUT:g} s: {what}"
        await asyncio.sleep(0.05)


async def test_f_lists_the_instances_and_the_queue_says_who_lands_each_write(tmp_path, redis_url):
    db = str(tmp_path / "fleet.db")
    fleet = dict(queue_url=redis_url, fleet=True, policy="write-behind", flush_interval=3600)
    app = build_app(db, profiles=40, instance_name="dash", **fleet)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(app, pilot)
            peer = Engine(EngineConfig(db_path=db, instance_name="peer", **fleet))
            await peer.start()
            try:

                async def shared() -> bool:  # both hold partitions
                    status = await app.engine.fleet_status()
                    return status is not None and all(m.partitions for m in status.members)

                await until(shared, "the two instances share the partitions")
                for user in range(1, 17):  # two users in each of the 8 partitions
                    await peer.update(user, {"bio": f"from peer {user}"})
                status = await app.engine.fleet_status()
                assert status is not None
                mine = next(m for m in status.members if m.name == "dash").partitions

                async def fed() -> bool:  # the app's partitions' writes are in its queue
                    return len(app.engine.pending_writes()) == 2 * len(mine)

                await until(fed, "the app fed its partitions' entries")
                await pilot.press("F")
                await app.refresher.fleet.look()
                await settle(app, pilot)
                assert app.query_one(FleetPane).display
                shown = text_of(app, "#fleet")
                lines = {line.split()[0]: line for line in shown.splitlines()[1:] if line.strip()}
                assert set(lines) == {"dash", "peer"}
                assert "(this)" in lines["dash"] and "write-behind" in lines["dash"]
                assert "● live" in lines["dash"] and "● live" in lines["peer"]
                held = ",".join(str(k) for k in mine)
                assert held in lines["dash"].split()
                assert "instances" in str(app.query_one(FleetPane).border_title)
                queue = rows(app, "#queue")
                assert "owner" in app.query_one("#queue").shown_columns
                assert sorted(queue) == list(range(1, 17))  # this queue and the peer's
                for user, cells in queue.items():
                    lands = "peer→dash" if user % 8 in mine else "peer"
                    assert cells[2] == lands, (user, cells)
                await pilot.press("F")
                await settle(app, pilot)
                assert not app.query_one(FleetPane).display
            finally:
                await peer.close()
    finally:
        delete_test_keys(redis_url, tmp_path)


async def test_f_without_a_fleet_queue_says_how_to_start_one(make_app):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("F")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert app.query_one(FleetPane).display
        assert text_of(app, "#fleet").strip() == NO_FLEET
        assert "owner" not in app.query_one("#queue").shown_columns


def statuses() -> tuple[FleetStatus, FleetStatus]:
    """The fleet before and after instance a died (its partitions 1 and 5 taken here,
    3 and 7 by b), as this instance (d) sees it."""
    before = FleetStatus(
        "h/d",
        8,
        [
            FleetMember("h/a", "a", True, 0.2, [1, 3, 5, 7], 40),
            FleetMember("h/b", "b", True, 0.4, [2, 6], 3),
            FleetMember("h/d", "dash", True, 0.1, [0, 4], 5),
        ],
        {1: ("h/a", 1), 3: ("h/a", 1), 5: ("h/a", 1), 7: ("h/a", 1), 2: ("h/b", 1)}
        | {6: ("h/b", 1), 0: ("h/d", 1), 4: ("h/d", 1)},
    )
    claims = [Claim(1, "h/a", 2, 12, 0.0), Claim(5, "h/a", 2, 9, 0.0)]
    after = FleetStatus(
        "h/d",
        8,
        [
            FleetMember("h/a", "a", False, 3.5, [], 0),
            FleetMember("h/b", "b", True, 0.4, [2, 3, 6, 7], 14),
            FleetMember("h/d", "dash", True, 0.1, [0, 1, 4, 5], 25),
        ],
        {1: ("h/d", 2), 3: ("h/b", 2), 5: ("h/d", 2), 7: ("h/b", 2), 2: ("h/b", 1)}
        | {6: ("h/b", 1), 0: ("h/d", 1), 4: ("h/d", 1)},
        claims,
        21,
    )
    return before, after


def entries(count: int, owner: str) -> list[PendingEntry]:
    return [PendingEntry(u, 2, None, owner, u % 8, "h/d") for u in range(1, count + 1)]


def test_the_events_pane_hears_a_death_the_claims_and_the_last_landing():
    before, after = statuses()
    watch = FleetWatch()
    assert watch.observe(before) == []
    said = watch.observe(after)
    assert said[0].startswith("fleet: a is gone (its heartbeat stopped)")
    assert said[1:] == [
        "fleet: dash claimed partition 1 from a (epoch 2)",
        "fleet: b claimed partition 3 from a (epoch 2)",
        "fleet: dash claimed partition 5 from a (epoch 2)",
        "fleet: b claimed partition 7 from a (epoch 2)",
    ]
    assert watch.count(entries(30, "h/a"), complete=True) == []
    assert watch.gone["h/a"].waiting == 30
    assert watch.count(entries(4, "h/b"), complete=True) == [
        "fleet: every write a acknowledged has landed (30 claimed from the queue by the survivors)"
    ]
    assert not watch.following


def test_fleet_pane_snapshot(snap_compare):
    """The pane's look, and the Events pane's lines on a death (a rendering test: a
    non-fleet app drawing fixed snapshots)."""
    app = build_app(policy="write-behind")

    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("F")
        await pilot.app.workers.wait_for_complete()
        panel = pilot.app.refresher.fleet
        before, after = statuses()
        panel.watch.observe(before)
        for line in panel.watch.observe(after):  # as look() says them
            pilot.app.narrate(line)
        panel.watch.count(entries(12, "h/a"), complete=True)
        panel.show(after)
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=(160, 45), run_before=run_before)
