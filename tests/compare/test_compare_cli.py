"""`cachetui compare` refuses bad input with one error line and exit status 2, before
anything starts (no temporary copy is made)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from cachetui.compare.cli import main


def _copies() -> set[str]:
    """The compare copies in the temporary folder (the test's own: ``private_tmp``)."""
    return {p.name for p in Path(tempfile.gettempdir()).glob("cachetui-compare-*")}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["write-behind", "write-behind"],
            "both sides are write-behind with queue memory://: compare the same policy only "
            "with different queues (--queue-a URL / --queue-b URL)",
        ),
        (
            ["write-thru", "write-behind"],
            "unknown write policy 'write-thru': choose one of write-through, write-behind, "
            "write-around, no-cache",
        ),
        (["write-behind"], "expected two policies (POLICY_A POLICY_B), got 1"),
        (
            ["--policy", "write-behind"],
            "--policy: compare takes its two policies as POLICY_A POLICY_B",
        ),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(argv, message, tmp_path, capsys, private_tmp):
    before = _copies()
    assert main([*argv, "--db", str(tmp_path / "p.db")]) == 2
    err = capsys.readouterr().err
    assert err == f"cachetui compare: error: {message}\n"
    assert _copies() == before
    assert not (tmp_path / "p.db").exists()


def test_a_sides_queue_in_a_missing_folder_is_named_as_given(tmp_path, capsys):
    missing = tmp_path / "gone" / "x.outbox"
    assert main(["--queue-b", f"sqlite:///{missing}", "--db", str(tmp_path / "p.db")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"cachetui compare: error: --queue-b sqlite:///{missing}: folder {missing.parent} "
        "does not exist\n"
    )


def test_the_same_policy_with_different_queues_is_accepted(tmp_path):
    from cachetui.compare.cli import build_parser, sides_from_args

    args = build_parser().parse_args(
        ["write-behind", "write-behind", "--queue-b", "sqlite://", "--db", str(tmp_path / "p.db")]
    )
    sides = sides_from_args(args)
    assert (sides.a.queue_url, sides.b.queue_url) == ("memory://", "sqlite://")
    assert sides.a.policy == sides.b.policy == "write-behind"


def test_serve_compare_checks_its_compare_options_before_listening(capsys):
    from cachetui.serve.command import main as serve_main

    assert serve_main(["--port", "0", "compare", "no-cache", "no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cachetui serve: error: compare: both sides are no-cache")
    assert err.count("\n") == 1
