"""The engine's links: a :class:`~cachetui.engine.lab.link.link.Link` in front of the
database server (``db_rtt``) and one in front of the Redis cache (``cache_rtt``), each
given a port at construction (so the database and the store are made with the relay's
URL), started with the engine and stopped at its close."""

from __future__ import annotations

import socket

from cachetui.engine.config import EngineConfig
from cachetui.engine.lab.link.link import Link
from cachetui.engine.lab.link.urls import link_target, relay_url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EngineLinks:
    """The links ``config`` asks for (none: nothing is in the path)."""

    def __init__(self, config: EngineConfig) -> None:
        self.db: Link | None = None
        self.cache: Link | None = None
        if config.db_rtt is not None and config.db_url is not None:
            self.db = Link(
                link_target(config.db_url),
                rtt=config.db_rtt,
                jitter=config.jitter,
                listen=("127.0.0.1", _free_port()),
            )
        if config.cache_rtt is not None:
            self.cache = Link(
                link_target(config.cache_url),
                rtt=config.cache_rtt,
                jitter=config.jitter,
                listen=("127.0.0.1", _free_port()),
            )

    @property
    def all(self) -> list[Link]:
        return [link for link in (self.db, self.cache) if link is not None]

    def db_url(self, url: str | None) -> str | None:
        """The URL the database connects to: the relay's when a link is in front."""
        return url if url is None or self.db is None else relay_url(url, self.db.listen)

    def cache_url(self, url: str) -> str:
        return url if self.cache is None else relay_url(url, self.cache.listen)

    def start(self) -> None:
        """Start every link (LinkError, and none left running, if one cannot)."""
        started: list[Link] = []
        try:
            for link in self.all:
                link.start()
                started.append(link)
        except BaseException:
            for link in started:
                link.stop()
            raise

    def stop(self) -> None:
        for link in self.all:
            link.stop()
