"""The recorder's ring: a fixed-size list written slot by slot; when it wraps between two
drains, the listeners (and the file) still get every record, in order."""

from __future__ import annotations

from typing import Any

from cachetui.engine.config import WritePolicy
from cachetui.engine.history.recorder import HistoryRecorder
from cachetui.engine.profile import Profile


def profile(user: int, version: int) -> Profile:
    return Profile(user, "n", "b", "l", 0, version, "2026-01-01T00:00:00Z", f"i:0:{version}")


def test_a_ring_that_wraps_between_drains_loses_no_record_and_keeps_the_newest() -> None:
    recorder = HistoryRecorder(ring_size=4)
    seen: list[dict[str, Any]] = []
    recorder.listen(seen.extend)
    for n in range(1, 11):  # 10 records through a ring of 4, no drain in between
        recorder.update(float(n), float(n) + 0.5, profile(n, n), WritePolicy.WRITE_BEHIND, n)
    recorder.landed([profile(3, 3)])
    recorder.drain()
    assert [d["op_id"] for d in seen if d["type"] == "op"] == list(range(1, 11))
    assert seen[-1] == {"type": "landing", "write_id": "i:0:3", "user": 3, "version": 3,
                        "tx": 1, "ns": seen[-1]["ns"]}  # fmt: skip
    assert all(d["policy"] == "write-behind" and type(d["policy"]) is str for d in seen[:10])
    assert recorder.users == set(range(1, 11))
    newest = recorder.records()
    assert [d.get("op_id") for d in newest] == [8, 9, 10, None]


def test_a_ring_grows_to_its_size_before_it_wraps() -> None:
    recorder = HistoryRecorder(ring_size=3000)  # starts at 1,024 slots, doubles to 3,000
    for n in range(1, 5001):
        recorder.read(float(n), float(n), profile(n, 1), WritePolicy.WRITE_THROUGH, n)
    assert [r[10] for r in recorder.ring] == list(range(2001, 5001))
    recorder.drain()
    assert len(recorder.users) == 5000
