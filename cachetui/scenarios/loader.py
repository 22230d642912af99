"""Scenario files (TOML, see docs/scenarios.md) and the built-in scenarios.

Every error names the line it is about; loading changes nothing anywhere.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from cachetui.scenarios.actions import ActionError, parse_action
from cachetui.scenarios.model import Scenario, ScenarioError, Step
from cachetui.scenarios.narration import NarrationError, check

#: The built-in scenarios, in the order the picker lists them (files in builtin/).
BUILTIN_NAMES: tuple[str, ...] = (
    "no-cache",
    "write-through",
    "write-behind",
    "crash",
    "durable-queue",
    "write-around",
    "stale",
    "outage",
    "poison-row",
    "another-writer",
    "far-database",
    "fleet",
)
TOP_KEYS = ("name", "title", "description", "step")
STEP_KEYS = ("narration", "actions")
MAX_STEPS = 100
MAX_ACTIONS = 50
MAX_NARRATION = 600
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END = re.compile(r"\s*\(at end of document\)$")
_STEP_HEADER = re.compile(r"^\s*\[\[\s*step\s*\]\]")


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and check a scenario file; raise :class:`ScenarioError` naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", source=str(path)) from None
    except IsADirectoryError:
        raise ScenarioError("is a folder, not a scenario file", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text: {exc.reason}", source=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read it: {exc.strerror or exc}", source=str(path)) from None
    return parse_scenario(text, source=str(path), default_name=path.stem)


def parse_scenario(
    text: str, *, source: str = "<text>", default_name: str = "scenario"
) -> Scenario:
    """A scenario from TOML text (see docs/scenarios.md)."""
    lines = text.splitlines()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found:
            line = int(found.group(1))
            message = f"column {found.group(2)}: " + message[: found.start()]
        else:
            line = max(1, len(lines))
            message = _TOML_END.sub("", message) + " (at the end of the file)"
        raise ScenarioError(f"not valid TOML: {message}", source=source, line=line) from None
    return _Reader(data, lines, source, default_name).scenario()


def builtin_scenarios() -> list[Scenario]:
    """The shipped scenarios, in picker order."""
    return [builtin_scenario(name) for name in BUILTIN_NAMES]


def builtin_scenario(name: str) -> Scenario:
    if name not in BUILTIN_NAMES:
        raise ScenarioError(unknown_scenario_message(name))
    resource = resources.files("cachetui.scenarios") / "builtin" / f"{name}.toml"
    return parse_scenario(
        resource.read_text(encoding="utf-8"), source=f"built-in {name}", default_name=name
    )


def resolve_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, else a scenario file by path."""
    if name_or_path in BUILTIN_NAMES:
        return builtin_scenario(name_or_path)
    path = Path(name_or_path)
    if path.suffix.lower() == ".toml" or path.exists():
        return load_scenario_file(path)
    raise ScenarioError(unknown_scenario_message(name_or_path))


def unknown_scenario_message(name: str) -> str:
    return (
        f"unknown scenario {name!r}: choose one of {', '.join(BUILTIN_NAMES)}, "
        "or give the path of a .toml scenario file"
    )


