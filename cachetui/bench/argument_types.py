"""The argparse pieces of ``cachetui bench``'s options: a bounded number type (also what
a sweep checks its values with) and an action that notes which options were given."""

from __future__ import annotations

import argparse
from typing import Any

from cachetui.engine.digits import digit_problem


def number_type(kind: type, low: float, high: float | None = None, *, above: bool = False) -> Any:
    """An argparse type: a ``kind`` number >= ``low`` (> ``low`` with ``above``), <= ``high``."""

    def parse(text: str) -> Any:
        if problem := digit_problem(text):
            raise argparse.ArgumentTypeError(problem)
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):  # nan, inf
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = value <= low if above else value < low
        if too_low or (high is not None and value > high):

            def show(number: float) -> str:
                return f"{number:,}" if kind is int else f"{number:g}"

            if high is not None:
                bounds = f"between {show(low)} and {show(high)}"
            else:
                bounds = f"{'>' if above else '>='} {show(low)}"
            got = text if len(text) <= 40 else f"{text[:40]}… ({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {got}")
        return value

    return parse


class Given(argparse.Action):
    """Stores the value like ``store`` and notes that the option was given (``args.given``):
    a sweep refuses options it would override or ignore."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {*namespace.given, self.dest}
