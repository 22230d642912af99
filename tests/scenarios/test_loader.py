"""Scenario files: the format, every error with its line number, the built-ins, --scenario."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.engine import WritePolicy
from cachetui.scenarios import (
    BUILTIN_NAMES,
    ScenarioError,
    builtin_scenarios,
    load_scenario_file,
    parse_action,
    parse_scenario,
    resolve_scenario,
)
from cachetui.scenarios.actions import ActionError
from cachetui.scenarios.narration import check, fill, plural

GOOD = """\
name = "my-talk"
title = "My talk"
description = "What it shows."

[[step]]
narration = "Write-behind: {updates} updates became {total.db_writes:database write}."
actions = [
    "policy write-behind",
    "read 7",
    "update 7 x30",
    'update 8 bio="Hello, world" followers=12',
    "follow 7",
]

[[step]]
narration = "Flushed."
actions = ["flush", "latency 20ms", "error-rate 10%", "db-down on", "wait 500ms"]

[[step]]
narration = "No actions: just words."
"""


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(textwrap.dedent(text), source="talk.toml")
    return caught.value


# -- the format --------------------------------------------------------------------------------
def test_a_good_file_parses():
    scenario = parse_scenario(GOOD, source="talk.toml")
    assert (scenario.name, scenario.title, scenario.description) == (
        "my-talk",
        "My talk",
        "What it shows.",
    )
    assert len(scenario.steps) == 3
    first = scenario.steps[0]
    assert first.line == 5
    assert [a.verb for a in first.actions] == ["policy", "read", "update", "update", "follow"]
    assert first.actions[0].value is WritePolicy.WRITE_BEHIND
    assert first.actions[2].users == (7,) and first.actions[2].repeat == 30
    assert first.actions[3].change_dict == {"bio": "Hello, world", "followers": 12}
    second = scenario.steps[1].actions
    assert [a.value for a in second[1:]] == [0.02, 0.1, True, 0.5]
    assert scenario.steps[2].actions == ()


def test_name_defaults_to_the_file_name_and_title_to_the_name(tmp_path: Path):
    path = tmp_path / "lightning.toml"
    path.write_text('[[step]]\nnarration = "Hi."\n')
    scenario = load_scenario_file(path)
    assert (scenario.name, scenario.title, scenario.source) == (
        "lightning",
        "lightning",
        str(path),
    )


def test_multiline_narration_is_one_paragraph():
    scenario = parse_scenario('[[step]]\nnarration = """\nOne\n  two.\n"""\n')
    assert scenario.steps[0].narration == "One two."


@pytest.mark.parametrize(
    ("text", "users"),
    [
        ("read 7", (7,)),
        ("read 1-3", (1, 2, 3)),
        ("read 1,4,9", (1, 4, 9)),
        ("read 1-2,2,5", (1, 2, 5)),
    ],
)
def test_users(text, users):
    assert parse_action(text).users == users


def test_aliases_and_case():
    assert parse_action("Outage ON").verb == "db-down"
    assert parse_action("outage on").value is True
    assert parse_action("sleep 2").value == 2.0
    assert parse_action("external-write 3").verb == "external"
    assert parse_action("cache-down on").value is True


# -- errors: TOML syntax ----------------------------------------------------------------------
def test_toml_syntax_error_names_line_and_column():
    error = error_of(
        """\
        title = "x"

        [[step]]
        narration = "Hi"
        actions = ["read 7" "read 8"]
        """
    )
    assert error.line == 5
    assert str(error).startswith("talk.toml, line 5: not valid TOML: column ")


def test_unterminated_string_at_the_end():
    error = error_of('title = "x"\n[[step]]\nnarration = "Hi')
    assert error.line == 3
    assert "not valid TOML" in str(error)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such file"):
        load_scenario_file(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario_file(tmp_path)


def test_not_utf8(tmp_path: Path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'title = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario_file(path)


# -- errors: structure -------------------------------------------------------------------------
def test_unknown_top_level_key():
    error = error_of(
        """\
        title = "x"
        author = "me"
        [[step]]
        narration = "Hi"
        """
    )
    assert str(error) == (
        "talk.toml, line 2: unknown key 'author': a scenario has name, title, description "
        "and [[step]] tables"
    )


def test_no_steps():
    error = error_of('title = "x"\n')
    assert str(error) == "talk.toml, line 1: no steps: add at least one [[step]] table"


def test_step_that_is_not_a_table():
    error = error_of('title = "x"\nstep = "first"\n')
    assert error.line == 2
    assert "step must be tables written as [[step]]" in str(error)


def test_title_must_be_text():
    error = error_of("title = 3\n[[step]]\nnarration = 'x'\n")
    assert str(error) == "talk.toml, line 1: title must be text"


def test_bad_name():
    error = error_of('name = "my talk!"\n[[step]]\nnarration = "x"\n')
    assert error.line == 1 and "name 'my talk!'" in str(error)


def test_unknown_step_key_names_its_line():
    error = error_of(
        """\
        [[step]]
        narration = "One"

        [[step]]
        narration = "Two"
        action = ["read 7"]
        """
    )
    assert str(error) == (
        "talk.toml, line 6: step 2: unknown key 'action': a step has narration and actions"
    )


def test_missing_narration_names_the_step_header():
    error = error_of(
        """\
        [[step]]
        narration = "One"
        [[step]]
        actions = ["read 7"]
        """
    )
    assert str(error) == "talk.toml, line 3: step 2: narration must be non-empty text"


def test_actions_must_be_a_list():
    error = error_of('[[step]]\nnarration = "x"\nactions = "read 7"\n')
    assert error.line == 3 and "actions must be a list of text" in str(error)


def test_too_long_narration():
    error = error_of(f'[[step]]\nnarration = "{"word " * 200}"\n')
    assert error.line == 2 and "one or two sentences" in str(error)


# -- errors: actions, at the line of the action ---------------------------------------------------
@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("updat 7", "unknown action 'updat': use one of policy, read, update"),
        ("policy write-sideways", "unknown write policy 'write-sideways'"),
        ("read", "read needs users, e.g. 7, 1-20 or 1,4,9"),
        ("read 0", "users are numbered from 1"),
        ("read 9-3", "ranges go up"),
        ("read seven", "not a user, range or list of users: 'seven'"),
        ("read 1-5000", "at most 1000 users per action"),
        ("read 7 x0", "repeat count must be 1–1000, got 0"),
        ("read 7 bio=x", "read takes no field=value"),
        ("invalidate 7 x3", "invalidate cannot repeat"),
        ("update 7 colour=red", "unknown field 'colour'"),
        ("update 7 followers=-1", "followers must be an integer"),
        ("update 7 name=", "name must be 1–64 characters, got 0"),
        ("update 7 now", "unexpected 'now'"),
        ("flush now", "flush takes no argument, got 1"),
        ("db-down maybe", "db-down takes on or off, got 'maybe'"),
        ("latency fast", "not a duration (like 20ms or 2s): 'fast'"),
        ("latency 20s", "latency must be at most 10s"),
        ("wait 2m", "not a duration"),
        ("wait 90", "wait must be at most 60s"),
        ("error-rate 150%", "a rate is between 0 and 1"),
        ("max-pending 0", "max-pending needs a whole number >= 1"),
        ("follow 1-3", "follow takes one user"),
        ("faults on", "faults takes only off"),
        ('update 7 bio="unclosed', "cannot split"),
        ("reject-writes", "reject-writes needs users"),
        ("reject-writes 4 x2", "reject-writes cannot repeat"),
        ("accept-writes 4 bio=x", "accept-writes takes no field=value"),
        ("retry 4 5", "retry takes at most one argument (users), got 2"),
        ("retry four", "not a user, range or list of users: 'four'"),
        ("discard", "discard needs users"),
        ("worker", "worker takes NAME [RATE], got 0 arguments"),
        ("worker 7a", "a worker's name is a letter, then letters, digits, - or _"),
        ("worker a 0", "a worker's rate is 1 to 5,000 updates a second, got '0'"),
        ("worker a 300 fast", "worker takes NAME [RATE], got 3 arguments"),
        ("kill-worker", "kill-worker takes NAME, got 0 arguments"),
        ("kill-worker a;b", "a worker's name is a letter"),
        ("await-landed soon", "not a duration"),
        ("await-landed 2m", "not a duration"),
        ("await-landed 90s", "await-landed must be at most 60s"),
    ],
)
def test_bad_action_names_its_line(action, message):
    text = (
        '[[step]]\nnarration = "ok"\nactions = ["read 1"]\n\n'
        "[[step]]\n"
        'narration = "ok"\n'
        "actions = [\n"
        '    "read 7",\n'
        f"    '{action}',\n"
        "]\n"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="talk.toml")
    assert caught.value.line == 9
    assert str(caught.value).startswith("talk.toml, line 9: step 2, action 2: ")
    assert message in str(caught.value)


def test_dead_letter_actions_parse():
    assert parse_action("reject 4,5").verb == "reject-writes"
    assert parse_action("reject-writes 4,5").users == (4, 5)
    assert parse_action("accept 4").verb == "accept-writes"
    assert parse_action("retry").users == ()  # every dead letter
    assert parse_action("retry 1-3").users == (1, 2, 3)
    assert parse_action("discard 7").users == (7,)
    check("{dead_letters:dead letter} ({parked}); {letter_kind} {letter_version} on {letter_base}")
    check("{conflicts:conflict}, {total.rejections:rejection}, {discarded} discarded")


def test_usage_is_quoted_in_action_errors():
    with pytest.raises(ActionError, match=r"\(usage: update USERS \[xN\] \[field=value \.\.\.\]\)"):
        parse_action("update 7 now")


def test_a_repeated_action_text_is_found_at_its_own_line():
    text = '[[step]]\nnarration = "x"\nactions = [\n  "read 9-1",\n  "read 1",\n  "read 9-1",\n]\n'
    # the first copy is the one reported (it fails first)
    assert error_of(text).line == 4


def test_an_action_that_is_not_text():
    error = error_of('[[step]]\nnarration = "x"\nactions = [7]\n')
    assert error.line == 3 and "an action must be text" in str(error)


def test_empty_action():
    error = error_of('[[step]]\nnarration = "x"\nactions = ["read 1", ""]\n')
    assert error.line == 3 and "empty action" in str(error)


# -- errors: narration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("narration", "message"),
    [
        ("{bogus} writes", "unknown placeholder {bogus}; known: reads, hits"),
        ("{total.policy}", "unknown placeholder {total.policy}: total. goes with one of reads"),
        ("{}", "a placeholder needs a name"),
        ("{0}", "a placeholder needs a name"),
        ("an { alone", "write {{ or }} for a literal brace"),
        ("{error:write}", "is not a number: a word spec needs one"),
        ("{db_writes:>>>}", "narration cannot be filled"),
    ],
)
def test_bad_narration_names_its_line(narration, message):
    text = f'title = "x"\n\n[[step]]\nactions = ["read 1"]\nnarration = "{narration}"\n'
    error = error_of(text)
    assert error.line == 5
    assert str(error).startswith("talk.toml, line 5: step 1: narration")
    assert message in str(error)


def test_narration_fill_and_plurals():
    totals = {"db_writes": 1}
    assert fill("{n:write}", {"n": 1}, totals) == "1 write"
    assert fill("{n:database write}", {"n": 3}, totals) == "3 database writes"
    assert fill("{n:miss}, {m:entry}", {"n": 2, "m": 2}, totals) == "2 misses, 2 entries"
    assert fill("{n:write is|writes are}", {"n": 0}, totals) == "0 writes are"
    assert fill("{total.db_writes:write}", {}, totals) == "1 write"
    assert fill("{n:,}", {"n": 12345}, totals) == "12,345"
    assert plural(1, "day") == "day" and plural(2, "day") == "days"
    check("{{literal}} {db_writes:d}")


# -- built-ins and resolution ----------------------------------------------------------------------
def test_the_builtins_load_in_picker_order():
    scenarios = builtin_scenarios()
    assert tuple(s.name for s in scenarios) == BUILTIN_NAMES
    assert len(scenarios) >= 7
    for scenario in scenarios:
        assert scenario.title and scenario.description and scenario.steps


def test_resolve_by_name_path_or_error(tmp_path: Path):
    assert resolve_scenario("crash").name == "crash"
    path = tmp_path / "mine.toml"
    path.write_text('[[step]]\nnarration = "x"\n')
    assert resolve_scenario(str(path)).name == "mine"
    with pytest.raises(ScenarioError, match="unknown scenario 'nope': choose one of no-cache"):
        resolve_scenario("nope")


def test_cli_rejects_a_bad_scenario_name(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--scenario", "nope", "--db", ":memory:"])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        "cachetui: error: argument --scenario: unknown scenario 'nope': choose one of "
        + ", ".join(BUILTIN_NAMES)
        + ", or give the path of a .toml scenario file"
    )


def test_cli_rejects_a_bad_scenario_file_with_its_line(tmp_path: Path, capsys):
    path = tmp_path / "talk.toml"
    path.write_text('[[step]]\nnarration = "x"\nactions = ["crash now"]\n')
    with pytest.raises(SystemExit) as caught:
        main(["--scenario", str(path), "--db", ":memory:"])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"cachetui: error: argument --scenario: {path}, line 3: step 1, ")
    assert "crash takes no argument" in error


def test_scenarios_import_without_textual():
    code = (
        "import sys, cachetui.scenarios\n"
        "cachetui.scenarios.builtin_scenarios()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_docs_example_is_valid():
    docs = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    text = docs.read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(example, source="docs/scenarios.md")
    assert scenario.steps
