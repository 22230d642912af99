"""ctrl+q and ctrl+c quit like q (one path: q's other tests in test_keys.py hold it).

(SIGTERM, SIGHUP and SIGINT take the same path: tests/test_signals.py, real processes.)
"""

from __future__ import annotations

import pytest

from tests.app.conftest import rows, settle
from tests.conftest import db_version
from tests.waits import at_exit, wait_until

SIZE = (160, 45)


@pytest.mark.parametrize("key", ["ctrl+q", "ctrl+c"])
async def test_ctrl_q_and_ctrl_c_flush_pending_writes_then_quit(make_app, tmp_path, key):
    app = make_app(policy="write-behind")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u", "u")
        await settle(app, pilot)
        queued = {user: int(cells[1]) for user, cells in rows(app, "#queue").items()}
        assert queued
        db = str(tmp_path / "profiles.db")
        # judged when the key makes the app exit: the unmount that follows flushes too
        exiting = at_exit(app, lambda: (app.engine.running, {u: db_version(db, u) for u in queued}))
        await pilot.press(key)
        await wait_until(lambda: exiting, f"{key} made the app exit")
    assert exiting == [(False, queued)]  # closed, every queued write in the database
    assert app.return_code == 0 and app.session.signal_report is None
