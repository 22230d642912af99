"""Every verb a scenario file may use does something, and nothing else is done: the
parser's table (how a verb is written) and the runner's (what it does) name the same verbs."""

from __future__ import annotations

from cachetui.scenarios.actions import ALIASES, VERBS
from cachetui.scenarios.verbs import DO


def test_every_written_verb_has_a_deed_and_every_deed_a_written_verb():
    assert set(DO) == set(VERBS)


def test_every_alias_names_a_verb_the_runner_does():
    assert set(ALIASES.values()) <= set(DO)
