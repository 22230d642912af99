"""The key table is the one place keys are defined: the README's key table says what it
says, and it needs no Textual."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cachetui.app.keys.records import markdown_rows
from cachetui.app.keys.table import KEYS

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_key_rows() -> list[str]:
    """The rows of the README's table under "## Keys" (its header and rule excluded)."""
    section = README.read_text().split("\n## Keys\n", 1)[1]
    table = re.search(r"^\| key \| what it does \|\n\|---\|---\|\n((?:\|.*\n)*)", section, re.M)
    assert table is not None, "README: no key table under ## Keys"
    return table.group(1).splitlines()


def test_the_readme_key_table_is_the_registry():
    readme, registry = readme_key_rows(), markdown_rows(KEYS)
    for number, (said, meant) in enumerate(zip(readme, registry, strict=False), start=1):
        assert said == meant, f"README key table, row {number}: the registry has\n{meant}"
    assert len(readme) == len(registry), f"README: {len(readme)} key rows, registry {len(registry)}"


def test_the_key_table_needs_no_textual():
    code = (
        "import sys, cachetui.app.keys.table, cachetui.app.keys.records\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_each_help_row_names_the_keys_it_binds():
    """The help screen and the README name the keys the dashboard binds for each row."""
    shown = {"question_mark": "?", "plus": "+", "minus": "-"}
    for key in KEYS:
        if not key.listed:
            continue
        named = set(key.keys.replace(",", " ").split()) | set(re.findall(r"`([^`]+)`", key.help))
        for binding in key.bindings:
            if "dashboard" in binding.modes:
                first = binding.keys.split(",")[0]
                assert shown.get(first, first) in named, (key.keys, binding.keys)
