"""What people see of the ranking, on the bundled sample corpus, through every door.

The measured side (nDCG, MAP on judged collections) is bench/relevance.py;
these tests pin the behaviour a reader notices on the first page.
"""
from __future__ import annotations

import re

import pytest

from conftest import run_cli, search_ids
from searchsvc import schema
from searchsvc.search import SearchRequest, get_article, search

PORT_STRIKE = "harbor-gazette/2024-03-14-port-strike.html"
STRIKE_ENDS = "harbor-gazette/2024-04-02-dockworkers-end-strike.html"
FERRY_STRIKE = "coastline-post/2024-03-20-pellin-ferry-crews-strike.html"
FERRY_CUTS = "harbor-gazette/2022-06-09-archipelago-ferry-cuts.html"
DESALINATION = "harbor-gazette/2023-08-21-desalination-plant.html"
RESERVOIR = "valley-courier/2022-09-30-greendale-reservoir-levels.txt"
HEAT_WAVE = "lakeside-herald/2022-07-19-heat-wave-record-temperature.html"
EUROPE_HEAT = "wire-0005"
LANDSLIP = "coastline-post/2025-01-15-gannet-head-cliff-landslip.html"
SEAL_PUPS = "coastline-post/2026-02-04-pellin-grey-seal-pups-record.html"
COUNCIL_BUDGET = "northfield-observer/2023-12-13-council-budget.html"
LIGHT_RAIL = "riverside-times/2024-11-18-blue-line-light-rail-opens.html"
BUS_DRIVERS = "lakeside-herald/2025-09-02-school-bus-driver-shortage.html"
LIBRARY = "lakeside-herald/2024-09-10-central-library-reopens.htm"


def terms_of(index, doc_id: str) -> set[str]:
    article = get_article(index, doc_id)
    return set(schema.stems(f"{article.title}\n{article.body}"))


def has_phrase(index, doc_id: str, phrase: str) -> bool:
    article = get_article(index, doc_id)
    words = r"\W+".join(map(re.escape, phrase.split()))
    return re.search(rf"(?<!\w){words}(?!\w)", f"{article.title}\n{article.body}", re.IGNORECASE) is not None


@pytest.mark.parametrize("q, first, rivals", [
    # each rival repeats one of the words more often than the article that has them all
    ("ferry strike", FERRY_STRIKE, [PORT_STRIKE, FERRY_CUTS]),
    ("library book purchases", COUNCIL_BUDGET, [LIBRARY]),
    ("bus stops", LIGHT_RAIL, [BUS_DRIVERS]),
    ("school bus drivers", BUS_DRIVERS, []),
    ("drinking water supply", DESALINATION, [RESERVOIR]),
])
def test_short_query_ranks_the_article_with_every_word_first(sample_index, q, first, rivals):
    found = search_ids(sample_index, q, per_page=50)
    assert found and found[0] == first
    wanted = {t for w in q.split() for t in schema.stems(w)}
    complete = [wanted <= terms_of(sample_index, doc) for doc in found]
    assert complete == sorted(complete, reverse=True), "an article missing a word ranks above one with all"
    for rival in rivals:
        if not wanted <= terms_of(sample_index, rival):
            assert rival not in found[:complete.count(True)]


@pytest.mark.parametrize("q", ["ferry strike", "council budget", "port strike"])
def test_short_query_ranks_every_word_first_then_the_articles_with_some(sample_index, q):
    result = search(sample_index, SearchRequest(q=q, per_page=100, collapse=False))
    found = [h.id for h in result.hits]
    wanted = {t for w in q.split() for t in schema.stems(w)}
    has_all = [wanted <= terms_of(sample_index, doc) for doc in found]
    assert has_all == sorted(has_all, reverse=True), "an article missing a word ranks above one with all"
    assert 0 < result.total_all_words == has_all.count(True) < result.total == len(found)
    everything = search_ids(sample_index, "", per_page=100, collapse=False)
    assert set(found) == {doc for doc in everything if wanted & terms_of(sample_index, doc)}


