"""The command line: help, version, and one clear line (no traceback) for bad input."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from cachetui import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachetui", *args], capture_output=True, text=True, timeout=30
    )


def test_help_lists_every_option():
    result = run("--help")
    assert result.returncode == 0
    for option in (
        "--db",
        "--cache",
        "--policy",
        "--profiles",
        "--capacity",
        "--eviction",
        "--ttl",
        "--flush-interval",
        "--batch-size",
        "--max-pending",
        "--theme",
        "--talk",
    ):
        assert option in result.stdout
    help_text = " ".join(result.stdout.split())
    assert "`cachetui bench`" in help_text and "`cachetui serve`" in help_text


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"cachetui {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "write-sideways"], "unknown write policy 'write-sideways'"),
        (["--capacity", "0"], "--capacity: expected a number >= 1, got 0"),
        (["--capacity", "lots"], "--capacity: expected a whole number, got 'lots'"),
        (["--ttl", "-1"], "--ttl: expected seconds > 0, got -1"),
        (["--eviction", "random"], "invalid choice: 'random'"),
        (["--cache", "memcached://x"], "unsupported cache URL 'memcached://x'"),
        (["--profiles", "-5"], "--profiles: expected a number >= 0, got -5"),
        (
            ["--profiles", "9" * 23],  # seeding it filled the disk, deaf to signals
            "--profiles: expected a number from 0 to 10,000,000, got 99,999,999,999,999",
        ),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--theme", "neon"], "--theme: unknown theme 'neon'; choose one of: ansi-dark,"),
        (["--queue", "kafka://x"], "unknown queue URL 'kafka://x'"),
        (["--db", ":memory:", "--queue", "sqlite://"], "a durable queue needs a database file"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.splitlines()[-1]


def test_a_db_in_a_missing_folder_is_refused_before_the_ui_starts(tmp_path):
    result = run("--db", str(tmp_path / "nowhere" / "p.db"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr.splitlines()[-1]


def test_an_outbox_in_a_missing_folder_is_refused_before_the_ui_starts(tmp_path):
    outbox = tmp_path / "nowhere" / "q.outbox"
    result = run("--db", str(tmp_path / "p.db"), "--queue", f"sqlite:///{outbox}")
    assert result.returncode == 2
    assert "does not exist" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "p.db").exists()  # nothing written


def test_theme_is_validated_and_passed_to_the_app_and_to_serve(monkeypatch):
    from cachetui.app import app as app_module
    from cachetui.cli import command as cli
    from cachetui.cli import option_types
    from cachetui.serve import command as serve

    assert cli.build_parser().parse_args(["--theme", "textual-light"]).theme == "textual-light"
    names = option_types.theme_names()
    assert "textual-light" in names and "textual-dark" in names
    assert serve.app_arguments(["--port", "0", "--theme", "textual-light"]) == [
        "--theme",
        "textual-light",
    ]
    seen: dict[str, object] = {}

    def run(self) -> None:
        seen["theme"] = self.current_theme.name

    monkeypatch.setattr(app_module.CacheTuiApp, "run", run)
    assert cli.main(["--db", ":memory:", "--theme", "textual-light"]) == 0
    assert seen == {"theme": "textual-light"}


def test_the_command_line_tunes_the_collector_before_the_app_runs(monkeypatch):
    import cachetui.app.collector as collector
    from cachetui.app import app as app_module
    from cachetui.cli import command as cli

    order: list[str] = []
    monkeypatch.setattr(collector, "tune_collector", lambda: order.append("tune"))
    monkeypatch.setattr(app_module.CacheTuiApp, "run", lambda self: order.append("run"))
    assert cli.main(["--db", ":memory:"]) == 0
    assert order == ["tune", "run"]


def test_help_states_the_bound_of_profiles(capsys):
    from cachetui.cli.command import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "seed into an empty database (default 1,000; at most 10,000,000)" in text


SERVER = "postgresql://someone@127.0.0.1:1/lab"  # never reached: refused before


@pytest.mark.parametrize("command", ["app", "bench"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", SERVER, "--db-timeout", "1e308"], "--db-timeout: expected 0.01 to 3600"),
        (["--db", SERVER, "--db-timeout", "0.001"], "--db-timeout: expected 0.01 to 3600"),
        (["--db", SERVER, "--jitter", "1ms"], "--jitter shakes a link: give --db-rtt or"),
        (["--db", "lab.db", "--db-rtt", "2ms"], "--db-rtt needs a PostgreSQL server (--db"),
        (["--db", SERVER, "--cache-rtt", "2ms"], "--cache-rtt needs a Redis cache (--cache"),
    ],
)
def test_server_options_that_cannot_apply_are_named_as_flags(
    command, args, message, capsys, tmp_path, monkeypatch
):
    # The engine's own message names its configuration (db_timeout, cache_url='…'): a
    # user typed flags, and a --jitter without a link was silently ignored.
    from cachetui.bench.command import main as bench_main
    from cachetui.cli.command import main as app_main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        (app_main if command == "app" else bench_main)(args)
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in last
    assert not any(name in last for name in ("db_timeout", "db_rtt", "cache_rtt", "_url"))


@pytest.mark.parametrize("command", ["app", "bench", "reset"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://me:my secret@127.0.0.1:1/lab", "unexpected spaces"),
        ("postgresql://me:s%zzecret@127.0.0.1:1/lab", "invalid percent-encoded token"),
        ("postgresql://me@127.0.0.1:99999/lab", "expected a port from 1 to 65535"),
        ("postgresql://me@127.0.0.1:1/lab?frob=1", 'invalid URI query parameter: "frob"'),
    ],
)
def test_a_malformed_postgresql_url_is_one_line_before_anything_starts_password_masked(
    command, url, message, capsys
):
    # libpq's parse errors quote the offending token: here the password itself.
    from cachetui.bench.command import main as bench_main
    from cachetui.cli.command import main as app_main
    from cachetui.reset.command import main as reset_main

    mains = {"app": app_main, "bench": bench_main, "reset": reset_main}
    try:
        code = mains[command](["--db", url])
    except SystemExit as exited:
        code = exited.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1]
    assert "secret" not in err and "\x1b[" not in err  # masked; the screen never started


@pytest.mark.parametrize("command", ["app", "worker"])
def test_flush_timeout_reaches_the_engine_config(command, tmp_path):
    from cachetui.cli.options import config_from_args

    parser = parser_of(command)
    db = str(tmp_path / "p.db")
    assert config_from_args(parser.parse_args(["--db", db])).flush_timeout == 5.0
    given = parser.parse_args(["--db", db, "--flush-timeout", "0.3"])
    assert config_from_args(given).flush_timeout == 0.3


@pytest.mark.parametrize("command", ["app", "worker"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "expected seconds > 0, got 0"),
        ("-1", "expected seconds > 0, got -1"),
        ("soon", "expected seconds, got 'soon'"),
        ("1e308", "expected 0.01 to 3600 seconds, got 1e308"),
        ("inf", "expected 0.01 to 3600 seconds, got inf"),
        ("٣", "'٣' (U+0663 ARABIC-INDIC DIGIT THREE) is not a digit 0–9"),
    ],
)
def test_a_bad_flush_timeout_exits_2_with_one_line(command, value, message, tmp_path, capsys):
    parser = parser_of(command)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--db", str(tmp_path / "p.db"), "--flush-timeout", value])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert f"error: argument --flush-timeout: {message}" in last
    assert list(tmp_path.iterdir()) == []  # nothing written


def parser_of(command: str) -> argparse.ArgumentParser:
    if command == "worker":
        from cachetui.worker.command import build_parser
    else:
        from cachetui.cli.command import build_parser
    return build_parser()
