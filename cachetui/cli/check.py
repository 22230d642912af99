"""``cachetui check FILE... [--fail-on KINDS|promised|none] [--json] [--edn OUT]``:
judge history files (docs/verdicts.md). Exit 2 for a file that cannot be judged (one
line naming it), else 1 when a kind fails, else 0."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from cachetui.engine.errors import ValidationError
from cachetui.engine.history.edn import write_edn
from cachetui.engine.history.reader import HistoryFileError, load
from cachetui.engine.history.verdicts import KINDS, parse_fail_on
from cachetui.literal import printable


def fail_on_argument(text: str) -> str:
    try:
        parse_fail_on(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--fail-on: ")) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachetui check",
        description=(
            "Judge history files (--history) for lost writes, stale reads, read-your-writes "
            "and monotonic reads, versions going down, writes applied twice and a cache that "
            "disagrees with the database at close. Several files (one per instance, or a "
            "rotated FILE.1 and FILE) are judged together."
        ),
        epilog="Exit status: 2 a file cannot be judged, 1 a kind fails, 0 otherwise. "
        "Kinds: " + ", ".join(KINDS) + ". See docs/verdicts.md.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="history files (JSON lines)")
    parser.add_argument(
        "--fail-on",
        default="promised",
        type=fail_on_argument,
        metavar="KINDS|promised|none",
        help="fail on these kinds (comma-separated), on broken promises (default), or never",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--edn", metavar="OUT", help="also write Jepsen's history.edn shape")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        checker, warnings = load(args.files)
    except HistoryFileError as exc:
        print(f"cachetui check: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"cachetui check: warning: {printable(warning)}", file=sys.stderr)
    report = checker.verdicts()
    report.warnings = warnings
    if args.edn:
        try:
            write_edn(args.edn, checker.operations_fed())
        except OSError as exc:
            print(
                f"cachetui check: error: cannot write {args.edn}: {exc.strerror}", file=sys.stderr
            )
            return 2
    failing = report.failing(args.fail_on)
    if args.json:
        sys.stdout.write(orjson.dumps(report.as_dict(args.fail_on)).decode() + "\n")
    else:
        files = len(args.files)
        print(f"{report.operations:,} operations in {files} file{'s' if files != 1 else ''}")
        for line in report.lines():
            print(line)
        if failing:
            print(f"failing ({args.fail_on}): {', '.join(failing)}")
    return 1 if failing else 0
