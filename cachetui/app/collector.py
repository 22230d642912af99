"""Python's cyclic garbage collector, tuned for a live dashboard under load.

With the default thresholds (700, 10, 10) a workload of 20,000 ops/s and the panes'
repaints allocate enough for a full (generation 2) collection about once a second, each
pausing the event loop for 80–180 ms on this project's development machine: the pauses
were most of the worst key-to-screen latencies, and the collections ~9 % of a core. A
young generation of 10,000 allocations makes them rare (one full collection in ~30 s of
that load, measured with ``gc.callbacks``); freezing what exists at launch (modules,
Textual, the engine's code) keeps it out of every later collection. Garbage in cycles
made afterwards is found as before, later; what was frozen is never collected, and it
lives as long as the app anyway.
"""

from __future__ import annotations

import gc

#: Allocations (less deallocations) between two young collections; Python's default is 700.
YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """Freeze the objects alive now (``gc.freeze``) and raise the young generation's
    threshold to :data:`YOUNG_THRESHOLD`. Called by the command line before an app runs;
    process-wide, so never from library code."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
