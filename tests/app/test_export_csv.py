"""The exported metrics say their units, and a hit ratio with no reads behind it is
empty (JSON null), as the screen shows ``–``, never a 0 that reads as "every read missed"."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime

from cachetui.app.export import FIELDS, MetricsSample, export_texts
from cachetui.app.widgets.metrics_strip import Rates
from cachetui.engine import MetricsSnapshot

NOTHING = MetricsSnapshot(
    **{
        field.name: None if "None" in str(field.type) else 0
        for field in dataclasses.fields(MetricsSnapshot)
    }
)


def exported(*samples: MetricsSample) -> tuple[list[dict[str, str]], list[dict[str, object]]]:
    when = datetime(2026, 9, 21, 12, 0, 0)
    files = dict(export_texts("<svg/>", samples, when=when, stem="x"))
    table = list(csv.DictReader(io.StringIO(files["x.csv"])))
    return table, json.loads(files["x.json"])["samples"]


def test_a_second_without_reads_has_no_hit_ratio():
    idle = MetricsSample(1_790_000_000.0, "write-through", NOTHING, Rates(updates=3.0), 0.0)
    busy = MetricsSample(
        1_790_000_001.0,
        "write-through",
        dataclasses.replace(NOTHING, reads=4, hits=1, misses=3, hit_ratio=0.25),
        Rates(reads=4.0),
        0.25,
    )
    (idle_row, busy_row), (idle_json, busy_json) = exported(idle, busy)
    assert idle_row["window_hit_ratio"] == "" and idle_row["hit_ratio"] == ""
    assert idle_json["window_hit_ratio"] is None and idle_json["hit_ratio"] is None
    assert busy_row["window_hit_ratio"] == "0.25" and busy_row["hit_ratio"] == "0.25"
    every_miss = dataclasses.replace(busy, window_hit_ratio=0.0)  # reads, none hit: 0
    assert exported(every_miss)[0][0]["window_hit_ratio"] == "0.0"


def test_durations_carry_their_unit():
    metrics = dataclasses.replace(
        NOTHING, read_p50=0.000123, update_p99=0.0045, max_queue_wait=1.5, oldest_pending_age=0.25
    )
    [row], [document] = exported(
        MetricsSample(1_790_000_000.0, "write-behind", metrics, Rates(), 0.0)
    )
    assert row["read_p50_us"] == "123.0" and row["update_p99_us"] == "4500.0"
    assert row["read_p95_us"] == "" and document["read_p95_us"] is None  # no sample yet
    assert row["max_queue_wait_s"] == "1.5" and row["oldest_pending_age_s"] == "0.25"
    for field in dataclasses.fields(MetricsSnapshot):  # no number without its unit
        if "float" in str(field.type):
            [name] = [f for f in FIELDS if f.startswith(field.name)]
            assert name.endswith(("_s", "_us", "ratio")), name
    assert list(row) == list(FIELDS) == list(document)