class _Reader:
    """Checks the decoded TOML, finding source lines for its messages."""

    def __init__(self, data: dict[str, Any], lines: list[str], source: str, default: str):
        self.data = data
        self.lines = lines
        self.source = source
        self.default = default
        headers = [i + 1 for i, line in enumerate(lines) if _STEP_HEADER.match(line)]
        self.step_starts = headers

    def fail(self, message: str, line: int) -> ScenarioError:
        return ScenarioError(message, source=self.source, line=max(1, line))

    # -- where things are -------------------------------------------------------------
    def key_line(self, key: str, start: int = 1, end: int | None = None) -> int:
        """The line of ``key = ...`` between lines start and end (1-based, end excluded)."""
        pattern = re.compile(rf"^\s*(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
        stop = len(self.lines) + 1 if end is None else end
        for number in range(start, stop):
            if pattern.match(self.lines[number - 1]):
                return number
        return 0

    def step_span(self, index: int) -> tuple[int, int]:
        """Lines [start, end) of the index-th [[step]] (the whole file if not found)."""
        if index < len(self.step_starts):
            start = self.step_starts[index]
            following = self.step_starts[index + 1 : index + 2]
            return start, following[0] if following else len(self.lines) + 1
        return 1, len(self.lines) + 1

    def top_line(self, key: str) -> int:
        end = self.step_starts[0] if self.step_starts else None
        return self.key_line(key, 1, end) or self.key_line(key) or 1

    def step_key_line(self, index: int, key: str) -> int:
        start, end = self.step_span(index)
        return self.key_line(key, start, end) or start

    def action_line(self, index: int, occurrence: int, text: str) -> int:
        """The line holding the ``occurrence``-th copy of action ``text`` in a step: as a
        quoted string first, else anywhere (escapes), else the ``actions`` line."""
        start, end = self.step_span(index)
        first = self.key_line("actions", start, end) or start
        if not text:
            return first
        quoted = re.compile(rf"(\"|'){re.escape(text)}\1")
        for count in (lambda line: len(quoted.findall(line)), lambda line: line.count(text)):
            seen = 0
            for number in range(first, end):
                seen += count(self.lines[number - 1])
                if seen > occurrence:
                    return number
        return first

    # -- checking ----------------------------------------------------------------------
    def scenario(self) -> Scenario:
        data = self.data
        for key in data:
            if key not in TOP_KEYS:
                raise self.fail(
                    f"unknown key {key!r}: a scenario has {', '.join(TOP_KEYS[:3])} "
                    "and [[step]] tables",
                    self.top_line(key),
                )
        name = self.text_value("name", self.default, required=False)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", name):
            raise self.fail(
                f"name {name!r}: use letters, digits, '-', '_' or '.' (at most 40)",
                self.top_line("name"),
            )
        title = self.text_value("title", name, required=False)
        description = self.text_value("description", "", required=False)
        steps = data.get("step")
        if steps is None:
            raise self.fail("no steps: add at least one [[step]] table", len(self.lines))
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise self.fail(
                "step must be tables written as [[step]], each with narration and actions",
                self.top_line("step"),
            )
        if not steps:
            raise self.fail("no steps: add at least one [[step]] table", self.top_line("step"))
        if len(steps) > MAX_STEPS:
            raise self.fail(
                f"{len(steps)} steps: at most {MAX_STEPS}", self.step_span(MAX_STEPS)[0]
            )
        return Scenario(
            name=name,
            title=title,
            description=description,
            steps=tuple(self.step(i, s) for i, s in enumerate(steps)),
            source=self.source,
        )

    def text_value(self, key: str, default: str, *, required: bool) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(f"{key} must be text", self.top_line(key))
        return value.strip()

    def step(self, index: int, table: dict[str, Any]) -> Step:
        number = index + 1
        start = self.step_span(index)[0]
        for key in table:
            if key not in STEP_KEYS:
                raise self.fail(
                    f"step {number}: unknown key {key!r}: a step has narration and actions",
                    self.step_key_line(index, key),
                )
        narration = table.get("narration")
        if not isinstance(narration, str) or not narration.strip():
            raise self.fail(
                f"step {number}: narration must be non-empty text",
                self.step_key_line(index, "narration"),
            )
        narration = " ".join(narration.split())
        if len(narration) > MAX_NARRATION:
            raise self.fail(
                f"step {number}: narration is {len(narration)} characters; keep it to one or "
                f"two sentences (at most {MAX_NARRATION})",
                self.step_key_line(index, "narration"),
            )
        try:
            check(narration)
        except NarrationError as exc:
            raise self.fail(
                f"step {number}: {exc}", self.step_key_line(index, "narration")
            ) from None
        texts = table.get("actions", [])
        if not isinstance(texts, list):
            raise self.fail(
                f'step {number}: actions must be a list of text, like ["policy write-behind"]',
                self.step_key_line(index, "actions"),
            )
        if len(texts) > MAX_ACTIONS:
            raise self.fail(
                f"step {number}: {len(texts)} actions: at most {MAX_ACTIONS}",
                self.step_key_line(index, "actions"),
            )
        actions = []
        seen: dict[str, int] = {}
        for position, text in enumerate(texts, 1):
            key = text if isinstance(text, str) else ""
            occurrence = seen.get(key, 0)
            seen[key] = occurrence + 1
            try:
                actions.append(parse_action(text))
            except ActionError as exc:
                raise self.fail(
                    f"step {number}, action {position}: {exc}",
                    self.action_line(index, occurrence, key),
                ) from None
        return Step(narration=narration, actions=tuple(actions), line=start)


def scenario_argument(text: str) -> Scenario:
    """``type=`` of the ``--scenario`` command-line option: a one-line error if bad."""
    import argparse

    try:
        return resolve_scenario(text)
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