def test_a_phrase_ranks_the_article_with_the_phrase_first(sample_index):
    words = search_ids(sample_index, "street light", per_page=50)
    phrase = search_ids(sample_index, '"street light"', per_page=50)
    assert LIGHT_RAIL in words and not has_phrase(sample_index, LIGHT_RAIL, "street light")
    assert phrase and phrase[0] == COUNCIL_BUDGET
    assert all(has_phrase(sample_index, doc, "street light") for doc in phrase)


@pytest.mark.parametrize("q, titled, passing", [
    ("temperature", HEAT_WAVE, EUROPE_HEAT),
    ("drinking", DESALINATION, RESERVOIR),
    ("automation", PORT_STRIKE, STRIKE_ENDS),
    ("cliff", LANDSLIP, SEAL_PUPS),
])
def test_a_title_match_outranks_a_passing_mention(sample_index, q, titled, passing):
    stem = schema.stems(q)[0]
    assert stem in set(schema.stems(get_article(sample_index, titled).title))
    assert stem not in set(schema.stems(get_article(sample_index, passing).title))
    assert stem in terms_of(sample_index, passing)
    found = search_ids(sample_index, q, per_page=50)
    assert found.index(titled) < found.index(passing)


@pytest.mark.parametrize("q, first", [
    ("when will the new desalination plant start supplying drinking water to homes", DESALINATION),
    ("What did the dockworkers' union say about the automated cranes planned for the port?", PORT_STRIKE),
    ("how many grey seal pups were counted on the island colony this winter", SEAL_PUPS),
    ("Why did the council decide to raise the tax and cut street lights in its budget?", COUNCIL_BUDGET),
    ("I read that ferry crews walked out at Saltmarsh Bay - what was the dispute about?", FERRY_STRIKE),
])
def test_a_long_question_returns_the_relevant_article_first(sample_index, q, first):
    found = search_ids(sample_index, q)
    assert found and found[0] == first


@pytest.mark.parametrize("q, words", [
    ("port strike - why?", "port strike why"),
    ('what happened in the "port strike?', "what happened in the port strike"),
    ("desalination plant: when (roughly) will it open?", "desalination plant when roughly will it open"),
    ("drinking water * supply", "drinking water supply"),
    ("grey seal pups (record)?", "grey seal pups record"),
    ("title : ferry crews", "title ferry crews"),
    ("light-rail line to the airport?!", "light rail line to the airport"),
])
def test_stray_syntax_in_a_question_ranks_like_its_words(sample_index, client, q, words):
    plain = search(sample_index, SearchRequest(q=words, per_page=20))
    stray = search(sample_index, SearchRequest(q=q, per_page=20))
    assert plain.hits, words
    assert [h.id for h in stray.hits] == [h.id for h in plain.hits]
    assert stray.total == plain.total
    response = client.get("/api/search", query_string={"q": q, "per_page": 20})
    assert response.status_code == 200
    assert [h["id"] for h in response.get_json()["hits"]] == [h.id for h in plain.hits]


BATCH = [
    "port strike",
    "ferry strike",
    '"street light"',
    "temperature",
    "when will the new desalination plant start supplying drinking water to homes",
    "What did the dockworkers' union say about the automated cranes planned for the port?",
    "flood OR storm -millbrook",
    "title:strike",
    "desal*",
]


def test_batch_cli_and_api_rank_alike(sample_index, sample_settings, client, tmp_path):
    queries = tmp_path / "queries.tsv"
    queries.write_text("".join(f"q{i}\t{q}\n" for i, q in enumerate(BATCH)), "utf-8")
    done = run_cli("search", "--batch", queries, "--format", "trec", "--limit", "10",
                   "--index", sample_settings.index)
    assert done.returncode == 0, done.stderr
    runs: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        qid, q0, doc, rank, _score, tag = line.split()
        assert (q0, tag) == ("Q0", "searchsvc")
        runs.setdefault(qid, []).append(doc)
        assert int(rank) == len(runs[qid])
    for i, q in enumerate(BATCH):
        response = client.get("/api/search", query_string={"q": q, "per_page": 10})
        assert response.status_code == 200
        api = [h["id"] for h in response.get_json()["hits"]]
        assert api, q
        assert runs.get(f"q{i}", []) == api == search_ids(sample_index, q, per_page=10), q
