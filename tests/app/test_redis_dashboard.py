"""The dashboard over a real Redis: the Cache pane is what Redis holds (SCAN), a key
changed with another client shows up, the cache outage key, crash leaves orphans."""

from __future__ import annotations

import json
import re

import pytest
import redis

from cachetui.app.screens.dialogs import CrashReportScreen
from cachetui.engine.stores.redis_url import mask_url
from tests.app.conftest import notifications, rows, settle, text_of
from tests.conftest import db_version, delete_namespace
from tests.waits import wait_until

SIZE = (160, 45)


@pytest.fixture
def redis_app(make_app, redis_url):
    apps = []

    def factory(**options):
        app = make_app(cache_url=redis_url, **options)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        delete_namespace(redis_url, app.engine.store.namespace)


async def test_cache_pane_lists_what_redis_holds(redis_app, redis_url):
    app = redis_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", *"12", "enter")
        await settle(app, pilot)
        await pilot.press("g", *"34", "enter")
        await settle(app, pilot)
        assert set(rows(app, "#cache")) == {12, 34}
        prefix = app.engine.store.prefix
        with redis.Redis.from_url(redis_url) as client:
            client.delete(prefix + "12")
            value = json.loads(client.get(prefix + "34"))
            value["name"] = "Set By Hand"
            client.set(prefix + "34", json.dumps(value))
        await settle(app, pilot)
        cache = rows(app, "#cache")
        assert set(cache) == {34}
        assert cache[34][2].startswith("Set By Hand"[:11])
        assert mask_url(redis_url) in text_of(app, "#status")  # CACHETUI_TEST_REDIS's


async def test_shift_o_cache_outage_reads_from_the_database(redis_app):
    app = redis_app(policy="write-through")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", *"5", "enter")
        await settle(app, pilot)
        await pilot.press("O")
        await settle(app, pilot)
        assert "cache down" in text_of(app, "#status")
        assert app.query_one("#cache").border_title == "Cache ✖ unavailable"
        assert any("Cache outage ON" in n for n in notifications(app))
        await pilot.press("u")  # write-through still commits, then acknowledges
        await settle(app, pilot)
        assert db_version(app.engine.config.db_path, 5) == 2
        await pilot.press("O")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await wait_until(lambda: app.engine.cache_available, "the cache came back after O")
        await settle(app, pilot)
        title = str(app.query_one("#cache").border_title)
        assert re.match(r"Cache \d+/\d+", title), title  # its size again, not "✖ unavailable"
        assert 5 not in rows(app, "#cache")  # its older entry was dropped on return


async def test_crash_over_redis_shows_orphaned_writes(redis_app):
    app = redis_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g", *"7", "enter")
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CrashReportScreen)
        assert app.screen.lost == [(7, 2)]
        assert app.screen.still_cached == {7: 2}
        await pilot.press("escape")
        await settle(app, pilot)
        assert rows(app, "#cache")[7][3] == "✖ orphaned"
        assert db_version(app.engine.config.db_path, 7) == 1
