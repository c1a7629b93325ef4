"""What goes past the hosted engines: deep cursors, exact counts, passages, wire copies, recent, explain."""
from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from conftest import make_settings, page, run_cli, search_ids, write
from searchsvc import schema
from searchsvc.errors import BadRequest
from searchsvc.indexer import reindex
from searchsvc.paging import Cursor, CursorCodec, recent_factors
from searchsvc.search import SearchIndex, SearchRequest, get_article, search
from searchsvc.store import IndexHome
from searchsvc.web import create_app

SAMPLE_GROUPS = [
    ["harbor-gazette/2025-02-11-hospital-data-breach.html", "northfield-observer/2025-02-12-hospital-cyberattack.html"],
]


def follow(ix: SearchIndex, req: SearchRequest, between_pages=None) -> list[str]:
    """Every id, page after page through ``next``."""
    ids, result = [], search(ix, req)
    n = 0
    while True:
        ids.extend(h.id for h in result.hits)
        if not result.next:
            return ids
        n += 1
        if between_pages:
            between_pages(n)
        result = search(ix, SearchRequest(after=result.next))


# --- cursors -------------------------------------------------------------------

@pytest.mark.parametrize("collapse", [True, False])
@pytest.mark.parametrize("sort", ["relevance", "date", "recent"])
@pytest.mark.parametrize("q", ["", "council", "strike OR flood",
                               "school drivers pay",           # tiers: every word, then most words
                               "hospital patients records",    # tiers over a near-duplicate group
                               '"no automation without consent"'])  # an operator's fallback
def test_cursor_reaches_every_hit_once_in_order(sample_index, q, sort, collapse):
    first = search(sample_index, SearchRequest(q=q, sort=sort, per_page=100, collapse=collapse))
    everything = [h.id for h in first.hits]
    paged = follow(sample_index, SearchRequest(q=q, sort=sort, per_page=3, collapse=collapse))
    assert paged == everything and len(set(paged)) == len(paged) == first.total


def test_a_cursor_of_another_kind_of_ordering_is_a_400(client, sample_settings):
    token = client.get("/api/search?q=council&per_page=2").get_json()["next"]
    codec = CursorCodec(IndexHome(sample_settings.index).cursor_key())
    cursor = codec.decode(token)
    tiered = codec.encode(replace(cursor, q="school drivers pay"))  # a tiered query's cursor, its key without the tier
    response = client.get("/api/search", query_string={"after": tiered})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_after"


def test_cursor_keeps_filters_and_the_last_page_has_no_next(client):
    data = client.get("/api/search?q=&per_page=2&source=Lakeside Herald").get_json()
    seen = [h["id"] for h in data["hits"]]
    while data["next"]:
        data = client.get("/api/search", query_string={"after": data["next"]}).get_json()
        assert all(h["source"] == "Lakeside Herald" for h in data["hits"])
        seen += [h["id"] for h in data["hits"]]
    assert len(seen) == len(set(seen)) == 5 and data["next"] is None


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
cursors = st.builds(
    Cursor, q=texts | st.just("oil " * 30), sort=st.sampled_from(["relevance", "date", "recent"]),
    sources=st.lists(texts, max_size=3).map(tuple), date_from=st.none() | st.just("2024-01-01"),
    date_to=st.none() | texts, per_page=st.integers(1, 100), collapse=st.booleans(),
    key=st.tuples(st.integers(0, 3), st.floats(allow_nan=False, allow_infinity=False), texts),
    generation=texts, missing=st.lists(st.sampled_from(["source", "date"]), max_size=2).map(tuple),
    offset=st.integers(0, 10**6))


@settings(max_examples=300, deadline=None)
@given(cursors, st.text(min_size=1, max_size=50))
def test_a_cursor_token_is_itsdangerous_own(cursor, secret):
    """Tokens are made in one pass, byte for byte what ``URLSafeSerializer.dumps`` makes when it does not compress,
    and itsdangerous's own (compressed or not) are read: every server, old or new, reads every other's."""
    codec = CursorCodec(secret)
    serializer = URLSafeSerializer(secret, salt=CursorCodec.SALT, signer_kwargs={"digest_method": hashlib.sha256})
    token = codec.encode(cursor)
    uncompressed = base64_encode(Serializer.dump_payload(serializer, cursor.to_json()))  # its JSON, not zlib's
    assert token == serializer.make_signer().sign(uncompressed).decode("ascii")
    assert serializer.loads(token) == json.loads(json.dumps(cursor.to_json()))
    assert codec.encode(cursor) == token  # the keyed MAC is copied for each token, never changed
    assert _decoded(codec, serializer.dumps(cursor.to_json())) == _decoded(codec, token)  # compressed or not


