"""One rule for words that agree with a count (every message that names one)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cachetui.engine.words import plural


def test_one_is_singular_every_other_count_plural():
    assert plural(1, "write") == "write"
    assert [plural(n, "write") for n in (0, 2, 1_000)] == ["writes"] * 3
    assert plural(1, "entry", "entries") == "entry" and plural(3, "entry", "entries") == "entries"
    assert plural(-1, "write") == "writes"  # only exactly one is one


@given(st.integers(), st.text(min_size=1, max_size=20))
def test_the_plural_is_the_singular_with_an_s_unless_one_is_given(count, word):
    said = plural(count, word)
    assert said == (word if count == 1 else word + "s")
    assert plural(count, word, "many") == (word if count == 1 else "many")
