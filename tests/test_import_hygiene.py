"""The engine is a library: importing it must not pull in Textual (or Rich)."""

from __future__ import annotations

import subprocess
import sys


def test_engine_imports_without_textual():
    code = (
        "import sys, cachetui.engine\n"
        "from cachetui.engine import Engine, EngineConfig, WritePolicy\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_worker_runs_without_textual():
    """``cachetui worker`` is an instance without a screen: Textual never loads."""
    code = (
        "import sys\n"
        "from cachetui.cli.command import main\n"
        "main(['worker', '--db', ':memory:', '--profiles', '5', '--seconds', '0.2'])\n"
        "print('loaded:', *sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "loaded:"  # after a status line: it ran
