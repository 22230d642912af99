"""A fleet for real: ``cachetui worker`` processes sharing one fleet queue in a real Redis
over one SQLite database (WAL) or PostgreSQL schema; one of them SIGKILLed mid-run.
Their histories are judged by ``cachetui check``; an AFTER UPDATE audit trigger records
the order of landings.

Sizes: ``CACHETUI_FLEET_UPDATES`` (default 10,000, the issue's) updates in all, spread
over three workers for ``CACHETUI_FLEET_SECONDS`` (default 3) seconds each."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

from cachetui.cli.check import main as check_main
from cachetui.engine import Engine, EngineConfig
from tests.conftest import delete_test_keys

TIMEOUT = 60  # seconds a step may take on a loaded machine (never a speed assertion)
USERS = 100
UPDATES = int(os.environ.get("CACHETUI_FLEET_UPDATES", "10000"))
SECONDS = float(os.environ.get("CACHETUI_FLEET_SECONDS", "3"))
AUDIT = """
CREATE TABLE profiles_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, version INTEGER, write_id TEXT
);
CREATE TRIGGER profiles_audit AFTER UPDATE ON profiles BEGIN
    INSERT INTO profiles_audit (user_id, version, write_id)
    VALUES (new.user_id, new.version, new.write_id);
END;
"""
AUDIT_POSTGRES = """
CREATE TABLE profiles_audit (seq bigserial PRIMARY KEY, user_id bigint, version bigint,
                             write_id text);
CREATE FUNCTION profiles_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO profiles_audit (user_id, version, write_id)
    VALUES (new.user_id, new.version, new.write_id);
    RETURN new;
END $$;
CREATE TRIGGER profiles_audit AFTER UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION profiles_audit();
"""


def query(db: str, statement: str) -> list[tuple[object, ...]]:
    """Rows of ``statement`` on the SQLite file or PostgreSQL URL ``db``."""
    if db.startswith("postgresql://"):
        with psycopg.connect(db, autocommit=True) as conn:
            cur = conn.execute(statement)  # type: ignore[call-overload]
            return cur.fetchall() if cur.description else []
    with sqlite3.connect(db) as conn:
        return conn.execute(statement).fetchall()


def seeded(db: str) -> None:
    async def seed() -> None:
        config = EngineConfig(db_url=db) if db.startswith("postgresql://") else None
        async with Engine(config or EngineConfig(db_path=db)) as engine:
            await engine.seed(USERS)

    asyncio.run(seed())
    if db.startswith("postgresql://"):
        query(db, AUDIT_POSTGRES)
    else:
        with sqlite3.connect(db) as conn:
            conn.executescript(AUDIT)


def database_id(db: str) -> str:
    return str(query(db, "SELECT value FROM cachetui_meta WHERE key = 'database_id'")[0][0])


def forget(redis_url: str, db: str, folder: Path) -> None:
    """Delete the test's keys (its database's queue)."""
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"cachetui:queue:{database_id(db)}:*", count=1000))
        if keys:
            client.delete(*keys)
    delete_test_keys(redis_url, folder)


def worker(
    db: str, queue: str, name: str, history: Path, rate: int, *more: str
) -> subprocess.Popen[str]:
    args = ["--db", db, "--policy", "write-behind", "--queue", queue, "--name", name]
    args += ["--rate", str(rate), "--read-ratio", "0", "--keys", str(USERS), "--zipf", "0"]
    args += ["--flush-interval", "0.2", "--claim-after", "2"]
    args += ["--history", str(history), "--profiles", "0", *more]
    return subprocess.Popen(
        [sys.executable, "-m", "cachetui", "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acknowledged(history: Path) -> list[dict[str, object]]:
    """The acknowledged updates of a history (a killed process's last line may be cut)."""
    found = []
    for line in history.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("type") == "op" and record["op"] == "update" and record["outcome"] == "ok":
            found.append(record)
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def fleet_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of the fleet: a SQLite file (WAL), or a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "fleet.db")
    return str(request.getfixturevalue("postgres_url"))


