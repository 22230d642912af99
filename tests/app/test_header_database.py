"""The header names the PostgreSQL database the app is on (issue 27's review): host, port
and database where they fit, shortening step by step on narrower screens (the version,
then the address, then all but the kind). A URL naming no database follows libpq
(PGDATABASE, else the user name), and the header says which one it is."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from cachetui.app.status_header import db_forms
from cachetui.engine import EngineConfig
from tests.app.test_link_keys import linked_app, text_of
from tests.conftest import postgres_or_skip, private_schema


def first_line(app) -> str:
    return " ".join(text_of(app, "#status").splitlines()[0].split())


def test_the_forms_shorten_step_by_step():
    config = EngineConfig(db_url="postgresql://u@h/lab")
    assert db_forms("PostgreSQL 15.10 at db.example:5433/lab", config) == [
        "PostgreSQL 15.10 at db.example:5433/lab",
        "PostgreSQL at db.example:5433/lab",
        "PostgreSQL lab",
        "PostgreSQL",
    ]
    assert db_forms("PostgreSQL at postgresql://u@h/lab", config)[-1] == "PostgreSQL"
    sqlite = EngineConfig(db_path="/some/where/profiles.db")
    assert db_forms("", sqlite) == ["/some/where/profiles.db", "profiles.db"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("width", "shown"),
    [(200, "PostgreSQL 1"), (160, "PostgreSQL at 127.0.0.1:"), (80, "PostgreSQL ")],
)
async def test_the_header_names_the_database_as_far_as_it_fits(postgres_url, width, shown):
    dbname = urlsplit(postgres_url).path.lstrip("/")
    app = linked_app(postgres_url, db_rtt=0.002)  # a link: the widest header line
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        line = first_line(app)
        assert f"db {shown}" in line and len(line) <= width, line
        assert f"/{dbname} " in line or f"PostgreSQL {dbname} " in line, line


@pytest.mark.postgres
async def test_a_url_naming_no_database_is_on_libpqs_default_and_says_which(monkeypatch):
    base = postgres_or_skip()  # its database exists
    parts = urlsplit(base)
    monkeypatch.setenv("PGDATABASE", parts.path.lstrip("/"))
    with private_schema(urlunsplit(parts._replace(path=""))) as url:
        assert urlsplit(url).path == ""
        app = linked_app(url, db_rtt=0.002)  # through a link too
        async with app.run_test(size=(200, 30)) as pilot:
            await pilot.pause()
            assert f":{parts.port or 5432}/{parts.path.lstrip('/')} " in first_line(app)
