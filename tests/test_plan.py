"""Planning on the bundled sample corpus, through the real search path (plan.py, search.py).

The cases of issue 15: a quoted phrase no article has inside a question, an
upper-case question with OR, a short query few articles match in full, and
the short operator queries that must stay strict.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from conftest import search_ids
from searchsvc import engine, paging, plan as plans, ranking, schema
from searchsvc.query import parse
from searchsvc.search import SearchRequest, get_article, search

PORT_STRIKE = "harbor-gazette/2024-03-14-port-strike.html"
COUNCIL_BUDGET = "northfield-observer/2023-12-13-council-budget.html"
MISSING_PHRASE = "no automation without consent"
QUESTION = ("coverage of the port strike, in particular the union's "
            f'"{MISSING_PHRASE}" pledge and what the operator offered')
SHOUTED = "ANY REPORTS ON FLOOD DEFENCES, OR SANDBAGS, OR EVACUATIONS IN THE COUNTY"


def text_of(index, doc_id: str) -> str:
    article = get_article(index, doc_id)
    return f"{article.title}\n{article.body}"


def terms_of(index, doc_id: str) -> set[str]:
    return set(schema.stems(text_of(index, doc_id)))


def has_phrase(index, doc_id: str, phrase: str) -> bool:
    words = r"\W+".join(map(re.escape, phrase.split()))
    return re.search(rf"(?<!\w){words}(?!\w)", text_of(index, doc_id), re.IGNORECASE) is not None


def everything(index) -> list[str]:
    return search_ids(index, "", per_page=100, collapse=False)


# --- a written question: operators are text, phrases are hints -----------------------------------

def test_a_quoted_phrase_no_article_has_does_not_empty_a_question(sample_index):
    assert not any(has_phrase(sample_index, doc, MISSING_PHRASE) for doc in everything(sample_index))
    result = search(sample_index, SearchRequest(q=QUESTION, per_page=20))
    assert result.hits[0].id == PORT_STRIKE
    assert len(result.hits) == 20 and not result.relaxed and not result.corrected


def test_a_phrase_in_a_question_lifts_the_articles_that_have_it_and_drops_none(sample_index):
    plain = search(sample_index, SearchRequest(q="street light rail budget?", per_page=100, collapse=False))
    hinted = search(sample_index, SearchRequest(q='"street light" rail budget?', per_page=100, collapse=False))
    before = {h.id: h.score for h in plain.hits}
    after = {h.id: h.score for h in hinted.hits}
    assert set(after) == set(before) and hinted.total == plain.total
    with_phrase = {doc for doc in after if has_phrase(sample_index, doc, "street light")}
    assert COUNCIL_BUDGET in with_phrase
    for doc in after:
        assert after[doc] > before[doc] if doc in with_phrase else after[doc] == pytest.approx(before[doc])


def test_an_upper_case_question_with_or_finds_what_its_words_find(sample_index):
    shouted = search(sample_index, SearchRequest(q=SHOUTED, per_page=100))
    quiet = search(sample_index, SearchRequest(q=SHOUTED.lower(), per_page=100))
    assert [h.id for h in shouted.hits] == [h.id for h in quiet.hits]
    assert shouted.total == quiet.total >= 10 and len(shouted.hits) >= 10
    assert "flood" in get_article(sample_index, shouted.hits[0].id).title.lower()


def test_shouted_or_loses_nothing_the_operator_finds(sample_index):
    either = set(search_ids(sample_index, "flood OR storm", per_page=100))
    shouted = search(sample_index, SearchRequest(q="FLOOD OR STORM", per_page=100))
    assert either and either <= {h.id for h in shouted.hits} and not shouted.relaxed


# --- short operator queries stay strict -----------------------------------------------------------

@pytest.mark.parametrize("q, keeps, plain", [
    ('"light rail" -budget', lambda t: re.search(r"light\W+rail", t, re.I) and "budget" not in t.lower(),
     "light rail budget"),
    ("flood OR storm", lambda t: {"flood", "storm"} & set(schema.stems(t)), None),
    ("flood NOT storm", lambda t: "flood" in schema.stems(t) and "storm" not in schema.stems(t), "flood storm"),
    ("flood AND storm", lambda t: {"flood", "storm"} <= set(schema.stems(t)), "flood storm"),
    ("title:flood", None, "flood"),
])
def test_short_operator_queries_stay_strict(sample_index, q, keeps, plain):
    result = search(sample_index, SearchRequest(q=q, per_page=100, collapse=False))
    found = [h.id for h in result.hits]
    assert found and not result.relaxed and result.total == len(found)
    for doc in found:
        if keeps is None:
            assert "flood" in schema.stems(get_article(sample_index, doc).title)
        else:
            assert keeps(text_of(sample_index, doc)), (q, doc)
    if plain is not None:  # the operator narrowed what the plain words find
        assert len(found) < len(search_ids(sample_index, plain, per_page=100, collapse=False))


@pytest.mark.parametrize("q", [f'"{MISSING_PHRASE}"', "title:automation OR title:consent pledge"])
def test_an_operator_that_leaves_nothing_falls_back_to_the_words_and_says_so(sample_index, client, q):
    result = search(sample_index, SearchRequest(q=q, per_page=100))
    assert result.relaxed and not result.corrected and result.hits
    assert result.hits[0].id == PORT_STRIKE
    data = client.get("/api/search", query_string={"q": q}).get_json()
    assert data["relaxed"] is True and data["hits"][0]["id"] == PORT_STRIKE
    assert search(sample_index, SearchRequest(q="automation pledge")).relaxed is False


def test_an_exclusion_is_kept_when_falling_back(sample_index):
    result = search(sample_index, SearchRequest(q=f'"{MISSING_PHRASE}" -strike', per_page=100))
    assert result.relaxed
    assert all("strike" not in terms_of(sample_index, h.id) for h in result.hits)


# --- short queries: every word first, then most words; pages fill -------------------------------------

@pytest.mark.parametrize("q", ["school drivers pay", "water heat record", "bus street drivers"])
def test_a_short_query_with_few_all_word_matches_fills_the_page(sample_index, q):
    wanted = set(schema.stems(q))
    sharing = {doc for doc in everything(sample_index) if wanted & terms_of(sample_index, doc)}
    complete = {doc for doc in sharing if wanted <= terms_of(sample_index, doc)}
    assert len(sharing) >= 10 and 0 < len(complete) < 10
    result = search(sample_index, SearchRequest(q=q, per_page=100, collapse=False))
    found = [h.id for h in result.hits]
    assert set(found) == sharing and result.total == len(sharing)
    assert result.total_all_words == len(complete) and set(found[:len(complete)]) == complete
    have = [len(wanted & terms_of(sample_index, doc)) for doc in found]
    assert have == sorted(have, reverse=True), "an article with fewer of the words ranks above one with more"
    assert len(search(sample_index, SearchRequest(q=q)).hits) == 10
    assert result.tiers_note() == (f"The first {len(complete)} results have all your words; the rest have some of them."
                                   if len(complete) > 1 else
                                   "The first result has all your words; the rest have some of them.")


def test_every_word_first_in_every_order(sample_index):
    wanted = set(schema.stems("school drivers pay"))
    for sort in ("date", "recent"):
        result = search(sample_index, SearchRequest(q="school drivers pay", sort=sort, per_page=100))
        complete = [wanted <= terms_of(sample_index, h.id) for h in result.hits]
        assert complete == sorted(complete, reverse=True) and complete.count(True) == result.total_all_words


def test_when_every_word_fills_a_page_the_list_is_those(sample_index):
    result = search(sample_index, SearchRequest(q="council", per_page=100))
    assert result.total_all_words is None  # one word: no tiers
    many = search(sample_index, SearchRequest(q="year week", per_page=100, collapse=False))
    assert many.total_all_words == many.total >= 10
    assert all({"year", "week"} <= terms_of(sample_index, h.id) for h in many.hits)
    assert many.tiers_note() is None


def test_filler_words_rank_but_do_not_count_as_missing(sample_index):
    result = search(sample_index, SearchRequest(q="what about school drivers", per_page=100, collapse=False))
    assert result.total_all_words == search(sample_index, SearchRequest(q="school drivers")).total_all_words


@pytest.mark.parametrize("q", [
    "council budget parking charges library books road repairs",
    "what did the council decide about the harbour ferry services this winter",
    "flood river warning homes evacuated county rain",
])
def test_feedback_reads_the_servers_columns_as_it_would_whooshs(sample_index, q):
    """``plan._with_feedback`` hands feedback the evaluator's stored fields and document frequencies (the
    ``.sto`` files, the held lists): the same words and weights as the searcher's own."""
    s = sample_index.searcher()
    ev = engine.Evaluator(sample_index.arrays(s), s)
    p = plans.plan(ev, parse(q), sample_index.settings)
    probe = ev.matches(p.before_feedback or p.query)
    best = paging.Ordering(ev.gen, probe, "relevance", collapse=False, half_life_days=1.0,
                           enough=ranking.FEEDBACK_PROBE).page_after(None, 0, ranking.FEEDBACK_PROBE)[0]
    best = [(r.docnum, r.score) for r in best]
    counts = Counter(t for w in parse(q).words for t in schema.stems(w))
    whooshs = ranking.feedback_weights(s, best, counts)
    assert whooshs  # feedback does not hold back on these
    assert ranking.feedback_weights(
        s, best, counts, stored_fields=ev.stored_fields,
        doc_frequency=lambda t: ev.gen.doc_frequency(s, schema.CONTENT, t)) == whooshs
