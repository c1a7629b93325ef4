"""The search core on a real index: each query form, snippets, escaping, suggestions, filters, sort, paging."""
from __future__ import annotations

import dataclasses
import datetime
import re
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from conftest import make_settings, page, search_ids, write
from searchsvc import search as searching
from searchsvc.errors import BadRequest, NotFound
from searchsvc.indexer import reindex
from searchsvc.openapi import ISO_DATE_PATTERN
from searchsvc.query import parse
from searchsvc.search import SearchIndex, SearchRequest, get_article, request_from_params, search

DOCS = {
    "budget.html": ("Council approves budget", "The city council approved the annual budget after a long debate about roads.", "2024-03-01", "Harbor Gazette", "Ana Ruiz"),
    "mention.html": ("Summer fair returns", "The fair returns in June. A council spokesperson said the budget for it was small.", "2023-06-10", "Valley Courier", "Tom Hale"),
    "strike.html": ("Dock workers strike", "Dock workers are striking for higher pay; the strikes closed the port.", "2025-01-20", "Harbor Gazette", None),
    "rail.html": ("Light rail line opens", "The new light rail line opened with free rides on the tramway.", "2022-09-09", "Metro Daily", "Ana Ruiz"),
    "rail-old.html": ("Rail plans shelved", "Plans for light and heavy rail were shelved by the region.", "2021-02-02", "Metro Daily", None),
    "xss.html": ("Tags &lt;b&gt;in&lt;/b&gt; &amp; titles", "A story quoting &lt;script&gt;alert(1)&lt;/script&gt; in the council minutes.", "2024-05-05", "Valley Courier", None),
    "undated.html": ("Library reopens", "The library reopened; the council thanked volunteers.", None, None, None),
}


@pytest.fixture(scope="module")
def ix(tmp_path_factory) -> SearchIndex:
    root = tmp_path_factory.mktemp("search")
    for name, (title, body, date, source, author) in DOCS.items():
        write(root / "src" / name, page(title, body, date=date, source=source, author=author))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return SearchIndex(settings)


def ids(ix, q, **kw):
    return search_ids(ix, q, **kw)


@pytest.mark.parametrize("q, expected", [
    ("council budget", ["budget.html", "mention.html",           # every word (title match first),
                        "undated.html", "xss.html"]),               # then articles with some of them
    ("striking", ["strike.html"]),                                  # stemmed
    ('"light rail"', ["rail.html"]),                              # "light and heavy rail" is not the phrase
    ('"rail line"', ["rail.html"]),
    ("rail -tramway", ["rail-old.html"]),
    ('rail -"free rides"', ["rail-old.html"]),
    ("tramway OR strike", {"rail.html", "strike.html"}),
    ("title:rail", {"rail-old.html", "rail.html"}),
    ("author:ruiz", {"budget.html", "rail.html"}),
    ("tram*", ["rail.html"]),
    ("zzzz*", []),
])
def test_query_forms(ix, q, expected):
    found = ids(ix, q)
    assert (set(found) if isinstance(expected, set) else found) == expected


def test_short_query_falls_back_to_any_word(ix):
    assert ids(ix, "tramway volunteers") and set(ids(ix, "tramway volunteers")) == {"rail.html", "undated.html"}


@pytest.mark.parametrize("q", ['what is "the council', "(budget) - : * ? council", 'title:', "-", "OR", '"', "C++ / C#?", "x" * 1500])
def test_stray_syntax_never_fails(ix, q):
    result = search(ix, SearchRequest(q=q))
    assert result.total >= 0


def test_stray_punctuation_gives_the_same_ranking_as_the_words(ix):
    assert ids(ix, "council? (budget):") == ids(ix, "council budget")


def test_snippet_marks_every_form_and_escapes_the_rest(ix):
    hit = search(ix, SearchRequest(q="strike")).hits[0]
    assert "<mark>striking</mark>" in hit.snippet and "<mark>strikes</mark>" in hit.snippet
    xss = search(ix, SearchRequest(q="minutes")).hits[0]
    assert "<script>" not in xss.snippet and "&lt;script&gt;" in xss.snippet
    assert "<mark>minutes</mark>" in xss.snippet
    assert xss.title == "Tags <b>in</b> & titles"  # plain text; the doors escape it


