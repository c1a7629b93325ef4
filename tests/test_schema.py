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


@settings(max_examples=300, deadline=None)
@given(texts | st.sampled_from(["The", "Straße", "İstanbul", "prices", "u.s.", "x" * 40, "harbor " * 6]))
def test_stems_are_the_analyzers_query_terms(text):
    assert schema.stems(text) == [t.text for t in schema.ANALYZER(text, mode="query")]


@settings(max_examples=300, deadline=None)
@given(texts)
def test_written_words_are_the_word_analyzers_tokens(text):
    assert schema.written_words(text) == [t.text for t in schema.word_analyzer()(text)]


def test_leading_stop_words_shift_positions():
    assert schema.index_terms("the harbor of the city") == (1, ["harbor", "citi"])


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\w{1,12}", fullmatch=True) | st.sampled_from(["The", "Straße", "İstanbul", "prices", "of"]))
def test_word_stem_is_the_analyzers_term_for_one_word(word):
    assert schema.word_stem(word) == ([t.text for t in schema.ANALYZER(word, mode="query")] or [None])[0]


VOCABULARY = ["harbor", "harbors", "u.s", "3.14", "don't", "the", "harbor.", "Harbor", "café", "strasse", "x_y", "",
              "a b", "..", "1987", "naïve", "ﬁsh"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY) | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
                | st.from_regex(r"[a-z0-9_.']{1,12}", fullmatch=True), max_size=20))
def test_vocabulary_terms_are_each_words_stem(words):
    """One call to the stemmer for the index's own ASCII words; any word at all gets ``word_stem``'s answer."""
    assert schema.vocabulary_terms(words) == [schema.word_stem(w) for w in words]


def test_the_vocabulary_of_an_index_gets_its_terms_in_one_pass(sample_index):
    s = sample_index.searcher()
    words = [w.decode() if isinstance(w, bytes) else w
             for w in s.reader().lexicon(s.schema["content"].spelling_fieldname("content"))]
    assert len(words) > 1000
    assert schema.vocabulary_terms(words) == [schema.word_stem(w) for w in words]
