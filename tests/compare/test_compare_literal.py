"""The compare screen shows text it did not write literally: a queue URL with markup in
its path (each side's badge and the difference line) and a database error with markup
and control characters (the side's outcome line). The app stays alive."""

from __future__ import annotations

import sqlite3

from textual.widgets import Static

from tests.compare.conftest import build_compare, settle

SIZE = (160, 45)
ERROR = "name NOT GLOB '*[/\\]*' [bold red]x[/] \x1b[2J\x07"


def drawn(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def clean(text: str) -> bool:
    return all(c.isprintable() or c == "\n" for c in text)


async def test_a_queue_url_and_a_database_error_with_markup_show_literally(tmp_path):
    folder = tmp_path / "[red]q[" / "b]"  # the queue's path says [red]q[/b]
    folder.mkdir(parents=True)
    db_a = str(tmp_path / "a.db")
    app = build_compare(
        "write-through",
        "write-behind",
        db_a=db_a,
        db_b=str(tmp_path / "b.db"),
        queue_b=f"sqlite:///{folder}/outbox.db",
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        badge = app.side(1).query_one(".badge", Static)
        assert "[red]q[/b]" in badge.content.plain, badge.content  # (drawn: cut at its width)
        assert clean(drawn(badge))
        with sqlite3.connect(db_a) as db:  # side A's database refuses user 7's writes
            message = ERROR.replace("'", "''")
            db.execute(
                "CREATE TRIGGER nasty BEFORE UPDATE ON profiles WHEN NEW.user_id = 7 "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        db.close()
        await pilot.press("g", "7", "enter")
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert app.is_running
        shown = drawn(app.side(0).query_one(".outcome", Static))
        assert clean(shown), shown
        assert "name NOT GLOB '*[/\\]*' [bold red]x[/]" in "".join(shown.split("\n")), shown
