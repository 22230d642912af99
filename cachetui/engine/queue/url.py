"""Where the write-behind queue lives, from ``EngineConfig.queue_url``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cachetui.engine.errors import ValidationError
from cachetui.engine.stores.redis_url import REDIS_SCHEMES


@dataclass(frozen=True, slots=True)
class QueueLocation:
    """Where the write-behind queue lives: ``kind`` is "memory", "sqlite" or "redis";
    ``path`` the outbox file (sqlite), ``url`` the server (redis)."""

    kind: str
    path: str = ""
    url: str = ""

    @property
    def durable(self) -> bool:
        return self.kind != "memory"


def default_outbox_path(db_path: str) -> str:
    """``<db file>.outbox``; for a database server (``db_path`` a URL), "": the outbox is
    then ``<user data dir>/outbox-<database id>.db``, named once the database is open
    (:func:`server_outbox_path`)."""
    return "" if "://" in db_path else f"{db_path}.outbox"


def server_outbox_path(database_id: str) -> str:
    """The default outbox file of a database server's database."""
    from platformdirs import user_data_dir

    folder = user_data_dir("cachetui", appauthor=False)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"outbox-{database_id}.db")


def parse_queue_url(url: str, db_path: str) -> QueueLocation:
    """``memory://`` (in the process, lost on a crash), ``sqlite://`` (the outbox
    ``<db file>.outbox``), ``sqlite:///rel/path.db`` or ``sqlite:////abs/path.db``.
    Raises ValidationError for anything else, and for a durable queue over ``:memory:``."""
    text = url.strip() if isinstance(url, str) else ""
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "memory" and sep and rest in ("", "/"):
        return QueueLocation("memory")
    if scheme == "sqlite" and sep:
        if db_path == ":memory:":
            raise ValidationError(
                "a durable queue needs a database file: --db :memory: vanishes with the "
                "process, so an outbox beside it would replay into nothing",
                field="queue_url",
            )
        if rest == "":
            return QueueLocation("sqlite", path=default_outbox_path(db_path))
        if not rest.startswith("/") or rest == "/":
            raise ValidationError(
                f"queue URL {url!r}: write sqlite:// (beside the database), "
                "sqlite:///relative/path or sqlite:////absolute/path",
                field="queue_url",
            )
        return QueueLocation("sqlite", path=rest[1:])
    if scheme in REDIS_SCHEMES and sep:
        if db_path == ":memory:":
            raise ValidationError(
                "a durable queue needs a database file: --db :memory: vanishes with the "
                "process, so a stream for it would replay into nothing",
                field="queue_url",
            )
        return QueueLocation("redis", url=text)
    raise ValidationError(
        f"unknown queue URL {url!r}: use memory:// (in the process), sqlite:// "
        "(an outbox file beside the database; sqlite:///path chooses it) or "
        "redis://HOST:PORT/DB (a Redis Stream)",
        field="queue_url",
    )
