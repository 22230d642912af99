"""Stopping the workload (w) and quitting (q, ctrl+c) at a high rate over a real Redis
never hangs. Keys are posted as the terminal driver posts them (Pilot.press waits for an
idle loop, which a full-rate workload never leaves). Each cycle has a generous 30 s
timeout: it fails on a hang, never on slowness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual import events

from tests.app.conftest import settle
from tests.conftest import delete_namespace
from tests.waits import at_exit

SIZE = (160, 45)
HANG = 30.0  # seconds: far beyond any stop or quit, short of a hung test run
RATE = 20_000


def key(app, name: str) -> None:
    app.post_message(events.Key(name, name if len(name) == 1 else None))


async def until(predicate: Callable[[], bool], what: str, app=None) -> None:
    async def wait() -> None:
        while not predicate():  # noqa: ASYNC110 - a condition on the app, not an event
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(wait(), HANG)
    except TimeoutError:
        state = ""
        if app is not None:  # what the app was doing: the screens, its workers
            state = f"; screens {app.screen_stack}, workers {list(app.workers)}"
        pytest.fail(f"hung: {what} not within {HANG:g} s{state}")


@pytest.fixture
def loaded_app(make_app, redis_url):
    apps = []

    def factory():
        # the default flush_timeout (5 s): a quit under load flushes as a real one does
        app = make_app(cache_url=redis_url, policy="write-behind", flush_timeout=5.0)
        app.live = True  # the refresh timers run, as in a terminal
        apps.append(app)
        return app

    yield factory
    for app in apps:
        delete_namespace(redis_url, app.engine.store.namespace)


async def test_w_stops_a_full_rate_workload_over_redis_every_time(loaded_app):
    app = loaded_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.workload.set_rate(RATE)
        for cycle in range(3):
            key(app, "w")
            await until(lambda: app.workload.running, f"start {cycle}")
            await until(lambda: app.workload.stats.fired > 500, f"load {cycle}")
            stats = app.workload.stats
            done = stats.reads + stats.updates + stats.errors
            await until(
                lambda done=done: app.workload.stats.reads + app.workload.stats.updates > done,
                f"operations finishing {cycle}",
            )
            key(app, "w")
            await until(lambda: not app.workload.running, f"stop {cycle}", app)
            ratio = app.workload.read_ratio
            key(app, "m")  # the next key still works
            await until(lambda ratio=ratio: app.workload.read_ratio != ratio, f"key {cycle}", app)
        assert app.workload.stats.reads > 0


@pytest.mark.parametrize("keys", [("q",), ("question_mark", "escape", "ctrl+c")])
async def test_quitting_under_a_full_rate_workload_over_redis_exits(loaded_app, keys):
    app = loaded_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.workload.set_rate(RATE)
        key(app, "w")
        await until(lambda: app.workload.stats.fired > 500, "load")
        # judged when the quit makes the app exit: the unmount that follows flushes too
        exiting = at_exit(app, lambda: (app.engine.running, app.engine.metrics.pending))
        for name in keys:
            key(app, name)
            await asyncio.sleep(0.05)
        await until(lambda: not app.is_running, "exit", app)
    assert exiting == [(False, 0)]  # the flushing quit: closed, every write landed
