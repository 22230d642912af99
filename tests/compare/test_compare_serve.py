"""`cachetui serve … compare`: the compare screen in a real browser (headless Chromium),
a key reaching both sides, and no app process left once the tab is closed."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.test_serve import (  # noqa: F401 - chromium and cleanup are fixtures
    Browser,
    app_children,
    app_options,
    children,
    chromium,
    cleanup,
    cmdline,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)  # a browser session, on a loaded machine


def _copies() -> set[str]:
    """The compare copies in the temporary folder (this test's own: ``private_tmp``)."""
    return {p.name for p in Path(tempfile.gettempdir()).glob("cachetui-compare-*")}


async def test_serve_compare_in_a_browser_and_nothing_left(
    chromium,  # noqa: F811
    cleanup,  # noqa: F811
    tmp_path,
    private_tmp,
):
    port = free_port()
    log = tmp_path / "serve.log"
    before = _copies()
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any await of it
            [sys.executable, "-m", "cachetui", "serve", "--port", str(port), "compare"]
            + ["write-through", "write-behind", "--db", str(tmp_path / "p.db")]
            + ["--profiles", "50", "--flush-interval", "600"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cleanup.append(server)
    url = f"http://127.0.0.1:{port}"
    await wait_until(lambda: url in log.read_text(), 10, f"the server prints {url}")
    async with Browser(chromium, tmp_path / "chromium", cleanup) as browser:
        async with browser.tab() as (page, tab):
            await page.call("Page.navigate", url=url)
            await page.wait_for_text(
                "A · write-through", "B · write-behind", "Database 50", timeout=20
            )
            (app,) = app_children(server.pid)
            # the compare options in its environment; its command line holds none
            assert cmdline(app)[3:] == ["compare"]
            assert app_options(app)[:2] == ["write-through", "write-behind"]
            # one update, to both: in the DB on A, queued on B (a letter key, its key code)
            await page.call(
                "Runtime.evaluate",
                expression="document.querySelector('.xterm-helper-textarea').focus()",
            )
            key = {"key": "u", "code": "KeyU", "windowsVirtualKeyCode": ord("U")}
            await page.call("Input.dispatchKeyEvent", type="keyDown", text="u", **key)
            await page.call("Input.dispatchKeyEvent", type="keyUp", **key)
            screen, _ = await page.wait_for_text("Write queue 1", "Write queue 0", timeout=10)
            assert "in the DB" in screen and "acknowledged" in screen
        await browser.close_tab(tab)
        await wait_until(lambda: not children(server.pid), 10, "the app process ends")
    await wait_until(lambda: _copies() == before, 5, "the copies are deleted")
    assert not (tmp_path / "p.db").exists()  # the user's database was never made
