"""How far the database is, and what each policy paid for it: the ``db-rtt`` action, the
``{distance}`` placeholder and the ``{by_policy.POLICY.NAME}`` ones.

``db-rtt 2ms`` puts the database 2 ms away: through the link in front of the database
server when there is one (``--db-rtt``; its RTT changes live, and a probe measures it),
else with the latency fault added to every database call (SQLite has no network, nor
does a server reached without a link). ``cachetui --scenario NAME --db postgresql://…``
without ``--db-rtt`` starts a link for a scenario that sets ``db-rtt`` (see
:attr:`~cachetui.scenarios.model.Scenario.db_rtt`).

:class:`PolicyLatencies` keeps, since the scenario's baseline, each policy's read and
update latencies from the engine's own histograms, each action's share going to the
policy it ran under.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from cachetui.engine import Engine, WritePolicy
from cachetui.engine.lab.link import LinkError
from cachetui.engine.metrics.counters import LatencyHistogram
from cachetui.scenarios.narration import duration

#: A link's state a scenario saves on entry: its RTT and partition, by "db" / "cache".
LinkState = dict[str, tuple[float, Any]]


async def set_db_rtt(engine: Engine, seconds: float) -> None:
    """The database ``seconds`` away (see the module docstring). LinkError if the link's
    relay does not answer."""
    link = engine.links.db
    if link is None:
        engine.faults.db_latency = seconds
        return
    await asyncio.to_thread(setattr, link, "rtt", seconds)
    await asyncio.to_thread(link.probe)  # measured now: the narration quotes it


def distance(engine: Engine, timings: bool) -> str:
    """The ``{distance}`` placeholder: how far the database is and how."""
    link = engine.links.db
    if link is not None:
        measured = link.measured_rtt()
        seen = "" if measured is None else f", measured {duration(measured, timings)}"
        return f"{duration(link.rtt, timings)} away through a link{seen}"
    latency = engine.faults.db_latency
    if not latency:
        return "as near as it is (no link, no added latency)"
    why = "a server with no link" if engine.config.db_url is not None else "SQLite"
    return f"{duration(latency, timings)} away (latency added to each call: {why})"


def saved_links(engine: Engine) -> LinkState:
    """Each link's RTT and partition now."""
    links = (("db", engine.links.db), ("cache", engine.links.cache))
    return {name: (link.rtt, link.partition) for name, link in links if link is not None}


async def apply_links(engine: Engine, state: LinkState, *, partitions: bool = True) -> None:
    """Put each link's RTT (and, with ``partitions``, its partition; else none) as in
    ``state``. A relay that does not answer is left as it is."""
    for name, (rtt, partition) in state.items():
        link = engine.links.db if name == "db" else engine.links.cache
        if link is None:
            continue
        wanted = partition if partitions else None
        try:
            if link.partition != wanted:
                await asyncio.to_thread(setattr, link, "partition", wanted)
            if link.rtt != rtt:
                await asyncio.to_thread(setattr, link, "rtt", rtt)
        except LinkError:
            continue


class PolicyLatencies:
    """Each policy's read and update latencies since :meth:`reset`: call :meth:`before`
    ahead of an action and :meth:`after` once it ran."""

    def __init__(self) -> None:
        self._reads: dict[WritePolicy, LatencyHistogram] = {}
        self._updates: dict[WritePolicy, LatencyHistogram] = {}
        self._mark: tuple[LatencyHistogram, LatencyHistogram] | None = None

    def reset(self) -> None:
        self._reads.clear()
        self._updates.clear()
        self._mark = None

    def before(self, engine: Engine) -> None:
        counters = engine.counters
        self._mark = (counters.read_latency.copy(), counters.update_latency.copy())

    def after(self, engine: Engine) -> None:
        if self._mark is None:
            return
        counters, policy = engine.counters, engine.policy
        reads, updates = self._mark
        _add(self._reads, policy, counters.read_latency.since(reads))
        _add(self._updates, policy, counters.update_latency.since(updates))
        self._mark = None

    def values(self, timings: bool) -> SimpleNamespace:
        """``by_policy``: per policy (``no_cache``, ``write_through``…) its ``reads``,
        ``updates``, ``read_ms`` and ``update_ms`` (medians; "–" without any)."""
        spaces = {}
        for policy in WritePolicy:
            reads = self._reads.get(policy, LatencyHistogram())
            updates = self._updates.get(policy, LatencyHistogram())
            spaces[policy.value.replace("-", "_")] = SimpleNamespace(
                reads=reads.total,
                updates=updates.total,
                read_ms=duration(reads.percentile(50), timings),
                update_ms=duration(updates.percentile(50), timings),
            )
        return SimpleNamespace(**spaces)


def _add(
    into: dict[WritePolicy, LatencyHistogram], policy: WritePolicy, more: LatencyHistogram
) -> None:
    if not more.total:
        return
    total = into.setdefault(policy, LatencyHistogram())
    total.counts = [a + b for a, b in zip(total.counts, more.counts, strict=True)]
    total.total += more.total
