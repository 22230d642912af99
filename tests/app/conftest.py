"""Apps over throwaway engines, built the way the CLI builds them."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from cachetui.app.app import CacheTuiApp
from cachetui.app.widgets.key_table import KeyTable
from cachetui.engine import Engine, EngineConfig

FIXED_CLOCK = 1_790_000_000.0  # 2026-09-21T…Z: deterministic updated_at


def build_app(db_path: str = ":memory:", *, profiles: int = 200, **options: Any) -> CacheTuiApp:
    options.setdefault("flush_interval", 3600.0)  # tests flush explicitly
    options.setdefault("capacity", 50)
    options.setdefault("flush_timeout", 0.3)
    options.setdefault("clock", lambda: FIXED_CLOCK)
    engine = Engine(EngineConfig(db_path=db_path, **options))
    return CacheTuiApp(engine, seed_profiles=profiles, live=False, timings=False, seed=7)


@pytest.fixture
def make_app(tmp_path) -> Callable[..., CacheTuiApp]:
    def factory(**options: Any) -> CacheTuiApp:
        options.setdefault("db_path", str(tmp_path / "profiles.db"))
        return build_app(**options)

    return factory


def rows(app: CacheTuiApp, pane: str) -> dict[int, list[str]]:
    """A pane's rows as the user sees them: user id → plain cell texts."""
    table = app.query_one(pane, KeyTable)
    found: dict[int, list[str]] = {}
    for user in table.users:
        cells = table.row_cells(user)
        found[user] = [c.plain if isinstance(c, Text) else str(c) for c in cells]
    return found


def text_of(app: CacheTuiApp, selector: str) -> str:
    """The plain text a Static-like widget shows."""
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(app.query_one(selector).content)
    return console.export_text()


def notifications(app: CacheTuiApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def settle(app: CacheTuiApp, pilot: Any) -> None:
    """Let workers finish and repaint once, as the live timer would."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.refresh_view()
    await pilot.pause()
