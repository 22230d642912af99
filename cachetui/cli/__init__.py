"""The ``cachetui`` command line: :mod:`~cachetui.cli.command` (the entry point, which
hands ``bench``, ``compare`` and ``serve`` to their own commands) and
:mod:`~cachetui.cli.options` (the app's options, shared with ``serve`` and ``compare``;
their types in :mod:`~cachetui.cli.option_types`, their checks in
:mod:`~cachetui.cli.option_checks`);
:mod:`~cachetui.cli.handoff` carries ``serve``'s options to its apps in the environment."""

from cachetui.cli.command import main

__all__ = ["main"]
