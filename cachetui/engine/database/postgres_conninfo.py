"""How cachetui connects to PostgreSQL: the libpq connection string it hands psycopg."""

from __future__ import annotations

import os

from psycopg.conninfo import conninfo_to_dict, make_conninfo


def conninfo(url: str, timeout: float) -> str:
    """``url`` with the statement timeout (``timeout`` seconds, --db-timeout) added to its
    ``options`` (after ``PGOPTIONS``'s, which an ``options`` in the URL would hide), and
    the connect timeout and application name unless the URL or ``PGCONNECT_TIMEOUT`` /
    ``PGAPPNAME`` give them."""
    params = conninfo_to_dict(url)
    options = str(params.get("options") or os.environ.get("PGOPTIONS", ""))
    millis = int(timeout * 1000)
    params["options"] = f"{options} -c statement_timeout={millis}".strip()
    if "PGCONNECT_TIMEOUT" not in os.environ:
        params.setdefault("connect_timeout", max(1, round(timeout)))
    if "PGAPPNAME" not in os.environ:
        params.setdefault("application_name", "cachetui")
    return make_conninfo("", **params)
