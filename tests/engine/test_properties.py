"""Random sequences of operations against a simple model of the engine's contract.

Checks: every read returns the last acknowledged version unless a crash reported that
write lost or an external write made the cache stale; crash() reports exactly the lost
writes; after close() the database holds the last acknowledged version of every user
except those reported lost (read back through a separate sqlite3 connection).

Runs over the in-process store and over a real Redis server. With Redis a crash leaves
the cache as it was (lost versions may still be served from it: orphaned), and the
cache can become unreachable (the cache_down fault) and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from cachetui.engine import (
    DatabaseUnavailable,
    Engine,
    EngineConfig,
    PendingWritesError,
    Profile,
    StoreUnavailable,
    WritePolicy,
)
from cachetui.engine.database.base import builds_on
from tests.conftest import TEST_REDIS_URL, db_row, delete_namespace, redis_or_skip

USERS = range(1, 5)
#: Every change of a row's version, recorded by the database itself.
VERSION_AUDIT = """
CREATE TABLE version_audit (user_id INTEGER, old INTEGER, new INTEGER);
CREATE TRIGGER version_audit AFTER UPDATE OF version ON profiles BEGIN
    INSERT INTO version_audit VALUES (old.user_id, old.version, new.version);
END;
"""
POLICIES = [p.value for p in WritePolicy]
text = st.text(alphabet="abcxyz ", max_size=12)
changes_strategy = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["Ada", "Linus", "Grace"])}),
    st.fixed_dictionaries({"bio": text}, optional={"location": text}),
    st.fixed_dictionaries({"followers": st.integers(0, 10_000)}, optional={"name": st.just("Bo")}),
)


def applied(
    base: Profile, changes: dict[str, Any], result: Profile, *, external: bool = False
) -> bool:
    """``result`` is ``base`` with ``changes``, one version up, as a new write: its own
    write id (not the base's), or none for another program's write (``external``)."""
    if external:
        return result == base._replace(
            **changes, version=base.version + 1, updated_at=result.updated_at, write_id=None
        )
    return (
        result.write_id is not None
        and result.write_id != base.write_id
        and result
        == base._replace(
            **changes,
            version=base.version + 1,
            updated_at=result.updated_at,
            write_id=result.write_id,
        )
    )


class EngineModel(RuleBasedStateMachine):
    cache_url = "memory://"
    queue_url = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="cachetui-prop-"))
        self.engine: Engine | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @initialize(policy=st.sampled_from(POLICIES), eviction=st.sampled_from(["lru", "lfu", "fifo"]))
    def start(self, policy: str, eviction: str) -> None:
        self.path = str(self.dir / "profiles.db")
        config = EngineConfig(
            db_path=self.path,
            cache_url=self.cache_url,
            queue_url=self.queue_url,
            policy=policy,
            capacity=2,
            eviction=eviction,
            flush_interval=3600,
            batch_size=1000,
            max_pending=1000,
            flush_timeout=0.05,
            retry_base=0.01,
            retry_cap=0.02,
        )
        self.engine = Engine(config)
        self.run(self.engine.start())
        self.run(self.engine.seed(len(USERS)))
        with contextlib.closing(sqlite3.connect(self.path)) as db:  # the version audit
            db.executescript(VERSION_AUDIT)
        self.policy = WritePolicy(policy)
        self.db: dict[int, Profile] = {u: db_row(self.path, u) for u in USERS}
        self.view: dict[int, Profile] = dict(self.db)  # what the engine should serve
        # every value each user's row held or an update acknowledged: a stale cache entry
        # is one of them (for example a fill from the database before another writer's
        # change, after the orphaned entry of a crash was evicted)
        self.seen: dict[int, list[Profile]] = {u: [self.db[u]] for u in USERS}
        self.stale: set[int] = set()  # external write since the engine last wrote
        self.pending: dict[int, Profile] = {}
        # the database version each pending write was built on (the version guard)
        self.base: dict[int, int] = {}
        self.parked: set[int] = set()  # conflicts parked as dead letters
        self.db_down = False
        self.cache_down = False
        # users written while the cache was unreachable: their entries are repaired when
        # it comes back — unless a crash erased that to-do list first
        self.written_while_down: set[int] = set()

    # -- operations ----------------------------------------------------------------------
    @rule(user=st.sampled_from(USERS))
    def read(self, user: int) -> None:
        try:
            got = self.run(self.engine.read(user))
        except DatabaseUnavailable:
            assert self.db_down and user not in self.pending
            return
        if user in self.pending:
            assert got == self.pending[user]
        elif user in self.stale:
            assert got in (self.view[user], self.db[user]) or got in self.seen[user]
            if (
                got == self.db[user]
                and self.engine.cache_available
                and self.policy is not WritePolicy.NO_CACHE  # no-cache reads never fill
            ):
                self.stale.discard(user)  # the cache now holds the database's version
                self.view[user] = got
        else:
            assert got == self.view[user]

    @rule(user=st.sampled_from(USERS), changes=changes_strategy)
    def update(self, user: int, changes: dict[str, Any]) -> None:
        try:
            got = self.run(self.engine.update(user, changes))
        except DatabaseUnavailable:
            assert self.db_down
            return
        if user in self.pending:
            bases = [self.pending[user]]
        elif user in self.stale:
            bases = [self.view[user], self.db[user], *self.seen[user]]
        else:
            bases = [self.view[user]]
        assert any(applied(base, changes, got) for base in bases)
        self.view[user] = got
        self.seen[user].append(got)
        self.stale.discard(user)
        if not self.engine.cache_available:
            self.written_while_down.add(user)
        if self.policy is WritePolicy.WRITE_BEHIND:
            if user not in self.pending:
                self.base[user] = got.version - 1
            self.pending[user] = got
        else:
            assert not self.db_down
            self.db[user] = got

    @rule(user=st.sampled_from(USERS), changes=changes_strategy)
    def external_update(self, user: int, changes: dict[str, Any]) -> None:
        try:
            got = self.run(self.engine.external_update(user, changes))
        except DatabaseUnavailable:
            assert self.db_down
            return
        assert applied(self.db[user], changes, got, external=True)
        self.db[user] = got
        self.seen[user].append(got)
        if user not in self.pending:
            self.stale.add(user)

    @rule(user=st.sampled_from(USERS))
    def invalidate(self, user: int) -> None:
        self.run(self.engine.invalidate(user))

    @rule(policy=st.sampled_from(POLICIES))
    def set_policy(self, policy: str) -> None:
        try:
            self.run(self.engine.set_policy(policy))
        except PendingWritesError:
            assert self.db_down and self.pending and self.policy is WritePolicy.WRITE_BEHIND
            return
        if self.policy is WritePolicy.WRITE_BEHIND and policy != self.policy:
            self._landed()
        self.policy = WritePolicy(policy)

    @rule()
    def flush(self) -> None:
        try:
            self.run(self.engine.flush())
        except PendingWritesError:
            assert self.db_down and self.pending
            return
        self._landed()

    @rule()
    def crash(self) -> None:
        lost = self.run(self.engine.crash())
        if self.queue_url != "memory://":
            # a durable queue: nothing acknowledged is lost, the outbox is replayed
            assert lost == [] and self.engine.last_crash.replayed == len(self.pending)
            # the in-process cache is gone, the queue is not: a miss serves the replayed
            # pending write (read-your-writes), which lands later
            self.view = {**self.db, **self.pending}
            self.stale.clear()
            self.written_while_down.clear()
            return
        assert lost == sorted((u, p.version) for u, p in self.pending.items())
        if self.engine.store.lost_on_crash:
            self.view = dict(self.db)
            self.stale.clear()
        else:
            # the cache survives: what it holds may be newer (lost writes) or older
            # (written while it was unreachable) than the database
            for user, profile in self.pending.items():
                self.view[user] = profile
                self.stale.add(user)
            if not self.engine.cache_available:
                self.stale |= self.written_while_down
        self.written_while_down.clear()
        self.pending.clear()
        self.base.clear()

    @rule()
    def toggle_cache_down(self) -> None:
        self.cache_down = not self.cache_down
        self.engine.faults.cache_down = self.cache_down
        if not self.cache_down:

            async def back() -> None:
                while not self.engine.cache_available:  # noqa: ASYNC110 - polled state
                    await asyncio.sleep(0.001)

            self.run(asyncio.wait_for(back(), 5))
            self.written_while_down.clear()

    @rule()
    def toggle_outage(self) -> None:
        self.db_down = not self.db_down
        self.engine.faults.db_down = self.db_down

    def _landed(self) -> None:
        for user, profile in self.pending.items():
            if self.base[user] == self.db[user].version or builds_on(
                profile, self.db[user].write_id, self.db[user].version
            ):
                # (the row holds an earlier write of this engine, older than the pending
                # one: it was built on it, for example on a write lost in a crash whose
                # entry the surviving cache still held; nobody else wrote the row)
                self.db[user] = profile
                self.view[user] = profile  # the newest acknowledged, now in the database
            else:
                # another writer changed the row since: a conflict, parked, never applied
                self.parked.add(user)
                self.view[user] = self.db[user]  # the cache entry was dropped
            self.stale.discard(user)
        self.pending.clear()
        self.base.clear()

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def queue_matches_the_model(self) -> None:
        if self.engine is None:
            return
        queued = {p.user_id: p.profile for p in self.engine.pending_writes()}
        assert queued == self.pending
        if self.engine.cache_available:
            cached = self.run(self.engine.cache_entries())
            assert len(cached) <= 2
        else:
            with pytest.raises(StoreUnavailable):
                self.run(self.engine.cache_entries())
        # every acknowledged update is a row written, absorbed, still pending, parked
        # (a conflict) or lost
        m = self.engine.metrics
        assert m.updates == (m.db_writes + m.coalesced + m.pending + m.dead_letters + m.lost_writes)
        assert {d.user_id for d in self.engine.dead_letters()} == self.parked
        assert all(d.kind == "conflict" for d in self.engine.dead_letters())

    def teardown(self) -> None:
        try:
            if self.engine is not None:
                self.engine.faults.clear()
                self.run(self.engine.close())
                self._landed()
                for user in USERS:
                    assert db_row(self.path, user) == self.db[user]
                with contextlib.closing(sqlite3.connect(self.path)) as db:
                    down = db.execute("SELECT * FROM version_audit WHERE new < old").fetchall()
                assert down == []  # no row's version ever went down
        finally:
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.engine is not None and hasattr(self.engine.store, "namespace"):
                delete_namespace(self.cache_url, self.engine.store.namespace)


EngineModel.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineModel = EngineModel.TestCase


class RedisEngineModel(EngineModel):
    cache_url = TEST_REDIS_URL


RedisEngineModel.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestRedisEngineModel(RedisEngineModel.TestCase):
    def setUp(self) -> None:
        redis_or_skip()
        super().setUp()


class OutboxEngineModel(EngineModel):
    """The same contract with a durable queue (an outbox file): a crash loses nothing."""

    queue_url = "sqlite://"


OutboxEngineModel.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOutboxEngineModel = OutboxEngineModel.TestCase


class StreamEngineModel(EngineModel):
    """The same contract with a durable queue in a Redis Stream (the cache in process)."""

    queue_url = TEST_REDIS_URL

    def teardown(self) -> None:
        stream = f"cachetui:queue:{self.engine.db.database_id}" if self.engine else ""
        try:
            super().teardown()
        finally:
            if stream:
                with redis.Redis.from_url(TEST_REDIS_URL) as client:
                    client.delete(stream)


StreamEngineModel.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestStreamEngineModel(StreamEngineModel.TestCase):
    def setUp(self) -> None:
        redis_or_skip()
        super().setUp()


@pytest.mark.parametrize("model", [OutboxEngineModel, StreamEngineModel], ids=["outbox", "stream"])
def test_a_write_replayed_after_a_crash_is_served_and_lands(model: type[EngineModel]) -> None:
    """The sequence hypothesis once found (saved examples are not in a clean checkout):
    after a crash, a durable queue's replayed write is what reads serve, and it lands
    when the policy switch drains the queue."""
    if model is StreamEngineModel:
        redis_or_skip()
    state = model()
    state.start(policy="write-through", eviction="lru")
    state.set_policy(policy="write-behind")
    state.update(changes={"name": "Ada"}, user=2)
    state.crash()
    state.read(user=2)
    state.set_policy(policy="write-through")
    state.update(changes={"name": "Ada"}, user=2)
    state.read(user=2)
    state.teardown()


def test_a_write_built_on_one_lost_in_a_crash_lands_on_the_engines_earlier_write() -> None:
    """Redis keeps the entry of a write the crash lost; the next update builds on it and
    lands over the engine's own earlier write (no other writer: no conflict)."""
    redis_or_skip()
    state = RedisEngineModel()
    state.start(policy="write-behind", eviction="lru")
    for step in (
        lambda: state.update(changes={"name": "Ada"}, user=1),
        state.flush,
        lambda: state.update(changes={"name": "Ada"}, user=1),
        state.crash,
        lambda: state.update(changes={"name": "Ada"}, user=1),
        state.flush,
    ):
        step()
        state.queue_matches_the_model()
    state.teardown()
