"""`cachetui compare --db postgresql://…`: each side in a fresh schema of its own, seeded
alike, dropped at exit; the user's tables untouched. Real PostgreSQL."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from cachetui.compare.cli import build_parser, main, sides_from_args
from cachetui.compare.copies import SchemaCopies
from cachetui.compare.engines import make_engines
from cachetui.engine.database.run_schemas import host_tag
from tests.conftest import postgres_or_skip

pytestmark = pytest.mark.postgres

ROWS = "SELECT user_id, name, bio, location, followers, version FROM profiles ORDER BY user_id"


def test_each_side_works_in_its_own_schema_seeded_alike_dropped_at_exit(postgres_url):
    args = build_parser().parse_args(["--db", postgres_url, "--profiles", "20"])
    sides = sides_from_args(args)
    copies = SchemaCopies(postgres_url)
    made = list(copies.schemas)
    try:
        assert len(set(made)) == 2
        assert all(name.startswith(f"cachetui_bench_{host_tag()}_") for name in made)
        a, b = make_engines(sides, copies)

        async def run() -> None:
            for engine in (a, b):  # as the compare app starts and seeds its sides
                await engine.start()
                await engine.seed(20)
            await a.update(1, {"name": "only on side a"})
            for engine in (a, b):
                await engine.close()

        asyncio.run(run())
        with psycopg.connect(copies.a) as conn_a, psycopg.connect(copies.b) as conn_b:
            rows_a, rows_b = conn_a.execute(ROWS).fetchall(), conn_b.execute(ROWS).fetchall()
        assert len(rows_a) == len(rows_b) == 20
        assert rows_a[1:] == rows_b[1:] and rows_a[0] != rows_b[0]  # one update, side a only
        with psycopg.connect(postgres_url) as conn:  # the user's schema: nothing made there
            assert conn.execute("SELECT to_regclass('profiles')").fetchone() == (None,)
    finally:
        copies.remove()
    with psycopg.connect(postgres_url) as conn:
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (made,)
        ).fetchall()
    assert left == []


def test_a_missing_database_is_one_error_line_naming_createdb(capsys):
    postgres_or_skip()
    url = "postgresql://postgres@127.0.0.1:5432/cachetui_pgbench_no_such_db"
    assert main(["--db", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cachetui compare: error: ")
    assert "createdb" in err[0]
