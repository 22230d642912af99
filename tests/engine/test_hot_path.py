"""What the hot path's shortcuts must not change: an update's validation, the latency
percentiles the metrics show, and the events a subscriber, the event log and a trace see."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cachetui.engine import EventKind, ValidationError
from cachetui.engine.metrics.counters import LatencyHistogram
from cachetui.engine.profile import MAX_INTEGER, UPDATABLE_FIELDS, validate_changes


class Subclassed(dict[str, Any]):
    """A dict the one-pass check leaves to the full one (which names what is wrong)."""


def outcome(changes: Any) -> tuple[str, Any]:
    try:
        return "ok", validate_changes(changes)
    except ValidationError as exc:
        return "error", (str(exc), exc.field)


TEXT = st.text(
    st.characters(blacklist_categories=()) | st.sampled_from("\x00é\ud800"),
    max_size=300,
)
VALUES = (
    TEXT
    | st.integers(min_value=-5, max_value=MAX_INTEGER + 5)
    | st.sampled_from([MAX_INTEGER, MAX_INTEGER + 1, -1, 0, True, False, 1.5, None, b"x"])
)
FIELDS = st.sampled_from([*UPDATABLE_FIELDS, "version", "email", "user_id"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(FIELDS, VALUES, max_size=4))
@example({"bio": "a\x00b"})
@example({"name": "Ada", "followers": MAX_INTEGER + 1})
def test_an_update_is_accepted_or_refused_as_the_full_check_says(changes):
    plain = outcome(changes)
    assert plain == outcome(Subclassed(changes))
    if plain[0] == "ok":
        assert plain[1] == changes and plain[1] is not changes  # a copy: later edits stay out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=1, max_size=300))
def test_latency_percentiles_stay_within_the_buckets_resolution(seconds):
    histogram = LatencyHistogram()
    for value in seconds:
        histogram.add(value)
    ordered = sorted(seconds)
    assert histogram.total == len(seconds) == sum(histogram.counts)
    for p in (1, 50, 95, 99, 100):
        true = ordered[max(1, round(len(ordered) * p / 100)) - 1]
        shown = histogram.percentile(p)
        assert shown is not None
        if true >= 64e-9:  # log-linear above 32 ns: 16 buckets per power of two
            assert abs(shown - true) <= true * 0.0625 + 1e-9
        else:
            assert abs(shown - true) <= 32e-9


def test_latencies_added_after_a_copy_are_what_since_counts():
    histogram = LatencyHistogram()
    for value in (1e-6, 2e-6, 3e-6):
        histogram.add(value)
    earlier = histogram.copy()
    histogram.add(5e-3)
    histogram.record(6e-3)
    gained = histogram.since(earlier)
    assert (earlier.total, histogram.total, gained.total) == (3, 5, 2)
    assert gained.percentile(1) == pytest.approx(5e-3, rel=0.07)
    assert earlier.percentile(100) == pytest.approx(3e-6, rel=0.07)


@pytest.mark.parametrize("policy", ["write-behind", "write-through"])
async def test_subscribers_the_log_and_a_trace_see_the_same_events(make_engine, policy):
    engine = await make_engine(policy, max_pending=100)
    await engine.read(1)  # cached: the updates below take the hot path under write-behind
    seen: list[tuple[Any, ...]] = []
    unsubscribe = engine.subscribe(
        lambda e: seen.append((e.op_id, e.kind, e.user_id, e.version, e.duration, e.at, e.detail))
    )
    start = len(engine.recent_events())
    first = await engine.update(1, {"bio": "one"})
    second = await engine.update(1, {"bio": "two"})
    read = await engine.read(1)
    unsubscribe()
    await engine.read(2)  # after unsubscribing: in the log only

    logged = engine.recent_events()[start:]
    assert seen and seen[-1][1] is EventKind.HIT and seen[-1][2] == 1  # up to the read
    assert seen == [(e.op_id, e.kind, e.user_id, e.version, e.duration, e.at, e.detail)
                    for e in logged[: len(seen)]]  # fmt: skip
    assert len(logged) > len(seen) and logged[-1].user_id == 2
    acks = [e for e in logged if e.kind is EventKind.ACK]
    assert [(e.user_id, e.version, e.detail) for e in acks] == [
        (1, first.version, policy),
        (1, second.version, policy),
    ]
    assert all(e.duration is not None and e.duration >= 0 for e in acks)
    hits = [e for e in logged if e.kind is EventKind.HIT and e.user_id == 1]
    assert read.version == second.version
    assert [e.version for e in hits] == [second.version]
    trace = [e.kind for e in engine.trace(acks[1].op_id)]
    assert trace[-1] is EventKind.ACK
    if policy == "write-behind":
        assert trace == [EventKind.COALESCE, EventKind.ACK]  # the second update coalesced
        assert [e.kind for e in engine.trace(acks[0].op_id)] == [EventKind.ENQUEUE, EventKind.ACK]
    assert [e.at for e in logged] == sorted(e.at for e in logged)
