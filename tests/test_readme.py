"""The README's engine example runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_engine_example_runs(tmp_path: Path):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "9 updates absorbed by coalescing",
        "lost: [(42, 3)]",
        "write-through fails the caller: database is down (injected outage)",
    ]


def test_readme_quickstart_is_what_ci_runs():
    readme = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_line = next(line for line in readme.splitlines() if line.endswith("&& pytest"))
    assert test_line in ci
    launch = [line for line in readme.splitlines() if line.endswith("&& cachetui")]
    assert len(launch) == 1