def test_suggestion_for_a_misspelled_word(ix):
    result = search(ix, SearchRequest(q="tramwya"))  # nothing matches: the correction's hits are shown
    assert (result.suggestion, result.corrected, [h.id for h in result.hits]) == ("tramway", True, ["rail.html"])
    partly = search(ix, SearchRequest(q="tramwya rides"))  # something matches: only suggested
    assert (partly.suggestion, partly.corrected, partly.total) == ("tramway rides", False, 1)
    assert search(ix, SearchRequest(q="tramway")).suggestion is None


def test_empty_query_lists_newest_first_undated_last(ix):
    assert ids(ix, "", per_page=20) == [
        "strike.html", "xss.html", "budget.html", "mention.html", "rail.html", "rail-old.html", "undated.html"]


def test_sort_by_date(ix):
    assert ids(ix, "council", sort="date") == ["xss.html", "budget.html", "mention.html", "undated.html"]


def test_filters_by_source_and_dates(ix):
    assert set(ids(ix, "", sources=("Metro Daily",))) == {"rail.html", "rail-old.html"}
    assert set(ids(ix, "", sources=("Metro Daily", "Valley Courier"))) == {"rail.html", "rail-old.html", "mention.html", "xss.html"}
    from datetime import date
    assert ids(ix, "", date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)) == ["xss.html", "budget.html"]
    assert ids(ix, "", date_from=date(2024, 3, 1), date_to=date(2024, 3, 1)) == ["budget.html"]


def test_facets_are_exact_counts(ix):
    result = search(ix, SearchRequest(q="council"))
    assert result.total == 4
    # the articles without a source or a date are a bucket of their own (last), so each facet adds up to the total
    assert [(f.value, f.count, f.missing) for f in result.facets["source"]] == [
        ("Valley Courier", 2, False), ("Harbor Gazette", 1, False), ("", 1, True)]
    assert [(f.value, f.count, f.missing) for f in result.facets["year"]] == [
        ("2024", 2, False), ("2023", 1, False), ("", 1, True)]


def test_paging(ix):
    first = search(ix, SearchRequest(q="", per_page=3, page=1))
    third = search(ix, SearchRequest(q="", per_page=3, page=3))
    assert (first.total, first.pages, len(first.hits)) == (7, 3, 3)
    assert [h.id for h in third.hits] == ["undated.html"]
    beyond = search(ix, SearchRequest(q="", per_page=3, page=9))
    assert beyond.hits == [] and beyond.total == 7


@pytest.mark.parametrize("explain", [False, True])
def test_json_shape_is_every_field_of_the_records(sample_index, explain):
    page = search(sample_index, SearchRequest(q="hospital data", explain=explain, per_page=3))
    expected = dataclasses.asdict(page)
    for hit in expected["hits"]:
        if hit["explain"] is None:
            del hit["explain"]
    assert any(hit.duplicates for hit in page.hits) and page.facets["source"]
    assert page.to_dict() == expected


def test_hit_fields(ix):
    hit = search(ix, SearchRequest(q="dock workers")).hits[0]
    assert (hit.id, hit.title, hit.source, hit.published) == ("strike.html", "Dock workers strike", "Harbor Gazette", "2025-01-20T00:00:00Z")
    assert hit.score > 0


@pytest.mark.parametrize("params, code", [
    ({"page": ["0"]}, "bad_page"),
    ({"page": ["abc"]}, "bad_page"),
    ({"page": ["100000"]}, "bad_page"),
    ({"per_page": ["0"]}, "bad_per_page"),
    ({"per_page": ["101"]}, "bad_per_page"),
    ({"sort": ["size"]}, "bad_sort"),
    ({"from": ["yesterday"]}, "bad_from"),
    ({"to": ["2024-13-45"]}, "bad_to"),
    ({"from": ["2024-05-01"], "to": ["2024-01-01"]}, "bad_date_range"),
    ({"q": ["x" * 5000]}, "query_too_long"),
])
def test_bad_parameters(params, code):
    with pytest.raises(BadRequest) as err:
        request_from_params(params, make_settings("unused"))
    assert err.value.code == code


