"""``--invalidate redis://…``: per-instance caches become a near cache (docs/fleet.md,
"Near caches"). An option of every command that takes the engine's options."""

from __future__ import annotations

import argparse

from cachetui.engine.stores.redis_url import parse_redis_url


def _redis_url(text: str) -> str:
    from cachetui.engine.errors import ValidationError

    try:
        parse_redis_url(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_invalidate_option(target: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    target.add_argument(
        "--invalidate",
        type=_redis_url,
        metavar="URL",
        help="with --cache memory:// (the default): announce the users this instance "
        "changes on a Redis pub/sub channel of the database (redis://HOST:PORT/DB), and "
        "drop the entries the other instances announce: a near cache (docs/fleet.md)",
    )
