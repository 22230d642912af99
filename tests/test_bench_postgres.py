"""`cachetui bench --db postgresql://…`: every policy in a fresh schema of its own, seeded
with --keys profiles and dropped at the end; the schemas of a dead benchmark of this
host are dropped at the start, those of a live one kept. Real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from cachetui.bench.command import main
from cachetui.engine.database import run_schemas
from cachetui.engine.database.run_schemas import host_tag
from tests.conftest import postgres_or_skip

pytestmark = pytest.mark.postgres

SMALL = ("--ops", "200", "--keys", "50", "--read-ratio", "0.5", "--json", "--warmup", "0")


def schemas(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cachetui\\_bench\\_%'"
        ).fetchall()
    return {str(name) for (name,) in rows}


def rows_of(out: str) -> dict[str, dict[str, object]]:
    return {r["policy"]: r for r in map(json.loads, out.splitlines())}


@pytest.fixture
def pg() -> Iterator[str]:
    yield postgres_or_skip()


def test_each_policy_runs_in_a_schema_of_its_own_dropped_at_the_end(pg, monkeypatch, capsys):
    seen: dict[str, tuple[int, int]] = {}  # schema → (profiles, highest version) at its drop
    drop = run_schemas.drop_schemas

    async def looking_first(url: str, names: list[str], timeout: float = 10.0) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for name in names:
                query = sql.SQL("SELECT count(*), max(version) FROM {}.profiles")
                cur = await conn.execute(query.format(sql.Identifier(name)))
                count, top = await cur.fetchone() or (0, 0)
                seen[name] = (int(count), int(top or 0))
        await drop(url, names, timeout)

    monkeypatch.setattr(run_schemas, "drop_schemas", looking_first)
    assert main(["--db", pg, *SMALL]) == 0
    rows = rows_of(capsys.readouterr().out)
    assert list(rows) == ["write-through", "write-behind", "write-around", "no-cache"]
    assert all(r["errors"] == 0 and r["ops"] == 200 for r in rows.values())
    mine = {n for n in seen if n.startswith(f"cachetui_bench_{host_tag()}_{os.getpid()}_")}
    assert len(mine) == 4  # one schema per policy…
    # …each seeded with --keys profiles, and the policy's updates landed in it
    assert all(count == 50 and top > 1 for count, top in seen.values())
    assert not mine & schemas(pg)  # none left behind


def test_a_dead_benchmarks_schemas_are_dropped_a_live_ones_kept(pg, capsys):
    finished = subprocess.Popen(["true"])
    finished.wait()
    running = subprocess.Popen(["sleep", "60"])
    dead = f"cachetui_bench_{host_tag()}_{finished.pid}_0"
    live = f"cachetui_bench_{host_tag()}_{running.pid}_0"
    elsewhere = "cachetui_bench_another_host_1_0"  # its process cannot be seen from here
    made = (dead, live, elsewhere)
    with psycopg.connect(pg, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        assert main(["--db", pg, "--policy", "no-cache", *SMALL]) == 0
        assert schemas(pg) & set(made) == {live, elsewhere}
    finally:
        running.kill()
        running.wait()
        with psycopg.connect(pg, autocommit=True) as conn:
            for name in made:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {}").format(sql.Identifier(name)))


def test_read_hit_and_miss_latencies_through_a_link(pg, capsys):
    # A 25 ms link (far beyond a loopback server's time, even on a busy machine): every
    # miss pays at least one round trip to the server; a hit none.
    args = ["--db", pg, "--db-rtt", "25ms", "--db-pool", "4", "--policy", "write-through"]
    small = ["--ops", "100", "--keys", "30", "--read-ratio", "0.7", "--json", "--warmup", "0"]
    assert main([*args, *small, "--concurrency", "8"]) == 0
    [row] = rows_of(capsys.readouterr().out).values()
    assert row["errors"] == 0 and 0 < row["hit_ratio"] < 1
    assert row["read_miss_p50_us"] >= 25_000  # type: ignore[operator]
    assert row["read_hit_p50_us"] < row["read_miss_p50_us"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("127.0.0.1:5432/cachetui_pgbench_no_such_db", "createdb -h HOST -U USER"),
        ("127.0.0.1:1/postgres", "connection refused"),
    ],
)
def test_a_server_that_cannot_serve_is_one_error_line(pg, capsys, where, words):
    assert main(["--db", f"postgresql://postgres@{where}", *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cachetui bench: error: ") and words in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_a_link_needs_a_server(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--db-rtt", "2ms", *SMALL])
    assert stopped.value.code == 2
    assert "--db-rtt needs a PostgreSQL server" in capsys.readouterr().err