@pytest.mark.parametrize("name, raw, expected", [
    ("to", "2024-13", None), ("from", "2024-00", None), ("to", "2024-12", datetime.date(2024, 12, 31)),
    ("to", "2024-02", datetime.date(2024, 2, 29)), ("to", "2023-02", datetime.date(2023, 2, 28)), ("from", "2023-02", datetime.date(2023, 2, 1)),
    ("to", "2023-02-29", None), ("to", "2024-02-29", datetime.date(2024, 2, 29)), ("from", "2024-04-31", None),
    ("from", "2024", datetime.date(2024, 1, 1)), ("to", "2024", datetime.date(2024, 12, 31)),
    ("from", "0000", datetime.date.min), ("to", "0000", datetime.date.min), ("from", "0000-02-29", datetime.date.min), ("to", "0000-13", None),
    ("from", "2024-01-01T10:00", None), ("from", "20240101", None), ("from", "2024-1-1", None),
    ("from", " 2024", None), ("from", "2024-01-01x", None), ("to", "９９９９", None),
])
def test_dates_are_read_as_written_or_refused(name, raw, expected):
    if expected is None:
        with pytest.raises(BadRequest) as err:
            request_from_params({name: [raw]}, make_settings("unused"))
        assert err.value.code == f"bad_{name}"
    else:
        req = request_from_params({name: [raw]}, make_settings("unused"))
        assert (req.date_from if name == "from" else req.date_to) == expected


@given(st.one_of(st.from_regex(ISO_DATE_PATTERN, fullmatch=True), st.text(alphabet="0123456789-T ", max_size=12)),
       st.sampled_from(["from", "to"]))
@hsettings(max_examples=300, deadline=None, database=None)
def test_dates_accepted_are_those_the_openapi_description_allows_that_the_calendar_has(raw, name):
    described = re.fullmatch(ISO_DATE_PATTERN.strip("^$"), raw) is not None
    exists = raw == "" or described and _calendar_has(raw)  # an empty field (a form's) is no filter
    try:
        request_from_params({name: [raw]}, make_settings("unused"))
        accepted = True
    except BadRequest:
        accepted = False
    assert accepted == exists, raw


def _calendar_has(raw: str) -> bool:
    """Whether the day (if any) is in its month; year 0000 is a leap year."""
    parts = raw.split("-")
    if len(parts) < 3:
        return True
    year = int(parts[0]) or 2000
    try:
        datetime.date(year, int(parts[1]), int(parts[2]))
    except ValueError:
        return False
    return True


def test_request_from_params_reads_repeated_sources_and_dates():
    req = request_from_params({"q": ["x"], "source": ["A", "B", "A"], "from": ["2024-01-02"], "to": ["2024"]}, make_settings("unused"))
    assert req.sources == ("A", "B") and str(req.date_from) == "2024-01-02" and str(req.date_to) == "2024-12-31"


def test_a_phrase_longer_than_the_limit_matches_on_its_first_words(tmp_path):
    words = [f"word{i}" for i in range(40)]
    write(tmp_path / "src" / "a.txt", "Long sentence\n\n" + " ".join(words) + ".\n")
    settings = make_settings(tmp_path / "index", max_phrase_words=32)
    reindex(settings, [tmp_path / "src"])
    quoted = '"' + " ".join(words[:32] + ["elsewhere"] * 8) + '"'  # the first 32 words, then others
    first_words = search(SearchIndex(settings), SearchRequest(q=quoted))
    assert first_words.total == 1 and not first_words.relaxed
    # all forty words are a phrase no article has: its words answer instead, and the response says so
    assert search(SearchIndex(settings.replace(max_phrase_words=40)), SearchRequest(q=quoted)).relaxed


def test_get_article(ix):
    article = get_article(ix, "rail.html")
    assert article.title == "Light rail line opens" and "tramway" in article.body
    with pytest.raises(NotFound):
        get_article(ix, "nope.html")


@pytest.mark.parametrize("text, words, groups, excluded", [
    ("council budget", ["council", "budget"], 0, 0),
    ('"light rail" -bus', [], 1, 1),
    ("a OR b c", ["c"], 1, 0),
    ("title: x", ["title", "x"], 0, 0),
    ("what? (is) this-thing", ["what", "is", "this", "thing"], 0, 0),
])
def test_parse(text, words, groups, excluded):
    parsed = parse(text)
    assert (parsed.words, len(parsed.groups), len(parsed.excluded)) == (words, groups, excluded)


# --- facets that add up: the "no value" buckets, chosen through the URL, the API and cursors ---------------

@pytest.mark.parametrize("q", ["", "council", "flood", "strike OR ferry", "zzyzxqwv"])
def test_every_facet_adds_up_to_the_articles_counted(sample_index, q):
    result = search(sample_index, SearchRequest(q=q, per_page=3))
    for name, values in result.facets.items():
        assert sum(f.count for f in values) == result.articles, name
        assert [f.missing for f in values] == sorted(f.missing for f in values)  # the bucket comes last
    assert result.total <= result.articles


