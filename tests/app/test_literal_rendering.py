"""The functions that turn events, errors, header parts and scenario files into display
text show any text literally: markup stays characters, control characters become spaces,
and the text Textual draws from the result is the same text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.content import Content

from cachetui.app.screens.scenario_picker import ScenarioPicker
from cachetui.app.widgets.activity import describe
from cachetui.app.widgets.banner import title_forms
from cachetui.app.widgets.status import fit_line, part
from cachetui.engine import Event, EventKind
from cachetui.literal import literal, printable
from cachetui.scenarios.model import Scenario, Step

#: Pieces of markup, escapes and wide characters; any text, too.
PIECES = ["[", "]", "/", "[/", "[b]", "[/b]", "\\", "=", "@click=app.quit", "link=http://x"]
PIECES += ["\x1b", "\x1b[2J", "\x07", "\x00", "\x9b", "\r", "\n", "\t", "\x7f", "界", "x", " "]
NASTY = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
FAST = settings(max_examples=50, deadline=None)


def literally(shown: Text, text: str, *, newlines: bool = False) -> None:
    """``shown`` holds ``text`` with each unprintable character a space, holds nothing
    unprintable itself, and Textual draws it as the same characters."""
    plain = shown.plain
    assert printable(text, newlines=newlines) in plain
    assert all(c.isprintable() or (newlines and c == "\n") for c in plain), repr(plain)
    assert Content.from_rich_text(shown).plain == plain


@FAST
@given(NASTY)
def test_an_event_log_entry_shows_its_detail_literally(detail):
    event = Event(1, EventKind.ERROR, 13, 2, None, 0.0, detail)
    literally(describe(event, timings=False), detail)


@FAST
@given(NASTY)
def test_a_header_part_shows_its_text_literally_on_one_line(text):
    literally(fit_line([part(text, style="bold")], 0), text)
    styled = Text(text, style="red")  # (a Text drops BEL, BS, VT, FF and CR itself)
    literally(fit_line([part(styled)], 0), styled.plain)


@FAST
@given(NASTY)
def test_a_scenario_title_in_the_banner_shows_literally(title):
    forms = title_forms(title)
    literally(forms[0], title)
    for form in forms:
        literally(form, "")


@FAST
@given(NASTY, NASTY)
def test_a_scenario_in_the_picker_shows_its_file_s_words_literally(title, description):
    scenario = Scenario("talk", title, (Step("x"),), description or "d")
    shown = ScenarioPicker._prompt(scenario)
    literally(shown, printable(title, newlines=False), newlines=True)  # a title: one line
    literally(shown, description or "d", newlines=True)


@FAST
@given(NASTY)
def test_literal_text_is_never_markup(text):
    shown = literal(text)
    assert shown.spans == [] and shown.plain == printable(text)
    literally(shown, text, newlines=True)
