"""The write policies, one module each: write-through, write-behind, write-around and
the no-cache baseline. ``build_policies`` makes one instance of each over a core."""

from __future__ import annotations

from cachetui.engine.config import WritePolicy
from cachetui.engine.core import EngineCore
from cachetui.engine.policies.base import CommitFirst, Policy
from cachetui.engine.policies.no_cache import NoCache
from cachetui.engine.policies.write_around import WriteAround
from cachetui.engine.policies.write_behind import WriteBehind
from cachetui.engine.policies.write_through import WriteThrough
from cachetui.engine.queue.flusher import Flusher

__all__ = [
    "CommitFirst",
    "NoCache",
    "Policy",
    "WriteAround",
    "WriteBehind",
    "WriteThrough",
    "build_policies",
]


def build_policies(core: EngineCore, flusher: Flusher) -> dict[WritePolicy, Policy]:
    behind = WriteBehind(core, flusher)
    return {
        WritePolicy.WRITE_THROUGH: WriteThrough(core),
        WritePolicy.WRITE_BEHIND: behind,
        WritePolicy.WRITE_AROUND: WriteAround(core),
        WritePolicy.NO_CACHE: NoCache(core),
    }