@pytest.mark.parametrize("missing, check", [
    (["source"], lambda h: h.source is None),
    (["date"], lambda h: h.published is None),
    (["source", "date"], lambda h: h.source is None and h.published is None),
])
def test_missing_buckets_filter_and_count_as_their_facet_said(sample_index, sample_settings, missing, check):
    everything = search(sample_index, SearchRequest(q="", per_page=100, collapse=False))
    req = request_from_params({"q": [""], "missing": missing, "per_page": ["100"], "collapse": ["false"]},
                              sample_settings)
    chosen = search(sample_index, req)
    assert chosen.hits and all(check(h) for h in chosen.hits)
    assert sorted(h.id for h in chosen.hits) == sorted(h.id for h in everything.hits if check(h))
    if len(missing) == 1:
        bucket = next(f for f in everything.facets["source" if missing == ["source"] else "year"] if f.missing)
        assert bucket.count == chosen.total


def test_missing_source_joins_the_chosen_sources(sample_index):
    named = search(sample_index, SearchRequest(q="", sources=("Coastline Post",), per_page=100))
    unknown = search(sample_index, SearchRequest(q="", missing=("source",), per_page=100))
    both = search(sample_index, SearchRequest(q="", sources=("Coastline Post",), missing=("source",), per_page=100))
    assert both.articles == named.articles + unknown.articles
    assert {h.source for h in both.hits} == {"Coastline Post", None}
    # a date range and the undated articles: the range or no date at all
    ranged = search(sample_index, SearchRequest(q="", date_from=date(2024, 1, 1), date_to=date(2024, 12, 31),
                                                missing=("date",), per_page=100, collapse=False))
    assert {(h.published or "none")[:4] for h in ranged.hits} == {"2024", "none"}


def test_missing_filter_follows_the_cursor(sample_index):
    first = search(sample_index, SearchRequest(q="", missing=("source",), per_page=2))
    seen, result = [h.id for h in first.hits], first
    while result.next:
        result = search(sample_index, SearchRequest(after=result.next))
        assert result.offset == len(seen) and all(h.source is None for h in result.hits)
        seen.extend(h.id for h in result.hits)
    assert len(seen) == first.total and len(set(seen)) == len(seen)


@pytest.mark.parametrize("values", [["nothing"], ["source", "author"]])
def test_an_unknown_missing_bucket_is_a_400(values, sample_settings):
    with pytest.raises(BadRequest) as caught:
        request_from_params({"missing": values}, sample_settings)
    assert caught.value.code == "bad_missing"


def test_the_empty_query_says_it_lists_the_newest_first(sample_index):
    assert search(sample_index, SearchRequest(q="")).sort == "date"
    assert search(sample_index, SearchRequest(q="-budget")).sort == "date"
    assert search(sample_index, SearchRequest(q="council")).sort == "relevance"
    assert search(sample_index, SearchRequest(q="", sort="recent")).sort == "recent"


def test_titles_are_escaped_then_marked(ix):
    hit = search(ix, SearchRequest(q="titles")).hits[0]
    assert hit.title_html == "Tags &lt;b&gt;in&lt;/b&gt; &amp; <mark>titles</mark>"
    assert search(ix, SearchRequest(q="")).hits[0].title_html == search(ix, SearchRequest(q="")).hits[0].title


@hsettings(max_examples=200, deadline=None)
@given(st.datetimes())
def test_a_published_date_is_written_to_the_whole_second(value):
    assert searching._iso(value) == value.replace(microsecond=0).isoformat() + "Z"


@pytest.mark.parametrize("when", [
    datetime.datetime(1970, 1, 1), datetime.datetime(1969, 12, 31, 23, 59, 59), datetime.datetime(1, 1, 1),
    datetime.datetime(9999, 12, 31, 23, 59, 59), datetime.datetime(1987, 3, 2, 14, 5, 9),
    datetime.datetime(2024, 2, 29, 0, 0, 1),
])
def test_a_versions_date_is_written_as_the_articles_own(when):
    """Near-duplicate versions' dates come from the datekey column, all at once: the same text as a hit's."""
    from searchsvc import engine, schema
    from searchsvc.search import _iso, _iso_seconds
    key = int((when - engine.EPOCH).total_seconds())
    assert _iso_seconds(np.array([key, schema.UNDATED], np.int64)) == [_iso(when), None]
