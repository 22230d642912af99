"""Export for slides: the screen as SVG and the sampled metrics history as CSV and JSON.

The app samples the engine's metrics once a second (for its sparklines) and keeps the last
:data:`HISTORY_SAMPLES` samples here. No Textual import: the files are made by
:func:`export_texts`, written into a folder by :func:`write_export` (the export dialog) or
delivered to the browser by the app (``cachetui serve``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cachetui import __version__
from cachetui.app.widgets.metrics_strip import Rates
from cachetui.engine import MetricsSnapshot

HISTORY_SAMPLES = 3600  # one hour at one sample a second
RATE_FIELDS = ("reads_per_s", "updates_per_s", "db_writes_per_s", "db_transactions_per_s")
#: The engine's durations (seconds), exported under a name that carries the unit:
#: latencies in microseconds (as ``cachetui bench --json`` has them), queue ages in seconds.
DURATIONS: dict[str, tuple[str, float, int]] = {
    **{
        f"{kind}_{p}": (f"{kind}_{p}_us", 1e6, 1)
        for kind in ("read", "update")
        for p in ("p50", "p95", "p99")
    },
    "oldest_pending_age": ("oldest_pending_age_s", 1.0, 6),
    "max_queue_wait": ("max_queue_wait_s", 1.0, 6),
}
FIELDS: tuple[str, ...] = (
    "time",
    "policy",
    *RATE_FIELDS,
    "window_hit_ratio",
    *(DURATIONS.get(field.name, (field.name,))[0] for field in dataclasses.fields(MetricsSnapshot)),
)


class ExportError(Exception):
    """A folder that cannot take the export; the message says why, for the dialog."""


@dataclass(frozen=True)
class MetricsSample:
    """One sample: the engine's metrics, the rates over the second before, the hit ratio
    of that second's reads. ``at``: seconds since the epoch."""

    at: float
    policy: str
    metrics: MetricsSnapshot
    rates: Rates
    window_hit_ratio: float

    def row(self) -> dict[str, object]:
        """The sample under :data:`FIELDS`. A hit ratio without reads to divide by is
        None (an empty CSV cell, JSON null), as the screen shows ``–`` rather than 0."""
        r = self.rates
        rates = (r.reads, r.updates, r.db_writes, r.db_transactions)
        metrics: dict[str, object] = {}
        for name, value in dataclasses.asdict(self.metrics).items():
            if name in DURATIONS:
                unit_name, scale, digits = DURATIONS[name]
                metrics[unit_name] = None if value is None else round(value * scale, digits)
            else:
                metrics[name] = value
        if self.metrics.hits + self.metrics.misses == 0:
            metrics["hit_ratio"] = None
        return {
            "time": datetime.fromtimestamp(self.at).astimezone().isoformat(timespec="seconds"),
            "policy": self.policy,
            **{name: round(value, 3) for name, value in zip(RATE_FIELDS, rates, strict=True)},
            # the screen's rule: a second without reads has no hit ratio
            "window_hit_ratio": round(self.window_hit_ratio, 4) if r.reads else None,
            **metrics,
        }


class MetricsHistory:
    """The last ``maxlen`` samples, oldest first."""

    def __init__(self, maxlen: int = HISTORY_SAMPLES) -> None:
        self._samples: deque[MetricsSample] = deque(maxlen=maxlen)

    def add(self, sample: MetricsSample) -> None:
        self._samples.append(sample)

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[MetricsSample]:
        return iter(self._samples)

    def clear(self) -> None:
        self._samples.clear()


def prepare_folder(text: str) -> Path:
    """The folder named by ``text`` (``~`` expanded), created if missing; ExportError
    when it is not a folder, cannot be created or cannot be written to."""
    text = text.strip()
    if not text:
        raise ExportError("enter a folder")
    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write to {folder}: permission denied")
    return folder.resolve()


def export_stem(when: datetime) -> str:
    return f"cachetui-{when:%Y%m%d-%H%M%S}"


def export_names(folder: Path, when: datetime) -> tuple[Path, Path, Path]:
    """``cachetui-YYYYmmdd-HHMMSS.svg/.csv/.json`` in ``folder``; ``-2``, ``-3``… when a
    file of that name is already there (two exports within one second)."""
    stem = export_stem(when)
    candidate, n = stem, 1
    while any((folder / f"{candidate}{ext}").exists() for ext in (".svg", ".csv", ".json")):
        n += 1
        candidate = f"{stem}-{n}"
    svg, csv_path, json_path = (folder / f"{candidate}{ext}" for ext in (".svg", ".csv", ".json"))
    return svg, csv_path, json_path


def export_texts(
    svg: str, samples: Sequence[MetricsSample], *, when: datetime, stem: str
) -> list[tuple[str, str]]:
    """The export's files as (name, text): the screen (``stem.svg``) and the samples
    (``stem.csv``, ``stem.json``)."""
    rows = [sample.row() for sample in samples]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    document = {
        "cachetui": __version__,
        "exported_at": when.astimezone().isoformat(timespec="seconds"),
        "screenshot": f"{stem}.svg",
        "fields": list(FIELDS),
        "samples": rows,
    }
    return [
        (f"{stem}.svg", svg),
        (f"{stem}.csv", table.getvalue()),
        (f"{stem}.json", json.dumps(document, indent=1) + "\n"),
    ]


def write_export(
    folder_text: str,
    svg: str,
    samples: Sequence[MetricsSample],
    *,
    when: datetime | None = None,
) -> list[Path]:
    """Write the screen and the samples into the folder named by ``folder_text``; returns
    the three paths. Writes nothing (or removes what it wrote) on error: ExportError."""
    when = when or datetime.now()
    folder = prepare_folder(folder_text)
    stem = export_names(folder, when)[0].stem
    written: list[Path] = []
    try:
        for name, text in export_texts(svg, samples, when=when, stem=stem):
            path = folder / name
            with path.open("w", encoding="utf-8", newline="") as out:
                out.write(text)
            written.append(path)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise ExportError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    return written
