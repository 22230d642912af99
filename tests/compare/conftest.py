"""Compare apps over throwaway in-memory engines, deterministic as the app's tests."""

from __future__ import annotations

from typing import Any

from cachetui.compare.app import CompareApp
from cachetui.engine import Engine, EngineConfig

FIXED_CLOCK = 1_790_000_000.0


def build_compare(
    a: str = "write-through",
    b: str = "write-behind",
    *,
    db_a: str = ":memory:",
    db_b: str = ":memory:",
    queue_a: str = "memory://",
    queue_b: str = "memory://",
    profiles: int = 200,
    **options: Any,
) -> CompareApp:
    options.setdefault("flush_interval", 3600.0)  # tests flush explicitly
    options.setdefault("capacity", 50)
    options.setdefault("flush_timeout", 0.3)
    options.setdefault("clock", lambda: FIXED_CLOCK)
    options.setdefault("metrics_clock", lambda: 100.0)  # one window, however slow the run
    engine_a = Engine(EngineConfig(db_path=db_a, policy=a, queue_url=queue_a, **options))
    engine_b = Engine(EngineConfig(db_path=db_b, policy=b, queue_url=queue_b, **options))
    return CompareApp(engine_a, engine_b, seed_profiles=profiles, live=False, timings=False, seed=7)


async def settle(app: CompareApp, pilot: Any) -> None:
    """Let the key's workers and both lanes finish, then repaint once."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await app.mirror.idle()
    await pilot.pause()
    await app.refresh_view()
    await pilot.pause()


def outcome(app: CompareApp, index: int) -> str:
    """The side's last outcome line, as plain text."""
    from textual.widgets import Static

    content = app.side(index).query_one(".outcome", Static).content
    return str(content)
