"""cachetui: a keyboard-driven terminal lab for cache write policies."""

__version__ = "0.1.0"
