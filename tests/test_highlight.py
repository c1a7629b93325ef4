"""Finding a query's words in text: every form of the word, whole words only, escaped passages."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import highlight, schema

WORDS = ["strike", "strikes", "striking", "city", "cities", "café", "Straße", "İstanbul", "x_strike", "3strike",
         "STRIKERS", "ſtrike", "Kelvin", "ǅemal", "harbor", "harbour", "ﬁsh"]
texts = st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=30).map(" ".join) | st.text(max_size=120)
queries = st.lists(st.sampled_from(WORDS) | st.from_regex(r"\w{1,8}", fullmatch=True), min_size=1, max_size=3)


def by_definition(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """The words (maximal runs of ``\\w``, any case) beginning with a stem's head whose index term is a stem."""
    heads = sorted({re.escape(t[:-1] if len(t) > 3 else t) for t in stems if t}, key=len, reverse=True)
    if not heads:
        return []
    candidates = re.finditer(r"(?<!\w)(?:%s)\w*" % "|".join(heads), text, re.IGNORECASE)
    return [m.span() for m in candidates if schema.word_stem(m.group()) in stems]


@settings(max_examples=400, deadline=None)
@given(texts, queries)
def test_matches_are_the_words_that_stem_to_a_query_term(text, words):
    stems = {t for w in words for t in schema.stems(w)}
    assert highlight.matches(text, stems) == by_definition(text, stems)


@pytest.mark.parametrize("text, word, expected", [
    ("Strikers struck; striking workers strike", "strike", ["striking", "strike"]),
    ("The city's cities", "city", ["city", "cities"]),
    ("x_strike strike_x 3strike strike", "strike", ["strike"]),     # whole words only
    ("İstanbul: a city", "city", ["city"]),                           # lower-casing lengthens the text
])
def test_matches_every_form_and_only_whole_words(text, word, expected):
    stems = set(schema.stems(word))
    assert [text[a:b] for a, b in highlight.matches(text, stems)] == expected


def test_passages_escape_the_text_and_mark_the_words():
    body = "Dock <b>workers</b> & their union ended the strike on Monday. " * 3
    (offset, html), *_ = highlight.passages(body, set(schema.stems("strike")), size=80)
    assert "<b>" not in html and "&lt;b&gt;workers&lt;/b&gt; &amp;" in html
    assert html.count("<mark>strike</mark>") >= 1 and html.startswith("… ") and body[offset:].startswith(html[2:8])
