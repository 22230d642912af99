"""What every dialog's text field refuses, checked as it is typed (or pasted): a control
character (BEL, ESC, a tab, a newline: category Cc), which would be stored as typed and
then shown as a blank or sent to a terminal. Numbers follow
:func:`~cachetui.engine.digits.digit_problem` (digits 0–9 only)."""

from __future__ import annotations

import unicodedata

#: Short names of the control characters a paste brings most often.
_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "BS",
    "\t": "TAB",
    "\n": "LF",
    "\r": "CR",
    "\x1b": "ESC",
    "\x7f": "DEL",
}


def control_problem(label: str, text: str) -> str:
    """Why ``text`` cannot go into the field ``label`` ('' when it can): its first
    control character, named, and where it is."""
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            name = _NAMES.get(char)
            shown = f"U+{ord(char):04X}" + (f" {name}" if name else "")
            return (
                f"{label} holds a control character ({shown}) at character {index + 1}: "
                "printable text only (delete it)"
            )
    return ""