def _decoded(codec: CursorCodec, token: str):
    """The cursor ``token`` holds, or the 400 it gets (a cursor of a shape no server gives out)."""
    try:
        return codec.decode(token)
    except BadRequest as exc:
        return str(exc)


@pytest.mark.parametrize("token", ["nonsense", "eyJ2IjoxfQ", "e30", "%%%", "x" * 300])
def test_bad_cursor_is_a_400(client, token):
    response = client.get("/api/search", query_string={"after": token})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_after"


def test_search_all_streams_every_hit(sample_settings, sample_index):
    out = run_cli("search", "council", "--all", "--index", sample_settings.index)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [h["id"] for h in lines] == search_ids(sample_index, "council", per_page=100)
    assert all({"id", "title", "snippet", "snippets", "duplicates"} <= set(h) for h in lines)


# --- every hit exactly once: a generated corpus of stories with many copies -----------------

STORY_WORDS = [f"w{i}" for i in range(3000)]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Stories with 1 to 60 verbatim copies each (other ids, sources, titles, dates; some undated, some on
    the same day), the word ``officials`` in most; a copy's story is its group, known from the construction.

    Story 0 has 60 copies, the best score for ``officials`` and the newest dates: the first page of
    any order is all one story.
    """
    rnd = random.Random(16)
    records, story_of = [], {}
    for story in range(60):
        body = " ".join(rnd.choices(STORY_WORDS, k=60)) + (" officials said" if story % 5 else "")
        n = rnd.choice([1, 1, 2, 3, 8, 25])
        if story == 0:
            body, n = body + " officials officials officials", 60
        for copy in range(n):
            doc_id = f"s{story:02d}-c{copy:02d}"
            year = 2024 if story == 0 else 2018 + (story + copy) % 6
            published = None if copy % 7 == 3 else f"{year}-0{1 + copy % 9}-1{copy % 3}"
            record = {"id": doc_id, "title": f"Story {story} copy {copy % 4}", "body": body,
                      "source": ["Wire", "Herald", "Post"][copy % 3]}
            records.append({**record, "published": published} if published else record)
            story_of[doc_id] = story
    rnd.shuffle(records)
    root = tmp_path_factory.mktemp("copies")
    write(root / "src/feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(root / "index")
    assert reindex(settings, [root / "src"]).documents == len(records)
    return SearchIndex(settings), records, story_of


def api_follow(client, params: dict) -> tuple[list[dict], list[dict]]:
    """(every hit, every response), page after page through ``next`` over the JSON API."""
    data = client.get("/api/search", query_string=params).get_json()
    pages = [data]
    while data["next"]:
        data = client.get("/api/search", query_string={"after": data["next"]}).get_json()
        pages.append(data)
    return [h for p in pages for h in p["hits"]], pages


@pytest.mark.slow
@pytest.mark.parametrize("q", ["officials", ""])
@pytest.mark.parametrize("collapse", [True, False], ids=["collapse", "every-copy"])
@pytest.mark.parametrize("sort", ["relevance", "date", "recent"])
def test_following_next_reaches_every_hit_exactly_once(copies, q, collapse, sort):
    ix, records, story_of = copies
    matching = [r["id"] for r in records if not q or q in r["body"].split()]
    order = "date" if not q and sort == "relevance" else sort  # the empty query lists the newest first
    dated = [datetime.fromisoformat(r["published"]).replace(tzinfo=timezone.utc) for r in records if "published" in r]
    newest = (max(dated), min(dated))  # what recent's decay is measured from
    app = create_app(ix.settings)
    client = app.test_client()
    every_copy = {h["id"]: h for h in api_follow(client, {"q": q, "sort": sort, "collapse": "false"})[0]}
    orders = []
    for per_page in (1, 7, 100):
        hits, pages = api_follow(client, {"q": q, "sort": sort, "per_page": per_page,
                                          "collapse": str(collapse).lower()})
        ids = [h["id"] for h in hits]
        assert len(ids) == len(set(ids)), (per_page, "a hit came twice")
        if collapse:  # each story once, as its best copy
            assert sorted(story_of[i] for i in ids) == sorted({story_of[i] for i in matching}), per_page
            for hit in hits:
                rivals = [h for i, h in every_copy.items() if story_of[i] == story_of[hit["id"]]]
                assert all(_in_order(hit, h, order, newest) for h in rivals), hit["id"]
        else:
            assert sorted(ids) == sorted(matching), per_page
        assert all(p["total"] == len(ids) for p in pages), per_page
        assert [len(p["hits"]) for p in pages[:-1]] == [per_page] * (len(pages) - 1)
        assert pages[-1]["next"] is None and all(p["next"] for p in pages[:-1])
        assert all(_in_order(a, b, order, newest) for a, b in zip(hits, hits[1:])), per_page
        orders.append(ids)
    assert orders[0] == orders[1] == orders[2]  # the same order whatever the page size
    app.extensions["searchsvc"].close()


def _in_order(a: dict, b: dict, sort: str, newest: tuple[datetime, datetime]) -> bool:
    """Whether hit ``a`` may come before hit ``b`` (scores as the API rounds them, so within a rounding)."""
    if sort == "date":
        return (a["published"] is None, _negated(a["published"])) <= (b["published"] is None, _negated(b["published"]))
    return _ranked(a, sort, newest) >= _ranked(b, sort, newest) - 1e-3


def _ranked(hit: dict, sort: str, dates: tuple[datetime, datetime]) -> float:
    """The score a hit is ordered by: relevance, or for ``recent`` relevance times the age decay
    (``paging.recent_factors``: from the newest article, the undated as old as the oldest)."""
    if sort != "recent":
        return hit["score"]
    newest, oldest = (int(d.timestamp()) for d in dates)
    published = datetime.fromisoformat(hit["published"].replace("Z", "+00:00")) if hit["published"] else None
    key = int(published.timestamp()) if published else schema.UNDATED
    return hit["score"] * float(recent_factors(np.array([key]), newest, 30.0, oldest)[0])


def _negated(iso: str | None) -> tuple:
    return tuple(-ord(c) for c in iso or "")


# --- a generated corpus of tens of thousands ------------------------------------------

N_DOCS = 12_000
VOCAB = [f"v{i}" for i in range(800)]
SOURCES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]


def generated_records(n: int, seed: int = 11, start: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    records = []
    for i in range(start, start + n):
        words = rnd.choices(VOCAB, k=12) + (["common"] if i % 3 else [])
        records.append({
            "id": f"g{i:05d}", "title": " ".join(rnd.choices(VOCAB, k=3)), "text": " ".join(words),
            "published": f"{2015 + i % 9}-{1 + i % 12:02d}-{1 + i % 28:02d}", "source": SOURCES[i % 5],
        })
    return records


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    records = generated_records(N_DOCS)
    write(root / "src/feed.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    settings = make_settings(root / "index", workers=2)
    assert reindex(settings, [root / "src"]).documents == N_DOCS
    return settings, records, root


@pytest.mark.slow
@pytest.mark.parametrize("word", ["common", "v7", "v123", "v799"])
def test_totals_and_facets_are_exact(big, word):
    settings, records, _ = big
    matching = [r for r in records if word in r["text"].split() or word in r["title"].split()]
    result = search(SearchIndex(settings), SearchRequest(q=word, collapse=False))
    assert result.total == len(matching)
    assert {f.value: f.count for f in result.facets["source"]} == Counter(r["source"] for r in matching)
    assert {f.value: f.count for f in result.facets["year"]} == Counter(r["published"][:4] for r in matching)


@pytest.mark.slow
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_deep_cursor_has_no_duplicates_or_gaps_while_a_reindex_commits(big, sort):
    settings, records, root = big
    ix = SearchIndex(settings.replace(max_per_page=200))  # the cursor is held to the limits of its request
    expected = [r["id"] for r in records if "common" in r["text"].split()]
    committed = threading.Event()

    def reindex_midway(n):
        if n == 5:  # add documents that match, and delete one, while the cursor is open
            extra = generated_records(300, seed=99, start=N_DOCS)
            write(root / "src/more.jsonl", "\n".join(json.dumps(r) for r in extra) + "\n")
            assert run_cli("reindex", "--index", settings.index).returncode == 0
            committed.set()

    paged = follow(ix, SearchRequest(q="common", sort=sort, per_page=200, collapse=False), reindex_midway)
    assert committed.is_set()
    assert len(paged) == len(set(paged)) == len(expected)  # the snapshot the cursor started on
    assert set(paged) == set(expected)
    after = search(ix, SearchRequest(q="common", collapse=False))
    assert after.total > len(expected)  # a new search sees the new generation
    (root / "src/more.jsonl").unlink()
    reindex(settings)


# --- passages, near-duplicates, recent, explain ------------------------------------------

def test_long_article_gets_up_to_three_passages_with_offsets(sample_index):
    hit = search(sample_index, SearchRequest(q="council budget")).hits[0]
    assert 2 <= len(hit.snippets) <= 3 and hit.snippet == hit.snippets[0].text
    body = get_article(sample_index, hit.id).body
    for passage in hit.snippets:
        plain = passage.text.replace("<mark>", "").replace("</mark>", "").strip("… ")
        import html
        first_words = " ".join(html.unescape(plain).split()[:4])
        assert " ".join(body[passage.offset:].split()[:4]) == first_words
        assert "<mark>" in passage.text


def test_wire_copies_are_shown_once_with_their_versions(sample_index):
    group = SAMPLE_GROUPS[0]
    result = search(sample_index, SearchRequest(q="hospital patients records"))
    shown = [h for h in result.hits if h.id in group]
    assert len(shown) == 1
    assert [v.id for v in shown[0].duplicates] == [i for i in group if i != shown[0].id]
    for version in shown[0].duplicates:  # from the columns, as the article itself says
        article = get_article(sample_index, version.id)
        assert (version.title, version.source, version.published) == (article.title, article.source, article.published)
    both = search(sample_index, SearchRequest(q="hospital patients records", collapse=False))
    assert {h.id for h in both.hits} >= set(group) and all(h.duplicates == [] for h in both.hits)
    assert both.total == result.total + 1


def test_three_way_syndication_is_one_hit(sample_index, expectations):
    group = expectations["_groups"][1]
    hits = search(sample_index, SearchRequest(q="brightloop")).hits
    assert len([h for h in hits if h.id in group]) == 1
    assert len(next(h for h in hits if h.id in group).duplicates) == 2


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    root = tmp_path_factory.mktemp("recent")
    write(root / "src/old.html", page("Harbour dredging plan", "The harbour dredging plan for the harbour was approved; harbour pilots welcomed the harbour works.", date="2020-01-10"))
    write(root / "src/new.html", page("Ferry timetable change", "A ferry change affects the harbour from next week, officials said.", date="2024-06-01"))
    write(root / "src/mid.html", page("Fish market", "The fish market by the harbour reopened.", date="2024-05-01"))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return SearchIndex(settings)


def test_recent_blends_relevance_with_age(dated):
    assert search_ids(dated, "harbour")[0] == "old.html"                 # pure relevance
    assert search_ids(dated, "harbour", sort="recent")[0] == "new.html"   # fresh and still relevant
    assert search_ids(dated, "harbour", sort="date") == ["new.html", "mid.html", "old.html"]


def test_explain_says_what_matched_where_and_how(sample_index):
    result = search(sample_index, SearchRequest(q="strikes dockworkers", explain=True))
    matched = {(m["term"], m["field"], m["via"]) for h in result.hits for m in h.explain["matched"]}
    assert ("strikes", "body", "stem") in matched or ("strikes", "title", "stem") in matched
    fixed = search(sample_index, SearchRequest(q="desalinaton", explain=True))
    assert fixed.corrected and fixed.hits
    assert {"term": "desalination", "field": "title", "via": "correction"} in fixed.hits[0].explain["matched"]
    assert "explain" not in search(sample_index, SearchRequest(q="strikes")).to_dict()["hits"][0]


def test_api_carries_the_new_fields(client):
    data = client.get("/api/search?q=council&per_page=2&explain=true").get_json()
    assert data["next"] and data["corrected"] is False
    hit = data["hits"][0]
    assert isinstance(hit["snippets"], list) and {"text", "offset"} == set(hit["snippets"][0])
    assert hit["duplicates"] == [] or {"id", "title", "source", "published"} == set(hit["duplicates"][0])
    assert {"term", "field", "via"} == set(hit["explain"]["matched"][0])
    assert client.get("/api/search?q=x&collapse=maybe").status_code == 400


WIRE_TEXT = ("The regional transport board approved a new timetable for the island ferry on Tuesday. "
             "Sailings will run every forty minutes from May, and a late boat will be added on Fridays. "
             "The board said the change follows a survey of commuters and freight operators. ") * 3


@pytest.fixture(scope="module")
def wire_copies(tmp_path_factory):
    """One wire story three times: bare text first (by id), then a page naming only its date, then a full page."""
    root = tmp_path_factory.mktemp("wire-copies")
    write(root / "src/a-bare.txt", "Island ferry timetable approved\n\n" + WIRE_TEXT)
    write(root / "src/b-dated.html", page("Island ferry timetable approved", WIRE_TEXT, date="2024-04-02"))
    write(root / "src/c-full.html", page("Island ferry timetable approved", WIRE_TEXT, date="2024-04-02",
                                         source="Coast Post", author="Mira Lund"))
    write(root / "src/other.html", page("Harbour crane", "A new harbour crane was delivered for the ferry pier.",
                                        date="2024-05-05", source="Coast Post"))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return SearchIndex(settings)


@pytest.mark.parametrize("sort", ["relevance", "date", "recent"])
def test_a_group_shows_its_best_described_version(wire_copies, sort):
    result = search(wire_copies, SearchRequest(q="ferry timetable", sort=sort))
    shown = [h for h in result.hits if h.id.endswith(("bare.txt", "dated.html", "full.html"))]
    assert [h.id for h in shown] == ["c-full.html"]
    assert (shown[0].source, shown[0].author) == ("Coast Post", "Mira Lund")
    assert sorted(v.id for v in shown[0].duplicates) == ["a-bare.txt", "b-dated.html"]
    # the story keeps the place and score of its best hit
    every = search(wire_copies, SearchRequest(q="ferry timetable", sort=sort, collapse=False))
    best = next(h for h in every.hits if h.id in ("a-bare.txt", "b-dated.html", "c-full.html"))
    assert shown[0].score == best.score


def test_the_best_described_version_must_match_the_query(wire_copies):
    only_bare = search(wire_copies, SearchRequest(q="ferry timetable", date_from=None, missing=("date",)))
    assert [h.id for h in only_bare.hits] == ["a-bare.txt"]  # the filter leaves one version: that one


@pytest.fixture(scope="module")
def years_apart(tmp_path_factory):
    """The same article (so the same relevance) dated across six years; ids sort oldest first."""
    root = tmp_path_factory.mktemp("years")
    for i, day in enumerate(["2019-03-01", "2021-03-01", "2022-03-01", "2023-09-01", "2024-03-01", "2024-06-01"]):
        write(root / f"src/{i}-{day}.html", page("Quay repairs", "The quay repairs were finished, the harbour office "
                                                  f"said. Report number {i}.", date=day))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return SearchIndex(settings)


def test_recent_keeps_equally_relevant_articles_in_date_order_across_years(years_apart):
    found = search(years_apart, SearchRequest(q="quay repairs", sort="recent", collapse=False, per_page=10)).hits
    assert len({h.score for h in search(years_apart, SearchRequest(q="quay repairs", collapse=False)).hits}) <= 2
    assert [h.published[:10] for h in found] == ["2024-06-01", "2024-03-01", "2023-09-01", "2022-03-01",
                                                 "2021-03-01", "2019-03-01"]


def test_recent_decay_never_runs_flat_and_halves_at_the_half_life():
    import numpy as np

    from searchsvc import paging

    day = int(paging.SECONDS_PER_DAY)
    ages = np.array([0, 30, 60, 365, 730, 1460, 3650])
    factors = paging.recent_factors(1_000_000_000 - ages * day, 1_000_000_000, half_life_days=30)
    assert factors[0] == 1 and abs(factors[1] - 0.5) < 1e-9
    assert all(np.diff(factors) < 0)
    # doubling an old article's age costs it about the same share at any scale
    ratios = factors[4] / factors[3], factors[5] / factors[4]
    assert all(0.6 < r < 0.8 for r in ratios)


def test_the_port_strike_ferry_story_keeps_its_port_ashby_sentence(sample_index):
    """The issue's case: the story's only sentence with "Port Ashby" was cut just before it."""
    hit = next(h for h in search(sample_index, SearchRequest(q="port strike")).hits
               if h.id == "coastline-post/2024-03-20-pellin-ferry-crews-strike.html")
    assert any("<mark>Port</mark> Ashby" in p.text for p in hit.snippets), [p.text for p in hit.snippets]


@pytest.fixture(scope="module")
def older_but_closer(tmp_path_factory):
    root = tmp_path_factory.mktemp("older")
    write(root / "src/a-2022.html", page("Quay works", "The quay repairs began, the quay office said, after storms.",
                                         date="2022-03-01"))
    write(root / "src/b-2024.html", page("Harbour works", "The quay repairs began, the harbour office said, after storms.",
                                         date="2024-01-01"))
    write(root / "src/c-newest.html", page("Ferry timetable", "The summer timetable starts on Monday.", date="2024-06-01"))
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return SearchIndex(settings)


def test_recent_ranks_a_2024_story_above_a_somewhat_more_relevant_2022_one(older_but_closer):
    assert search_ids(older_but_closer, "quay") == ["a-2022.html", "b-2024.html"]            # relevance
    assert search_ids(older_but_closer, "quay", sort="recent") == ["b-2024.html", "a-2022.html"]
