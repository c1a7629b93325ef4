"""The one-pass analysis the bulk writer and did-you-mean use equals Whoosh's analyzer chain."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import schema

TRICKY = [
    "Café Straße naïve İstanbul ÆON",  # non-ASCII: lower-cased word by word, accents folded
    "the Of 3.14 U.S. don't",          # stop words first: positions start after them
    "Ｆｕｌｌ ｗｉｄｔｈ x",
    "THE Harbor HARBOR harbors; the harbor's",
    "a an and",                          # nothing but stop words
    "",
]
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(TRICKY)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_index_terms_are_the_analyzers_tokens_and_positions(text):
    first, terms = schema.index_terms(text)
    tokens = [(t.text, t.pos) for t in schema.ANALYZER(text, positions=True, mode="index")]
    assert [(term, first + i) for i, term in enumerate(terms)] == tokens


@settings(max_examples=300, deadline=None)
@given(texts)
def test_spelling_words_are_the_analyzers_unstemmed_words(text):
    assert schema.spelling_words(text) == {t.text for t in schema.ANALYZER(text, no_morph=True)}


def test_leading_stop_words_shift_positions():
    assert schema.index_terms("the harbor of the city") == (1, ["harbor", "citi"])


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\w{1,12}", fullmatch=True) | st.sampled_from(["The", "Straße", "İstanbul", "prices", "of"]))
def test_word_stem_is_the_analyzers_term_for_one_word(word):
    assert schema.word_stem(word) == (schema.stems(word) or [None])[0]
