"""Exact forms first (exact.py), and joined and split forms before did-you-mean (plan.py), on real indexes."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from conftest import make_settings, page, search_ids, write
from searchsvc import engine, exact, plan as plans
from searchsvc.indexer import reindex
from searchsvc.query import parse
from searchsvc.search import SearchIndex, SearchRequest, get_article, search

FOOTBALL = "northfield-observer/2022-05-29-county-cup-final.html"  # captain Ferris: "ferry" only by its stem
EARTHQUAKE = "wire-0004"                                            # "Ferry services ... were suspended"
CYBERATTACK = "northfield-observer/2025-02-12-hospital-cyberattack.html"


def test_ferry_ranks_every_story_with_the_word_above_the_captain_ferris(sample_index):
    found = search_ids(sample_index, "ferry", per_page=50)
    assert FOOTBALL in found  # the stem match still finds it...
    with_the_word = [d for d in found if FERRY.search(_text(sample_index, d))]
    assert EARTHQUAKE in with_the_word and FOOTBALL not in with_the_word
    assert all(found.index(d) < found.index(FOOTBALL) for d in with_the_word)  # ...below every exact form


FERRY = re.compile(r"\bferr(?:y|ies|ied|ying)\b", re.IGNORECASE)


def _text(index, doc_id: str) -> str:
    article = get_article(index, doc_id)
    return f"{article.title}\n{article.body}"


@pytest.fixture(scope="module")
def forms_index(tmp_path_factory):
    """Other things equal: short articles with the word as typed, an inflection, or only a stem-mate."""
    root = tmp_path_factory.mktemp("forms")
    pages = {
        # the stem-mate twice in a short text: BM25 alone puts it first
        "ferris.html": ("Cup final", "Captain Ferris scored. Ferris lifted the cup."),
        "ferry.html": ("Island news", "The ferry to the island was late again this morning, and the harbour "
                                      "master said the tide, the wind and an engine fault were to blame."),
        "ferries.html": ("Harbour news", "Two ferries were held in port this morning while the harbour master "
                                         "checked the moorings, the tide tables and the weather reports."),
        "cyberattack.html": ("Hospital hit", "A cyberattack took the hospital's records offline."),
        "cyber-attack.html": ("Port systems down", "A cyber attack stopped the port's cranes for a day."),
        "apart.html": ("Cyber week", "Cyber security week ends; the council heard about an attack on a bus."),
        "heat.html": ("Heat wave", "A heat wave broke records across the county."),
        "heatwave.html": ("Hot summer", "The heatwave broke records in the north."),
    }
    for name, (title, body) in pages.items():
        write(root / "src" / name, page(title, body))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    index = SearchIndex(settings)
    yield index
    index.close()


def test_the_word_and_its_inflections_rank_above_a_word_only_the_stemmer_joins(forms_index):
    found = search_ids(forms_index, "ferry")
    assert set(found[:2]) == {"ferry.html", "ferries.html"} and found[2:] == ["ferris.html"]
    assert search_ids(forms_index, "ferris")[0] == "ferris.html"  # the name as typed: its own form first


def test_a_written_question_keeps_the_stemmers_reach(forms_index):
    assert search_ids(forms_index, "ferry?")[0] == "ferris.html"  # BM25's order: a question is not re-scored


def test_only_the_best_candidates_are_re_scored_and_only_where_another_word_shares_the_stem(forms_index):
    s = forms_index.searcher()
    ev = engine.Evaluator(forms_index.arrays(s), s)
    p = plans.plan(ev, parse("ferry"), forms_index.settings)
    found = ev.matches(p.query)
    rescored = exact.exact_first(ev, p.forms, p.word_scores, found)
    lowered = found.docnums[rescored.scores < found.scores]
    assert [get_article(forms_index, ev.gen.ids[d]).id for d in lowered] == ["ferris.html"]
    assert rescored.scores[rescored.scores < found.scores] == pytest.approx(
        found.scores[rescored.scores < found.scores] * exact.STEM_ONLY_SHARE)
    harbour = plans.plan(ev, parse("harbour"), forms_index.settings)  # no other word stems to "harbour"
    assert exact._own_words(ev, "harbour", harbour.forms) is None
    assert exact._own_words(ev, "ferri", p.forms) == ("ferries", "ferry")
    plain = ev.matches(harbour.query)
    assert exact.exact_first(ev, harbour.forms, harbour.word_scores, plain) is plain  # no text read


def test_two_words_also_find_their_joined_form_and_suggest_nothing(forms_index):
    result = search(forms_index, SearchRequest(q="cyber attack"))
    found = [h.id for h in result.hits]
    assert {"cyberattack.html", "cyber-attack.html"} <= set(found[:3])
    assert result.suggestion is None and not result.corrected
    joined = next(h for h in result.hits if h.id == "cyberattack.html")
    assert "<mark>cyberattack</mark>" in joined.snippet
    assert result.total_all_words == 3  # the joined word stands for both words; "apart" has both, apart


def test_a_compound_also_finds_its_words_as_a_phrase_not_apart(forms_index):
    found = search_ids(forms_index, "cyberattack")
    assert found[0] == "cyberattack.html"
    assert "cyber-attack.html" in found
    assert "apart.html" not in found


def test_the_words_as_typed_rank_above_their_joined_form(forms_index):
    assert search_ids(forms_index, "heat wave") == ["heat.html", "heatwave.html"]
    assert search_ids(forms_index, "heatwave") == ["heatwave.html", "heat.html"]


@pytest.mark.parametrize("q, expected", [
    ("cyber attack", None),        # joined: no "cover attack"
    ("cyber attack?", None),       # a question joins the words the index lacks
    ("cybr attack", "cyber attack"),
    ("feryy", "ferry"),
])
def test_did_you_mean_comes_after_joined_and_split_forms(forms_index, q, expected):
    assert search(forms_index, SearchRequest(q=q)).suggestion == expected


def test_sample_cyber_attack_finds_the_cyberattack_story_without_a_suggestion(sample_index):
    result = search(sample_index, SearchRequest(q="cyber attack"))
    assert result.hits[0].id == CYBERATTACK
    assert result.suggestion is None


def test_splits_and_joins_use_only_indexed_non_stop_words(forms_index):
    s = forms_index.searcher()
    ev = engine.Evaluator(forms_index.arrays(s), s)
    assert plans._splits(ev, "cyberattack") == [("cyber", "attack")]
    assert plans._splits(ev, "heatwave") == [("heat", "wave")]
    assert plans._splits(ev, "theheat") == []    # "the" is a stop word: never indexed
    assert plans._splits(ev, "cyberx") == []     # parts of fewer than three letters are not tried
    assert plans._splits(ev, "cyberattacks") == []  # "attacks" is not a word of the index


@pytest.mark.parametrize("q, word", [("season", "season"), ("weekend", "weekend")])
def test_a_word_the_index_has_is_marked_itself_not_the_parts_it_splits_into(sample_index, q, word):
    """``season`` also matches ``sea son`` as a phrase; a lone ``sea`` in the story is not the word asked for."""
    hit = search(sample_index, SearchRequest(q=q)).hits[0]
    marked = {m.lower() for m in re.findall(r"<mark>(.*?)</mark>", hit.snippet)}
    assert marked == {word}


@given(st.text(alphabet="ab_1 -.\n", max_size=30), st.lists(st.text(alphabet="ab1_", min_size=1, max_size=3),
                                                              min_size=1, max_size=3))
def test_whole_words_are_found_as_the_regular_expression_of_them_finds_them(text, words):
    pattern = re.compile(r"(?<!\w)(?:%s)(?!\w)" % "|".join(map(re.escape, words)))
    assert exact._has_word(text, tuple(words)) == (pattern.search(text) is not None)


@pytest.mark.parametrize("limit", [exact.WARM_WORDS, 1500, 0])
def test_warming_answers_for_every_term_as_a_first_question_would(sample_settings, limit):
    """``exact.warm`` fills a commit's words by term a first letter at a time, each letter's terms whole:
    every answer it holds is the one ``_words_of_term`` finds on a cold commit (a letter cut short would
    leave some out), at most ``limit`` words, and no search answers otherwise."""
    warmed = SearchIndex(sample_settings.replace(cache_entries=0))
    cold = SearchIndex(sample_settings.replace(cache_entries=0, warm_postings=0))
    try:
        s = warmed.searcher()
        gen = warmed.arrays(s, background_warming=False)
        gen.warm(s, warmed.settings.warm_postings, warmed._stop)
        words = exact.warm(gen, limit)
        held = dict(gen.memo("exact.words"))
        assert words <= limit and (words > 0) == bool(held) and (words > 1000 or limit < exact.WARM_WORDS)
        c = cold.searcher()
        ev = engine.Evaluator(cold.arrays(c), c)
        assert all(found == exact._words_of_term(ev, term) for term, found in held.items())
        for q in ["ferry", "harbours strike", "councils budgets", "flooding rivers", '"county council"']:
            assert search(warmed, SearchRequest(q=q)).to_dict() | {"took_ms": 0} == \
                search(cold, SearchRequest(q=q)).to_dict() | {"took_ms": 0}
    finally:
        warmed.close()
        cold.close()
