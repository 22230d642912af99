"""Guided scenarios: named steps of engine actions with narration, for talks and lessons.

No Textual here (the app shows the frames; this package runs them on an engine):

    scenario = resolve_scenario("write-behind")      # a built-in, or a path to a .toml file
    run = ScenarioRun(engine, scenario)
    frame = await run.start()                        # the introduction
    frame = await run.next()                         # step 1: frame.narration is measured
    frame = await run.back()                         # back to the state before step 1
    await run.leave()                                # the engine as it was before
"""

from cachetui.scenarios.actions import VERBS, Action, ActionError, parse_action
from cachetui.scenarios.loader import (
    BUILTIN_NAMES,
    builtin_scenario,
    builtin_scenarios,
    load_scenario_file,
    parse_scenario,
    resolve_scenario,
)
from cachetui.scenarios.model import Scenario, ScenarioError, Step
from cachetui.scenarios.runner import Frame, ScenarioRun

__all__ = [
    "BUILTIN_NAMES",
    "VERBS",
    "Action",
    "ActionError",
    "Frame",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "Step",
    "builtin_scenario",
    "builtin_scenarios",
    "load_scenario_file",
    "parse_action",
    "parse_scenario",
    "resolve_scenario",
]
