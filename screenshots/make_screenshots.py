"""Render the README screenshots from the real app (headless, driven by Pilot).

    python screenshots/make_screenshots.py      # writes screenshots/*.svg and *.png

PNG conversion needs Debian's chromium (see screenshots/README.md).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from cachetui.app.app import CacheTuiApp
from cachetui.engine import Engine, EngineConfig

HERE = Path(__file__).resolve().parent
SIZE = (160, 45)


def make_app(db: Path, policy: str, scenario: str | None = None) -> CacheTuiApp:
    config = EngineConfig(
        db_path=str(db), policy=policy, capacity=60, flush_interval=3600, batch_size=500
    )
    return CacheTuiApp(Engine(config), seed_profiles=1000, live=False, seed=3, scenario=scenario)


async def settle(app: CacheTuiApp, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await app.refresh_view()
    await pilot.pause()


async def shoot(
    name: str,
    policy: str,
    keys: list[str],
    db: Path,
    *,
    clear_notes: bool = True,
    size: tuple[int, int] = SIZE,
    scenario: str | None = None,
) -> None:
    app = make_app(db, policy, scenario)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
            app.refresher.sample()  # one sparkline point per step
        if clear_notes:
            app.clear_notifications()
        await settle(app, pilot)
        await pilot.pause(0.3)
        app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
    print(f"wrote {name}.svg")


async def shoot_all() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        behind = ["R", "R", "U", "u", "u", "u", "g", "4", "2", "enter", "u", "u", "r"]
        await shoot("write-behind", "write-behind", behind, tmpdir / "a.db")
        await shoot("crash", "write-behind", ["R", "U", "u", "u", "c"], tmpdir / "b.db")
        await shoot("help", "write-behind", ["question_mark"], tmpdir / "c.db")
        await shoot(
            "scenario",
            "write-through",
            ["space", "space", "space"],
            tmpdir / "d.db",
            size=(100, 30),
            scenario="write-behind",
        )


NAMES = ("write-behind", "crash", "help", "scenario")


def main() -> None:
    asyncio.run(shoot_all())
    for name in NAMES:
        svg = HERE / f"{name}.svg"
        png = HERE / f"{name}.png"
        result = subprocess.run(
            [str(HERE / "svg2png.sh"), str(svg), str(png), "1"], capture_output=True, text=True
        )
        if result.returncode != 0:
            sys.exit(f"PNG conversion failed for {svg}: {result.stderr.strip()}")
        print(result.stdout.strip())


if __name__ == "__main__":
    main()
