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
