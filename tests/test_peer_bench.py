"""benchmarks/peers.py, run tiny: every row produces numbers or says why it cannot.

No timing assertions: the ratios are the benchmark's business, not the suite's.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
ROW_KEYS = {
    "group",
    "path",
    "engine",
    "peer",
    "unit",
    "engine_ops_s",
    "peer_ops_s",
    "ratio",
    "target",
    "target_kind",
    "passed",
    "status",
}
GROUPS = ["read", "behind", "through", "mixed", "redis"]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_peers(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the benchmark; a hang fails here, under the suite's 60 s, with its stderr."""
    try:
        return subprocess.run(
            [sys.executable, str(PEERS), *args], capture_output=True, text=True, timeout=50
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"peers.py {' '.join(args)} still running after 50 s; stderr:\n{err}")


def test_peers_quick_json_gives_numbers_for_every_row():
    result = run_peers("--quick", "--json", "--no-progress", "--reps", "1", "--scale", "0.02")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"cores", "python", "versions"} <= set(out["machine"])
    assert out["machine"]["cores"] >= 1
    rows = out["rows"]
    assert [g for g in GROUPS if any(r["group"] == g for r in rows)] == GROUPS
    for row in rows:
        assert set(row) >= ROW_KEYS, row
        if row["status"] == "ok":
            assert row["engine_ops_s"] > 0 and row["peer_ops_s"] > 0 and row["ratio"] > 0, row
            if row["target"] is not None:
                assert isinstance(row["passed"], bool), row
        else:
            assert row["status"].startswith("not available: "), row
    by_group: dict[str, list[dict]] = {}
    for row in rows:
        by_group.setdefault(row["group"], []).append(row)
    # Rows that need nothing beyond the project's own dependencies always run.
    assert len(by_group["through"]) == 2
    assert all(r["status"] == "ok" for r in by_group["through"])
    mixed = {(r["path"], r["peer"].split()[0]): r for r in by_group["mixed"]}
    assert len(mixed) == 8  # 4 policies × (dict, redis)
    assert all(r["status"] == "ok" for r in by_group["mixed"] if r["peer"].startswith("dict"))
    # Peer libraries, when installed, must produce numbers too.
    if installed("aiocache") and installed("cashews") and installed("cachetools"):
        assert [r["status"] for r in by_group["read"]] == ["ok"] * 3
        assert by_group["behind"][0]["status"] == "ok"
    # The targets are carried on the rows.
    targets = {r["path"]: r["target"] for r in rows if r["target_kind"] == "target"}
    assert targets["update, write-through, 64 callers"] == 0.5
    assert targets["mixed 90/10 Zipf 1.1, write-behind"] == 10.0


def test_peers_help_and_bad_group():
    assert run_peers("--help").returncode == 0
    bad = run_peers("--only", "nope")
    assert bad.returncode == 2 and "unknown group" in bad.stderr
