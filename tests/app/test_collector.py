"""The collector tuning the command line applies before an app runs."""

from __future__ import annotations

import gc

from cachetui.app.collector import YOUNG_THRESHOLD, tune_collector


def test_tuning_freezes_what_exists_and_makes_young_collections_rarer() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # the objects alive now are never scanned again
        garbage: list[object] = []
        garbage.append(garbage)  # a cycle made afterwards is still collected
        del garbage
        assert gc.collect() >= 1
        # (the command line's own call is left out of every other test: see conftest)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
