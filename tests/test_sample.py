"""The bundled sample corpus, indexed by the real pipeline: metadata, boilerplate gone, first hits."""
from __future__ import annotations

import json

import pytest

from conftest import HERE
from searchsvc.indexer import bundled_sample
from searchsvc.search import SearchRequest, get_article, search

EXPECTED = json.loads((HERE / "sample_expectations.json").read_text("utf-8"))
ARTICLES = sorted(k for k in EXPECTED if not k.startswith("_"))


@pytest.mark.parametrize("doc_id", ARTICLES)
def test_metadata(sample_index, doc_id):
    want = EXPECTED[doc_id]
    got = get_article(sample_index, doc_id)
    assert got.title == want["title"]
    assert (got.published or "")[:10] == (want["published"] or "")
    assert got.author == want["author"]
    assert got.source == want["source"]
    assert got.url == want["url"]


@pytest.mark.parametrize("doc_id", ARTICLES)
def test_article_text_without_boilerplate(sample_index, doc_id):
    want = EXPECTED[doc_id]
    body = " ".join(get_article(sample_index, doc_id).body.split())
    for phrase in want["must_contain"]:
        assert " ".join(phrase.split()) in body
    for phrase in want["must_not_contain"]:
        assert " ".join(phrase.split()) not in body
    assert not body.startswith(want["title"])  # the title is not repeated at the top


@pytest.mark.parametrize("case", EXPECTED["_queries"], ids=lambda c: c["q"][:40])
def test_obvious_queries_rank_the_right_article_first(sample_index, case):
    hits = search(sample_index, SearchRequest(q=case["q"])).hits
    assert hits and hits[0].id == case["first"]


def test_every_sample_file_is_indexed(sample_index):
    records = (bundled_sample() / "wire/feed.jsonl").read_text("utf-8").splitlines()
    total = search(sample_index, SearchRequest(q="", collapse=False)).total
    assert total == len(ARTICLES) + sum(1 for line in records if line.strip())
