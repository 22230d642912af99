"""Options handed to an app process in its environment, never on its command line.

``cachetui serve`` starts an app (``python -m cachetui`` or ``python -m cachetui compare``)
for every browser tab, with the options it was given. Those can carry secrets: a
password in a ``--cache``, ``--queue`` or database URL. A command line is readable by
every user of the machine (``ps``, ``/proc/PID/cmdline``), an environment only by the
process's own user; so the options travel as a JSON list of strings in
:data:`VARIABLE`, and the app takes them from there, after those of its command line,
removing the variable so that nothing it starts inherits it.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping, Sequence

from cachetui.engine.errors import ValidationError

VARIABLE = "CACHETUI_APP_OPTIONS"


def environment_with(options: Sequence[str]) -> dict[str, str]:
    """The variable that hands ``options`` to an app process."""
    return {VARIABLE: json.dumps(list(options))}


def take_options(environment: MutableMapping[str, str] | None = None) -> list[str]:
    """The options handed over in ``environment`` (default ``os.environ``), which no
    longer holds them; [] when there are none. ValidationError when the variable is not
    a JSON list of strings."""
    environment = os.environ if environment is None else environment
    text = environment.pop(VARIABLE, None)
    if text is None:
        return []
    try:
        options = json.loads(text)
    except ValueError:
        options = None
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ValidationError(f"{VARIABLE}: expected a JSON list of strings (the options)")
    return options
