"""A close that gives up on a database behind a blackhole: on PostgreSQL through the real
link, with ``db_timeout`` at its maximum (an hour: a reply or a connection waited for
that long is a hang). ``close()`` gives up at ``flush_timeout``, the batch in flight
included, and stays open; ``close(discard=True)`` then returns every write that did not
land, as for an outage: nothing is dropped silently. A hang here fails on the test's
timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys

import psycopg
import pytest

from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.engine import (
    CacheTuiError,
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    PendingWritesError,
)
from tests.app.conftest import settle
from tests.app.test_link_keys import linked_app
from tests.test_signals import TIMEOUT, Terminal, env, log_of

__all__ = ["env"]  # the fixture, shared with tests/test_signals.py

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(40, method="thread"),
    pytest.mark.usefixtures("brief_grace"),
]

USERS = range(1, 11)


def config(url: str, **options: object) -> EngineConfig:
    defaults = {"db_rtt": 0.001, "db_timeout": 3600, "flush_timeout": 0.3}
    return EngineConfig(
        db_url=url, policy="write-behind", flush_interval=3600, retry_base=0.01,
        retry_cap=0.05, **{**defaults, **options},  # type: ignore[arg-type]
    )  # fmt: skip


def versions(url: str) -> dict[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT user_id, version FROM profiles").fetchall())


async def pending_behind_a_blackhole(engine: Engine) -> list[tuple[int, int]]:
    """Updates of USERS pending, then the link blackholed: (user, version) of each."""
    await engine.seed(20)
    acked = [await engine.update(uid, {"bio": "behind a blackhole"}) for uid in USERS]
    assert engine.link is not None
    engine.link.partition = "blackhole"
    return [(p.user_id, p.version) for p in acked]


@pytest.mark.parametrize("flush", ["none", "in flight"])
async def test_close_gives_up_at_its_timeout_and_discard_names_every_write(postgres_url, flush):
    engine = Engine(config(postgres_url))
    await engine.start()
    flushing = None
    try:
        pending = await pending_behind_a_blackhole(engine)
        if flush == "in flight":  # a batch of another caller's is in the blackhole
            flushing = asyncio.create_task(engine.flush(timeout=3600))
            await asyncio.sleep(0.1)
        with pytest.raises(PendingWritesError) as given_up:
            await engine.close()
        assert engine.running  # stays open: q asks before losing them
        assert given_up.value.pending == len(USERS)
        discarded = await engine.close(timeout=0, discard=True)
    finally:
        if engine.running:
            await engine.close(timeout=0, discard=True)
        if flushing is not None:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError, CacheTuiError):
                await flushing
    assert not engine.running
    assert sorted(discarded) == sorted(pending)  # each at risk, named: none dropped silently
    assert versions(postgres_url) == {uid: 1 for uid in range(1, 21)}  # held, never ran


@pytest.mark.timeout(3 * TIMEOUT, method="thread")
def test_sigterm_while_the_link_is_blackholed_exits_naming_every_write_at_risk(
    postgres_url, tmp_path, env
):
    app = Terminal(
        [sys.executable, "-m", "cachetui", "--db", postgres_url, "--db-rtt", "1ms"]
        + ["--db-timeout", "3600", "--policy", "write-behind", "--flush-interval", "3600"]
        + ["--profiles", "200", "--flush-timeout", "0.3"],  # gives up at 0.3 s, not 5
        env,
    )
    try:
        app.wait_for(rb"db link rtt")  # the dashboard is drawn
        app.press(b"U")
        pending = int(app.wait_for(rb"100 updates acknowledged; (\d+) writes? pending")[1])
        app.press(b"oo")  # off → DB outage → link blackhole
        app.wait_for(rb"db link blackhole")
        mark = len(app.output)
        os.kill(app.pid, signal.SIGTERM)
        assert app.wait() == 1  # not a hang: at most --flush-timeout, and a little more
    finally:
        app.close()
    assert set(versions(postgres_url).values()) == {1}  # every write held, none ran
    log = log_of(tmp_path)
    lost = {int(u): int(v) for u, v in re.findall(r"lost: user (\d+) version (\d+)", log)}
    assert len(lost) == pending  # each at risk, named: none dropped silently
    assert f"quit on SIGTERM: {pending} pending writes could not be written" in log
    stderr = " ".join(bytes(app.output[mark:]).decode(errors="replace").split())
    assert "gave up waiting" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("step", ["seed", "restore", "open"])
async def test_setup_steps_under_a_blackhole_end_in_one_clear_error(postgres_url, step):
    # db_timeout 0.2: the server's statement timeout cannot fire for a statement it never
    # got; only a reply deadline of the engine's own ends the wait.
    engine = Engine(config(postgres_url, db_timeout=0.2))
    await engine.start()
    try:
        if step == "restore":
            await engine.seed(3)
            rows = list((await engine.db_rows([1, 2, 3])).values())
        assert engine.link is not None
        engine.link.partition = "blackhole"
        with pytest.raises(DatabaseUnavailable) as failed:
            if step == "seed":
                await engine.seed(100)
            elif step == "restore":
                await engine.restore_rows(rows)
            else:  # another engine's open, through the same link
                await Engine(config(engine.db.url, db_timeout=0.2, db_rtt=None)).start()
        assert "\n" not in str(failed.value) and "within" in str(failed.value)
        engine.link.partition = None
    finally:
        await engine.close(timeout=0, discard=True)


async def test_q_while_the_link_is_blackholed_asks_then_quits_naming_the_writes(postgres_url):
    app = linked_app(postgres_url, policy="write-behind", db_timeout=3600, db_rtt=0.001)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("u", "u")
        await settle(app, pilot)
        pending = len(app.engine.pending_writes())
        assert pending
        await pilot.press("o", "o")  # off → DB outage → link blackhole
        await pilot.pause(0.3)  # (not settle: the panes' reads wait in the blackhole)
        assert app.engine.link is not None and app.engine.link.partition == "blackhole"
        await pilot.press("q")
        while not isinstance(app.screen, ConfirmScreen):  # after flush_timeout (0.3 s)
            await pilot.pause(0.1)
        assert f"{pending} acknowledged" in app.screen.message
        await pilot.press("y")
        while app.is_running:
            await pilot.pause(0.1)
    assert not app.engine.running
    assert app.engine.metrics.lost_writes == pending
