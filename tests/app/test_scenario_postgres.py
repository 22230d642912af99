"""`cachetui --db postgresql://… --scenario NAME`: a guided scenario over a real
PostgreSQL server, its options parsed as the command line parses them."""

from __future__ import annotations

import pytest

from cachetui.app.app import CacheTuiApp
from cachetui.cli.command import build_parser
from cachetui.cli.options import config_from_args
from cachetui.engine import Engine
from tests.app.conftest import settle
from tests.conftest import db_version

pytestmark = pytest.mark.postgres


async def test_write_behind_scenario_over_postgresql(postgres_url):
    argv = ["--db", postgres_url, "--db-pool", "3", "--scenario", "write-behind"]
    args = build_parser().parse_args(argv)
    engine = Engine(config_from_args(args))
    app = CacheTuiApp(engine, seed_profiles=50, scenario=args.scenario, live=False, timings=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        assert app.session.startup_error is None
        assert engine.config.db_url == postgres_url and engine.config.db_pool == 3

        async def step() -> str:
            await pilot.press("space")
            await settle(app, pilot)
            assert app.scenario_run is not None and app.scenario_run.frame is not None
            return " ".join(app.scenario_run.frame.narration.split())

        await step()
        assert "database still v1" in await step()
        assert db_version(postgres_url, 7) == 1
        said = await step()
        assert "30 updates became 1 database write in 1 transaction" in said
        assert db_version(postgres_url, 7) == 31  # in PostgreSQL, as psql would read it
