"""Each side of `cachetui compare` works on its own copy of the user's database (which is
only read) and its own cache namespace; both go when compare ends."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import redis

from cachetui.compare.cli import build_parser, sides_from_args
from cachetui.compare.copies import DatabaseCopies
from cachetui.compare.engines import make_engines
from cachetui.engine import Engine, EngineConfig
from tests.conftest import redis_or_skip


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _database_id(path: str) -> str:
    with sqlite3.connect(path) as db:
        value = db.execute("SELECT value FROM cachetui_meta WHERE key = 'database_id'").fetchone()
    db.close()
    return str(value[0])


async def test_two_copies_two_redis_namespaces_the_users_file_untouched(tmp_path):
    url = redis_or_skip()
    source = tmp_path / "mine.db"
    async with Engine(EngineConfig(db_path=str(source))) as engine:
        await engine.seed(30)
    before = _digest(source)
    args = build_parser().parse_args(["--db", str(source), "--cache", url, "--profiles", "30"])
    copies = DatabaseCopies(str(source))
    try:
        a, b = make_engines(sides_from_args(args), copies)
        assert copies.folder is not None
        assert {Path(copies.a).parent, Path(copies.b).parent} == set(copies.folder.iterdir())
        async with a, b:
            await a.update(3, {"name": "Only on A"})
            await b.read(3)
            assert (await b.db_rows([3]))[3].name != "Only on A"
            namespaces = {a.store.namespace, b.store.namespace}
            assert len(namespaces) == 2
        ids = {_database_id(copies.a), _database_id(copies.b), _database_id(str(source))}
        assert len(ids) == 3  # a durable queue of one never replays into another
        with redis.Redis.from_url(url) as client:
            for namespace in namespaces:  # the copies are temporary: so are their caches
                assert not list(client.scan_iter(match=f"cachetui:{namespace}:*"))
    finally:
        folder = copies.folder
        copies.remove()
    assert folder is not None and not folder.exists()
    assert _digest(source) == before
