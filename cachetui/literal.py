"""Text the program did not write (profile fields, typed input, database and Redis
errors, scenario files, paths, URLs) is shown literally: never parsed as Rich or Textual
markup, and with no control character or escape sequence reaching the terminal."""

from __future__ import annotations

from rich.text import Text


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with each character that is not printable (ESC, BEL, a carriage return,
    a tab…) as a space; a newline stays when ``newlines``."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or (newlines and char == "\n") else " " for char in text
    )


def literal(text: str, style: str = "", *, newlines: bool = True) -> Text:
    """``text`` as a Rich Text shown as it is (no markup), in ``style``."""
    return Text(printable(text, newlines=newlines), style=style)


def printable_text(text: Text, *, newlines: bool = True) -> Text:
    """``text`` with its characters printable (each other one a space), spans kept."""
    plain = text.plain
    shown = printable(plain, newlines=newlines)
    if shown == plain:
        return text
    copy = text.copy()
    copy.plain = shown
    return copy
