"""The result cache is bounded by the bytes of the pages it holds, not only by their number."""
from __future__ import annotations

import dataclasses
import json
import sys

import orjson
import pytest

from conftest import make_settings, write
from searchsvc.indexer import reindex
from searchsvc.search import SearchIndex, SearchRequest, search

BUDGET = 300_000


@pytest.fixture(scope="module")
def wordy_settings(tmp_path_factory):
    """Articles with headlines as long as the index keeps them (500 characters) and long duplicate lists."""
    root = tmp_path_factory.mktemp("wordy")
    records = [{"id": f"w{i:03d}", "title": f"Headline word{i % 50} " + "lengthy " * 200,
                "body": f"word{i % 50} appears in this story number {i} about the harbour " * 20,
                "author": "Reporter " * 100, "source": "Agency " * 100} for i in range(300)]
    write(root / "src" / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(root / "index", cache_bytes=BUDGET)
    reindex(settings, [root / "src"])
    return settings


def deep_size(obj, seen=None) -> int:
    """What a page really holds in CPython: every object it reaches, once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if dataclasses.is_dataclass(obj):
        size += deep_size(vars(obj), seen)
    elif isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        size += sum(deep_size(x, seen) for x in obj)
    return size


def test_distinct_queries_never_hold_more_than_the_byte_budget(wordy_settings):
    ix = SearchIndex(wordy_settings)
    for i in range(100):
        search(ix, SearchRequest(q=f"word{i % 50} harbour", per_page=10 + i // 50))
        assert ix.results.bytes <= BUDGET
    assert 0 < len(ix.results) < 100
    again = SearchRequest(q="word49 harbour", per_page=11)  # the last one asked: still there
    assert ix.results.get(ix.generation, again) is not None


def test_a_page_larger_than_the_budget_is_answered_but_not_kept(wordy_settings):
    ix = SearchIndex(wordy_settings.replace(cache_bytes=20_000))
    page = search(ix, SearchRequest(q="harbour", per_page=100))
    assert len(page.hits) == 100 and page.approximate_bytes() > 20_000
    assert len(ix.results) == 0 and ix.results.bytes == 0


@pytest.mark.parametrize("q, explain", [("harbour", False), ("word7 harbour", True), ("", False), ("zzzz", False)])
def test_a_page_is_weighed_within_a_factor_of_what_it_holds(wordy_settings, q, explain):
    page = search(SearchIndex(wordy_settings), SearchRequest(q=q, explain=explain))
    real = deep_size(page)
    assert real / 2 <= page.approximate_bytes() <= real * 2, (real, page.approximate_bytes())


def test_a_page_orjson_cannot_write_is_weighed_all_the_same(wordy_settings):
    """A lone surrogate (an article's text can carry one) stops orjson; the page is weighed from its repr."""
    page = search(SearchIndex(wordy_settings), SearchRequest(q="harbour"))
    odd = dataclasses.replace(page, hits=[dataclasses.replace(h, title="harbour \ud800" * 50) for h in page.hits])
    with pytest.raises(TypeError):
        orjson.dumps(odd)
    real = deep_size(odd)
    assert real / 2 <= odd.approximate_bytes() <= real * 2
