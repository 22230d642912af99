"""The link: a TCP relay of our own, in a child process, between the engine and a server
(PostgreSQL, Redis), that delays what it carries as a network would and can partition it.

:class:`Link` is what its owner holds; :func:`relay_url` and :func:`link_target` map a
server's URL to the relay's; :func:`parse_duration` reads ``300us``, ``2ms``, ``0.5s``.
The relay itself (:mod:`.relay`, :mod:`.delay_line`, :mod:`.shaping`) also runs in the
foreground as ``cachetui link``."""

from cachetui.engine.lab.link.durations import format_duration, parse_duration
from cachetui.engine.lab.link.link import Link, LinkError
from cachetui.engine.lab.link.shaping import PARTITIONS, Partition
from cachetui.engine.lab.link.urls import link_target, relay_url

__all__ = [
    "PARTITIONS",
    "Link",
    "LinkError",
    "Partition",
    "format_duration",
    "link_target",
    "parse_duration",
    "relay_url",
]
