"""The hot paths' shortcuts against the paths they short-cut: a write-behind update that
takes the fast path (no await, no lock) leaves what the slow path leaves; the cached
``updated_at`` text is the one formatting the time would give; the gate's attribute is
its state; a caller's dict is never read after the update returned or while it waits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cachetui.engine import Engine, EngineConfig, Profile
from cachetui.engine.gate import Gate
from cachetui.engine.profile import utc_timestamp

USERS = st.integers(1, 4)
TEXT = st.text(alphabet="abc xyz", max_size=8)
CHANGES = st.one_of(
    st.fixed_dictionaries({"bio": TEXT}, optional={"location": TEXT}),
    st.fixed_dictionaries({"followers": st.integers(0, 99)}, optional={"name": st.just("Bo")}),
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("update"), USERS, CHANGES),
        st.tuples(st.sampled_from(["read", "invalidate", "flush"]), USERS, st.none()),
    ),
    max_size=10,
)


def reference_stamp(epoch_seconds: float) -> str:
    """The ``updated_at`` text as it was formatted before the per-second cache."""
    millis = int(epoch_seconds * 1000)
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=4e9, allow_nan=False), max_size=8),
       st.integers(0, 3))  # fmt: skip
def test_updated_at_is_what_formatting_the_time_gives(times, repeat):
    # near one another too (same second, same millisecond): the caches' hits
    times = times + [t + d for t in times[:2] for d in (0.0, 0.0004, 0.001, 0.999, 1.0)]
    for t in times * (1 + repeat):
        assert utc_timestamp(t) == reference_stamp(t)


@given(st.lists(st.booleans(), max_size=8))
def test_the_gates_attribute_is_its_state(moves):
    gate = Gate()
    assert gate.open is gate.is_set() is False
    for opening in moves:
        gate.set() if opening else gate.clear()
        assert gate.open is gate.is_set() is opening


def shape(profile: Profile) -> tuple[Any, ...]:
    """A profile without what differs between two engines (the instance in write ids)."""
    write = None if profile.write_id is None else profile.write_id.rsplit(":", 1)[1]
    return (*profile[:6], write)


async def state(engine: Engine, op: int) -> tuple[Any, ...]:
    m = engine.metrics
    records = engine.history.records()
    return (
        [(e.kind, e.user_id, e.version, e.detail) for e in engine.trace(op)],
        (m.reads, m.hits, m.misses, m.updates, m.coalesced, m.pending, m.peak_pending),
        sorted((w.user_id, w.version, w.coalesced, w.base_version)
               for w in engine.pending_writes()),
        # (not the entries' hits: the fast path counts the update's look at its entry
        # as one; the slow path builds on the pending write first and counts none)
        sorted(shape(e.profile) for e in await engine.cache_entries()),
        [(r["type"], r.get("op"), r.get("user"), r.get("version"), r.get("outcome"),
          r.get("op_id"), r.get("tx")) for r in records[-3:]],
    )  # fmt: skip


def test_the_write_behind_fast_path_leaves_what_the_slow_path_leaves(tmp_path: Path):
    """Two engines run the same steps; one never takes the fast path. After each step
    both returned the same, logged the same events for it and hold the same cache,
    queue, metrics and history."""
    loop = asyncio.new_event_loop()

    async def started(name: str) -> Engine:
        config = EngineConfig(
            db_path=str(tmp_path / f"{name}.db"), policy="write-behind", flush_interval=3600
        )
        engine = await Engine(config).start()
        await engine.seed(4)
        return engine

    fast, slow = (loop.run_until_complete(started(n)) for n in ("fast", "slow"))
    slow.policy_impl.update_now = lambda *_: None  # type: ignore[attr-defined]
    taken = 0

    async def step(engine: Engine, what: str, user: int, changes: Any) -> Any:
        if what == "update":
            return shape(await engine.update(user, changes))
        if what == "read":
            return shape(await engine.read(user))
        if what == "invalidate":
            return await engine.invalidate(user)
        return await engine.flush()

    @settings(max_examples=40, deadline=None)
    @given(STEPS)
    def same(steps: list[tuple[str, int, Any]]) -> None:
        nonlocal taken
        for what, user, changes in steps:
            before = fast.metrics.updates
            answers = [loop.run_until_complete(step(e, what, user, changes)) for e in (fast, slow)]
            assert answers[0] == answers[1]
            op = fast.recent_events(1)[0].op_id
            assert loop.run_until_complete(state(fast, op)) == loop.run_until_complete(
                state(slow, op)
            )
            taken += what == "update" and fast.metrics.updates > before

    try:
        same()
        assert taken  # the fast path was taken
    finally:
        for engine in (fast, slow):
            loop.run_until_complete(engine.close(timeout=2, discard=True))
        loop.close()


async def test_a_waiting_update_applies_the_changes_it_was_given(tmp_path: Path):
    """An update that waits (here for room in a full queue) applies the changes as they
    were when it was called: the caller may reuse its dict meanwhile."""
    config = EngineConfig(
        db_path=str(tmp_path / "p.db"), policy="write-behind", flush_interval=3600, max_pending=1
    )
    async with Engine(config) as engine:
        await engine.seed(2)
        await engine.read(2)  # cached: the update below fails the fast path only for room
        await engine.update(1, {"bio": "first"})  # the queue is full
        changes = {"bio": "as called"}
        waiting = asyncio.create_task(engine.update(2, changes))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        changes["bio"] = "changed by the caller afterwards"
        await engine.flush()
        assert (await waiting).bio == "as called"
        assert (await engine.read(2)).bio == "as called"
