"""``cachetui --talk``: a throwaway database made afresh at each start (a new SQLite file,
or the schema ``cachetui_talk`` of a PostgreSQL server, nothing else touched), the preset
the header shows (a 10 ms database latency; a 2 ms link on PostgreSQL), and ``X``, bound
in talk mode only, which puts the lab back to its start after asking."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from textual.widgets._toast import Toast

from cachetui.app.app import CacheTuiApp
from cachetui.app.screens.dialogs import ConfirmScreen
from cachetui.cli.command import build_parser, main
from cachetui.cli.options import config_from_args
from cachetui.cli.talk import TALK_SCHEMA, prepare_talk
from cachetui.engine import Engine
from tests.app.conftest import settle, text_of
from tests.conftest import TEST_POSTGRES_URL, postgres_or_skip

SIZE = (160, 45)
PROFILES = 30


def talk_app(*options: str) -> CacheTuiApp:
    """The app as ``cachetui --talk OPTIONS`` builds it (cachetui.cli.command.main)."""
    args = build_parser().parse_args(["--talk", "--profiles", str(PROFILES), *options])
    prepare_talk(args)
    engine = Engine(config_from_args(args))
    return CacheTuiApp(
        engine, seed_profiles=args.profiles, live=False, timings=False, seed=7, talk=args.talk
    )


def header(app: CacheTuiApp) -> str:
    return " ".join(text_of(app, "#status").split())


def footer_actions(app: CacheTuiApp) -> set[str]:
    return {key.action for key in app.query("FooterKey")}  # type: ignore[attr-defined]


async def test_talk_on_sqlite_starts_on_a_fresh_file_each_time_with_a_10_ms_latency(
    tmp_path: Path,
):
    data = tmp_path / "data-home" / "cachetui"
    for start in range(2):
        app = talk_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            engine = app.engine
            assert Path(engine.config.db_path) == data / "talk" / "profiles.db"
            assert engine.faults.db_latency == 0.010
            assert "DB latency 10 ms" in header(app)
            assert "talk_reset" in footer_actions(app)
            # small versions: the rows are the seeded ones, whatever the last start did
            assert {p.version for p in (await engine.db_rows([1, 2])).values()} == {1}
            assert await engine.db_count() == PROFILES
            await engine.update(1, {"name": f"Talk {start}"})
            await engine.update(2, {"name": f"Talk {start}"})
            assert (await engine.db_rows([1]))[1].version == 2
    assert not (data / "profiles.db").exists()  # the default database is not the talk's


def test_talk_refuses_a_sqlite_db_in_one_line(tmp_path: Path, capsys):
    mine = tmp_path / "mine.db"
    with pytest.raises(SystemExit) as exit_info:
        main(["--talk", "--db", str(mine)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--talk" in error and "--db takes only a PostgreSQL server" in error
    assert not mine.exists()


async def test_x_puts_the_lab_back_to_its_start_after_asking():
    app = talk_app("--policy", "write-through", "--flush-interval", "3600")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        engine = app.engine
        seeded = await engine.db_rows(range(1, PROFILES + 1))
        epoch = engine.epoch
        await pilot.press("2")  # write-behind: the reset puts write-through back
        await settle(app, pilot)
        await engine.update(3, {"name": "Lost"})
        await pilot.press("c")  # the crash loses it, and says so
        await settle(app, pilot)
        await pilot.press("escape")
        assert engine.metrics.lost_writes == 1
        await engine.update(5, {"name": "Mine"})  # a conflict: parked as a dead letter
        await engine.external_update(5, {"name": "Theirs"})
        await engine.flush()
        await engine.update(4, {"name": "Landed"})
        await engine.flush()
        await engine.update(6, {"name": "Pending"})  # dropped by the reset, never landing
        await engine.read(7)
        await settle(app, pilot)
        assert engine.dead_letters() and engine.pending_writes()
        assert await engine.cache_size() > 0 and engine.metrics.updates > 0

        await pilot.press("X")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert await engine.db_rows(range(1, PROFILES + 1)) == seeded
        assert engine.pending_writes() == [] and engine.dead_letters() == []
        assert await engine.cache_size() == 0
        m = engine.metrics
        assert (m.reads, m.updates, m.db_writes, m.lost_writes, m.conflicts) == (0, 0, 0, 0, 0)
        assert engine.epoch > epoch + 1  # the crash's epoch, then the reset's
        assert engine.policy.value == "write-through"
        assert engine.faults.db_latency == 0.010
        assert "dead letter" not in header(app)
        # what it says pops over the Events pane, not over the panes the audience reads
        shown = [t for t in app.screen.query(Toast) if t.region.area]
        assert shown
        events = app.query_one("#log").region
        assert all(events.contains_region(t.region) for t in shown)


async def test_x_is_not_bound_without_talk(make_app):
    app = make_app(profiles=20)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "talk_reset" not in footer_actions(app)
        await pilot.press("X")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.engine.faults.db_latency == 0


# -- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture
def talk_database() -> Iterator[str]:
    """A database of this test's own on the PostgreSQL test server, dropped at the end,
    with a ``public.profiles`` and a ``public.bystander`` table the talk must not touch."""
    import psycopg
    from psycopg import sql

    server = postgres_or_skip(TEST_POSTGRES_URL)
    parts = urlsplit(server)
    url = urlunsplit(parts._replace(path="/cachetui_talk_mode_test"))
    name = sql.Identifier("cachetui_talk_mode_test")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.profiles (user_id int primary key, name text)")
        conn.execute("INSERT INTO public.profiles VALUES (1, 'not the talk''s')")
        conn.execute("CREATE TABLE public.bystander (id int primary key, note text)")
        conn.execute(
            "INSERT INTO public.bystander SELECT g, md5(g::text) FROM generate_series(1, 50) g"
        )
    try:
        yield url
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def outside_the_talk(url: str) -> tuple[object, ...]:
    """Everything in the database outside schema cachetui_talk: the other schemas, their
    tables and the bytes of each public table."""
    import psycopg

    with psycopg.connect(url) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%%' "
            "AND nspname NOT IN ('information_schema', %s) ORDER BY 1",
            (TALK_SCHEMA,),
        ).fetchall()
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', %s) ORDER BY 1, 2",
            (TALK_SCHEMA,),
        ).fetchall()
        rows = [
            conn.execute(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t} t"
            ).fetchone()
            for t in ("public.profiles", "public.bystander")
        ]
    return schemas, tables, rows


@pytest.mark.postgres
async def test_talk_on_postgres_works_in_its_own_schema_behind_a_2_ms_link(talk_database: str):
    before = outside_the_talk(talk_database)
    app = talk_app("--db", talk_database)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        engine = app.engine
        link = engine.link
        assert link is not None and link.rtt == 0.002
        assert "db link rtt 2.0ms" in header(app)
        assert engine.faults.db_latency == 0  # the link is the preset here
        assert await engine.db_count() == PROFILES
        seeded = await engine.db_rows([1, 2])
        await engine.update(1, {"name": "Talk"})
        await engine.external_update(2, {"name": "Elsewhere"})
        await pilot.press("X", "y")
        await settle(app, pilot)
        assert await engine.db_rows([1, 2]) == seeded
        assert engine.metrics.updates == 0
        assert engine.config.db_url is not None and TALK_SCHEMA in engine.config.db_url
    assert outside_the_talk(talk_database) == before
