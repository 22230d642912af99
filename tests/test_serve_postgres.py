"""`cachetui serve --db postgresql://…`: every tab's app gets the database's options (in
its environment) and runs over the PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import psycopg
import pytest

from tests.test_serve import alive, app_children, app_options, cleanup, free_port, wait_until

__all__ = ["cleanup"]  # the fixture
pytestmark = pytest.mark.postgres


OPTIONS = ["--db-pool", "3", "--profiles", "40"]


def profiles(url: str) -> int:
    """The rows of the profiles table, as psql would count them (0 before it exists)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            found = conn.execute("SELECT count(*) FROM profiles").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return int((found or (0,))[0])


@pytest.fixture
def pg_server(
    postgres_url: str, tmp_path: Path, cleanup: list
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`cachetui serve --db URL …` on a free port: (process, port, log)."""
    port = free_port()
    log = tmp_path / "serve.log"
    (tmp_path / "home").mkdir()
    options = ["--db", postgres_url, *OPTIONS]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "cachetui", "serve", "--port", str(port), *options],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(tmp_path / "home")},  # its data directory
            start_new_session=True,
        )
    cleanup.append(server)
    return server, port, log


async def test_a_tabs_app_runs_over_postgresql(pg_server, postgres_url):
    server, port, log = pg_server
    url = f"http://127.0.0.1:{port}"
    await wait_until(lambda: url in log.read_text(), 10, f"the server prints {url}")
    async with aiohttp.ClientSession() as http:
        session = await http.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30")
        message = await asyncio.wait_for(session.receive(), 15)  # the app's first frame
        assert message.type == aiohttp.WSMsgType.BINARY
        (app,) = app_children(server.pid)
        assert app_options(app) == ["--db", postgres_url, *OPTIONS]
        # the app seeds the server's (empty) schema: its rows are there for psql to read
        await wait_until(lambda: profiles(postgres_url) == 40, 20, "40 profiles in PostgreSQL")
        server.send_signal(signal.SIGTERM)
        await wait_until(lambda: server.poll() is not None, 10, "the server exits on SIGTERM")
        await session.close()
    assert server.returncode == 0 and not alive(app)
    assert "Traceback" not in log.read_text()
