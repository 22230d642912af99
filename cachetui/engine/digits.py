"""The one rule for a number a user types, wherever it is typed (a dialog's field, a
command-line option, a scenario file): its digits are 0–9. Python reads other scripts'
digits (``int("٣")`` is 3, ``\\d`` matches ``٣``) but not others (``int("²")`` fails):
left alone, one field takes ``٣`` as 3 while another drops ``²`` without a word. Every
number parser asks :func:`digit_problem` first and shows its error as it is."""

from __future__ import annotations

import unicodedata


def foreign_digit(text: str) -> str | None:
    """The first character of ``text`` that is a digit or number other than 0–9 (``٣``,
    ``²``, ``３``, ``½``), or None."""
    for char in text:
        if not char.isascii() and char.isnumeric():
            return char
    return None


def digit_problem(text: str) -> str:
    """Why ``text`` is no number one may type ('' when it holds no digit but 0–9):
    ``'٣' (U+0663 ARABIC-INDIC DIGIT THREE) is not a digit 0–9: numbers take 0–9 only``."""
    char = foreign_digit(text)
    if char is None:
        return ""
    name = unicodedata.name(char, "")
    return (
        f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''}) is not a digit 0–9: "
        "numbers take 0–9 only"
    )


def check_digits(text: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` with :func:`digit_problem`'s words if ``text`` breaks the rule."""
    if problem := digit_problem(text):
        raise error(problem)