def test_three_workers_one_killed_lose_nothing_and_land_in_order(
    tmp_path, redis_url, fleet_db, capsys
):
    db = fleet_db
    seeded(db)
    histories = [tmp_path / f"w{n}.jsonl" for n in range(3)]
    rate = round(UPDATES / (SECONDS * 3))
    try:
        workers = [  # the survivors run until they are told to stop, after the claims
            worker(db, redis_url, f"w{n}", h, rate, *([] if n < 2 else ["--seconds", "60"]))
            for n, h in enumerate(histories)
        ]
        victim = workers[2]
        assert victim.stdout is not None
        for _ in range(2):  # two status lines: it runs, writes acknowledged and queued
            assert victim.stdout.readline(), victim.communicate()[1]
        with redis.Redis.from_url(redis_url, decode_responses=True) as client:
            prefix = f"cachetui:queue:{database_id(db)}:fleet"
            owners = client.hgetall(f"{prefix}:members")
            (owner,) = [o for o, name in owners.items() if name == "w2"]
            assert held_by(client, prefix, owner)  # it holds partitions when it dies
            victim.send_signal(signal.SIGKILL)
            victim.wait(TIMEOUT)
            deadline = time.monotonic() + TIMEOUT  # never a speed assertion: a bound
            while held_by(client, prefix, owner) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not held_by(client, prefix, owner), "its partitions were never claimed"
        time.sleep(0.5)  # the survivors write on a little while holding the claimed ones
        for w in workers[:2]:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=TIMEOUT) for w in workers[:2]]
        for w, (_, err) in zip(workers, outputs, strict=False):
            assert w.returncode == 0, err
        assert acknowledged(histories[2])  # the victim had acknowledged writes
        acked = [r for h in histories for r in acknowledged(h)]
        # one version order per user: no two instances acknowledged the same version
        assert len({(r["user"], r["version"]) for r in acked}) == len(acked)
        # the survivors claimed the killed worker's partitions and landed its writes
        last = [out.strip().splitlines()[-1] for out, _ in outputs]
        assert sum(claimed(line) for line in last) > 0

        assert check_main([*map(str, histories), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        counts = report["counts"]
        assert counts["lost"] == counts["double-apply"] == counts["version-down"] == 0

        assert_landed_in_order(db, acked)
        with redis.Redis.from_url(redis_url) as client:
            assert_queue_empty(client, database_id(db))
    finally:
        for w in locals().get("workers", []):
            if w.poll() is None:
                w.kill()
                w.wait()
        forget(redis_url, db, tmp_path)


def assert_landed_in_order(db: str, acked: list[dict[str, object]]) -> None:
    """The audit: each user's landings go up, no write id twice, no dead letter, and
    every acknowledged write is in (a row at its version or later holds its changes)."""
    landings = query(db, "SELECT user_id, version, write_id FROM profiles_audit ORDER BY seq")
    rows = dict(query(db, "SELECT user_id, version FROM profiles"))
    assert query(db, "SELECT count(*) FROM dead_letters")[0][0] == 0
    newest: dict[object, int] = {}
    for user, version, write_id in landings:  # each user's landings go up
        assert isinstance(version, int) and version > newest.get(user, 0)
        assert write_id is not None
        newest[user] = version
    assert len({w for _, _, w in landings}) == len(landings)  # none applied twice
    for r in acked:  # every acknowledged write is in (a later row holds its changes)
        assert rows[r["user"]] >= r["version"]  # type: ignore[operator]


def assert_queue_empty(client: redis.Redis, database: str) -> None:
    """Every landed entry was deleted; none was parked."""
    prefix = f"cachetui:queue:{database}:fleet"
    streams = list(client.scan_iter(match=f"{prefix}:p[0-9]*", count=1000))
    assert streams and sum(client.xlen(s) for s in streams) == 0  # landed: deleted
    assert not client.exists(f"{prefix}:parked")


def held_by(client: redis.Redis, prefix: str, owner: str) -> list[str]:
    """The partitions whose lease ``owner`` holds (a lease is ``"owner epoch"``)."""
    leases = [key for key in client.scan_iter(match=f"{prefix}:lease:*") if "epoch" not in key]
    return [key for key in leases if (client.get(key) or "").split(" ")[0] == owner]


def claimed(line: str) -> int:
    return int(line.rsplit("claimed ", 1)[1].split(",")[0])


def test_a_stopped_worker_is_claimed_while_the_other_runs_and_fenced_when_it_wakes(
    tmp_path, redis_url, capsys
):
    """SIGSTOP: its heartbeat stops, the survivor claims its partitions (after its own
    --claim-after 2) and lands their entries while it keeps running; SIGCONT: the woken
    one still holds those writes in its queue and lands them at its close: each is
    recognised (the row is at its version or later) and writes nothing."""
    db = str(tmp_path / "fleet.db")
    seeded(db)
    histories = [tmp_path / "survivor.jsonl", tmp_path / "sleeper.jsonl"]
    quiet = ["--flush-interval", "60", "--batch-size", "100000"]  # lands only at its close
    try:
        workers = [
            worker(db, redis_url, "survivor", histories[0], 300),
            worker(db, redis_url, "sleeper", histories[1], 300, *quiet),
        ]
        survivor, sleeper = workers
        assert survivor.stdout is not None and sleeper.stdout is not None
        for _ in range(2):
            assert sleeper.stdout.readline(), sleeper.communicate()[1]
        sleeper.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + TIMEOUT  # never a speed assertion: a bound
        for line in survivor.stdout:  # it runs on, and claims the sleeper's partitions
            if claimed(line) or time.monotonic() > deadline:
                break
        assert claimed(line), "the survivor never claimed the stopped worker's partitions"
        assert survivor.stdout.readline()  # a flush interval (0.2 s) later: landed
        sleeper.send_signal(signal.SIGCONT)
        assert sleeper.stdout.readline()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            _, err = w.communicate(timeout=TIMEOUT)
            assert w.returncode == 0, err
        assert check_main([*map(str, histories), "--json"]) == 0
        counts = json.loads(capsys.readouterr().out)["counts"]
        assert counts["lost"] == counts["double-apply"] == counts["version-down"] == 0
        acked = [r for h in histories for r in acknowledged(h)]
        assert len({(r["user"], r["version"]) for r in acked}) == len(acked)
        assert_landed_in_order(db, acked)
        with redis.Redis.from_url(redis_url) as client:
            assert_queue_empty(client, database_id(db))
    finally:
        for w in locals().get("workers", []):
            if w.poll() is None:
                w.send_signal(signal.SIGCONT)
                w.kill()
                w.wait()
        forget(redis_url, db, tmp_path)


def test_an_entry_of_an_unknown_format_is_parked_not_landed(tmp_path, redis_url):
    """An entry written by a later cachetui (format 2) is moved to ``…:parked`` with why,
    and the row stays as it was; the entries around it land."""

    async def run() -> None:
        db = str(tmp_path / "f.db")
        config = EngineConfig(
            db_path=db, policy="write-behind", queue_url=redis_url, fleet=True, flush_interval=0.1
        )
        async with Engine(config) as engine:
            await engine.seed(10)
            await engine.update(1, {"bio": "before"})
            prefix = f"cachetui:queue:{engine.db.database_id}:fleet"
            with redis.Redis.from_url(redis_url) as client:
                partitions = int(client.get(f"{prefix}:partitions") or 0)
                client.xadd(
                    f"{prefix}:p{2 % partitions}",
                    {"f": "2", "u": "2", "v": "9", "b": "8", "o": "later", "w": "x:0:1"},
                )
            after = await engine.update(3, {"bio": "after"})
            deadline = time.monotonic() + TIMEOUT
            while True:
                status = await engine.fleet_status()
                assert status is not None
                if status.parked_entries and not await engine.fleet_pending():
                    break
                assert time.monotonic() < deadline, "not parked, or not landed"
                await asyncio.sleep(0.05)
            with redis.Redis.from_url(redis_url) as client:
                parked = client.xrange(f"{prefix}:parked")
            assert len(parked) == 1
            fields = parked[0][1]
            assert fields[b"x.f"] == b"2" and b"entry format '2'" in fields[b"reason"]
        with sqlite3.connect(db) as conn:
            rows = dict(conn.execute("SELECT user_id, version FROM profiles").fetchall())
        assert rows[2] == 1 and rows[3] == after.version and rows[1] == 2

    try:
        asyncio.run(run())
    finally:
        delete_test_keys(redis_url, tmp_path)
