"""The two sides' engine configurations, as the command line makes them
(:func:`cachetui.compare.cli.sides_from_args`) and the engines are built from them
(:func:`cachetui.compare.engines.make_engines`)."""

from __future__ import annotations

import dataclasses

from cachetui.engine.config import EngineConfig


@dataclasses.dataclass(frozen=True)
class Sides:
    """The two sides' configurations (``db_path`` still the user's: see DatabaseCopies)."""

    a: EngineConfig
    b: EngineConfig
