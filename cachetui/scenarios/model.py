"""A scenario: a named sequence of steps, each a list of actions and a narration."""

from __future__ import annotations

from dataclasses import dataclass

from cachetui.scenarios.actions import Action


@dataclass(frozen=True, slots=True)
class Step:
    narration: str  # a template: see cachetui.scenarios.narration
    actions: tuple[Action, ...] = ()
    line: int = 0  # where the step starts in its file (0: unknown)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""  # shown before the first step
    source: str = "<built-in>"  # the file it came from

    @property
    def db_rtt(self) -> float | None:
        """The first RTT a ``db-rtt`` action sets (None: it sets none). Started from the
        command line on a PostgreSQL server without ``--db-rtt``, the scenario gets a
        link with this RTT (see :mod:`~cachetui.scenarios.distance`)."""
        for step in self.steps:
            for action in step.actions:
                if action.verb == "db-rtt":
                    return float(action.value)
        return None


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or started; ``line`` is 0 when not about a line."""

    def __init__(self, message: str, *, source: str = "", line: int = 0) -> None:
        where = source
        if line:
            where = f"{source}, line {line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
        self.reason = message
