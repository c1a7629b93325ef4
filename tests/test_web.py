"""The search page and the article page through the real Flask app, read as HTML structure."""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from conftest import make_settings, write
from searchsvc.indexer import reindex
from searchsvc.web import create_app

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
HOSTILE_DOCS = [
    {"id": "evil-title", "title": f"Harbour {HOSTILE} pilots", "url": "javascript:alert(3)",
     "source": f"Evil {HOSTILE} Times", "author": f"A. {HOSTILE}", "published": "2024-05-01",
     "body": f"The harbour pilots said {HOSTILE} was printed in the notice. " * 3},
    {"id": "plain-http", "title": "Harbour pilots go http", "url": "http://example.org/pilots",
     "source": "Plain Paper", "published": "2023-02-02", "body": "Harbour pilots and tugboats met on Tuesday."},
    {"id": "no-url", "title": "Harbour pilots without a link", "source": "Plain Paper", "published": "2022-03-03",
     "body": "Harbour pilots held a meeting about tugboats and &amp; entities <b>bold</b>."},
    {"id": "data-url", "title": "Harbour pilots data", "url": "data:text/html,<script>alert(4)</script>",
     "source": "Plain Paper", "body": "Harbour pilots, once more, in a data url."},
]


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "lxml")


def get_soup(client, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return soup_of(response)


def hits(soup) -> list:
    return soup.select("ol.hits > li.hit")


def hit_titles(soup) -> list[str]:
    return [li.select_one(".hit-title a").get_text() for li in hits(soup)]


def query_of(href: str) -> dict:
    return parse_qs(urlsplit(href).query, keep_blank_values=True)


def total_of(soup) -> int:
    strong = soup.select_one("#summary strong.total")
    return int(strong.get_text().replace(",", "")) if strong else 0


def api(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.data
    return response.get_json()


def write_hostile_index(root):
    """An index of ``HOSTILE_DOCS`` under ``root``; returns the index folder."""
    write(root / "docs" / "feed.jsonl", "\n".join(json.dumps(d) for d in HOSTILE_DOCS) + "\n")
    reindex(make_settings(root / "index"), [root / "docs"])
    return root / "index"


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    app = create_app(make_settings(write_hostile_index(tmp_path_factory.mktemp("hostile"))))
    app.config["TESTING"] = True
    return app.test_client()


# --- the page and its landmarks ---------------------------------------------------

def test_home_has_a_labelled_search_form(client):
    soup = get_soup(client, "/")
    form = soup.select_one("header form[role=search]")
    assert form["action"] == "/search" and form["method"] == "get"
    box = form.select_one("input[name=q]")
    assert soup.select_one(f"label[for={box['id']}]").get_text(strip=True)
    assert box.has_attr("autofocus") and box["aria-keyshortcuts"] == "/"
    assert soup.select_one("main#main .intro a[href='/search?q=']")


@pytest.mark.parametrize("url", ["/", "/search?q=strike", "/search?q=&source=Coastline+Post&from=2024-01-01"])
def test_landmarks_labels_and_live_count(client, url):
    soup = get_soup(client, url)
    assert soup.html["lang"] == "en"
    assert soup.select_one("body > header") and soup.select_one("body > main#main") and soup.select_one("body > footer")
    assert soup.select_one("a.skip[href='#main']")
    status = soup.select_one("#summary")
    assert status["role"] == "status" and status["aria-live"] == "polite"
    for field in soup.select("input:not([type=hidden]), select, textarea"):
        assert field.get("aria-label") or soup.select_one(f"label[for='{field['id']}']"), field
    for nav in soup.select("nav, aside"):
        assert nav.get("aria-label"), nav
    h1 = soup.select("h1")
    assert len(h1) == 1


def test_results_show_every_hit_like_the_api(client):
    data = api(client, "/api/search?q=strike")
    soup = get_soup(client, "/search?q=strike")
    assert hit_titles(soup) == [h["title"] for h in data["hits"]]
    assert total_of(soup) == data["total"]
    assert soup.select_one("#summary q").get_text() == "strike"
    assert re.fullmatch(r"in \d+ ms", soup.select_one("#summary .took").get_text())
    for li, hit in zip(hits(soup), data["hits"]):
        meta = li.select_one("p.meta")
        assert meta.select_one(".source").get_text() == hit["source"]
        assert meta.select_one(".author").get_text() == hit["author"]
        time = meta.select_one("time")
        assert time["datetime"] == hit["published"]
        day = date.fromisoformat(hit["published"][:10])
        assert time.get_text() == f"{day:%B} {day.day}, {day.year}"
        marks = [m.get_text().lower() for m in li.select(".snippet mark")]
        assert marks and all(m.startswith("strik") for m in marks)


def test_each_title_links_to_its_url_else_the_article(hostile_client):
    soup = get_soup(hostile_client, "/search?q=harbour+pilots")
    links = {li.select_one(".hit-title a").get_text(): li for li in hits(soup)}
    assert len(links) == len(HOSTILE_DOCS)
    by_id = {d["id"]: d for d in HOSTILE_DOCS}
    expected = {
        "plain-http": "http://example.org/pilots",
        "no-url": "/article/no-url?q=harbour+pilots",
        "evil-title": "/article/evil-title?q=harbour+pilots",
        "data-url": "/article/data-url?q=harbour+pilots",
    }
    for doc_id, href in expected.items():
        li = links[by_id[doc_id]["title"]]
        assert li.select_one(".hit-title a")["href"] == href
        # a hit with an outside link also offers the cleaned text here
        cached = li.select_one("a.cached")
        assert (cached is not None) == href.startswith("http")
    for a in soup.select("a[href]"):
        assert urlsplit(a["href"]).scheme in ("", "http", "https"), a


@pytest.mark.parametrize("url", [
    "/search?q=harbour+pilots",
    "/search?q=harbour&source=" + HOSTILE_DOCS[0]["source"],
    "/search?q=" + HOSTILE,
    "/search?q=harbuor+" + HOSTILE,
    "/article/evil-title?q=alert+harbour",
    "/article/evil-title",
])
def test_hostile_titles_snippets_sources_and_queries_are_text(hostile_client, url):
    soup = get_soup(hostile_client, url)
    main = soup.select_one("main")
    assert not main.select("script, img, iframe, [onerror]")
    assert not main.select(".snippet b, .hit-title b, .meta b, .facet b, h1 b, .body b")
    assert not soup.select("script:not([src])")
    assert HOSTILE in main.get_text() or "alert" in main.get_text()
    for el in main.select("*"):
        assert not any(attr.startswith("on") for attr in el.attrs), el


def test_hostile_facet_value_is_text_and_round_trips(hostile_client):
    soup = get_soup(hostile_client, "/search?q=harbour")
    facet = next(a for a in soup.select("[data-facet=source] a") if "Evil" in a.get_text())
    assert facet.select_one(".value").get_text() == HOSTILE_DOCS[0]["source"]
    chosen = get_soup(hostile_client, facet["href"])
    assert hit_titles(chosen) == [HOSTILE_DOCS[0]["title"]]
    assert chosen.select_one(".chips .chip").get_text() == f"Source: {HOSTILE_DOCS[0]['source']} ×"


def test_snippet_keeps_only_mark_markup(hostile_client):
    soup = get_soup(hostile_client, "/search?q=tugboats")
    snippet = next(li for li in hits(soup) if li.select_one(".hit-title a").get_text() == "Harbour pilots without a link")
    para = snippet.select_one(".snippet")
    assert {el.name for el in para.find_all(True)} == {"mark"}
    assert "<b>bold</b>" in para.get_text()


# --- did-you-mean, facets, dates, sort, pages, empty -----------------------------

def test_did_you_mean_is_a_link_that_searches_the_correction(client):
    soup = get_soup(client, "/search?q=ferri+strik&sort=date")
    link = soup.select_one("p.suggestion a")
    assert link is not None
    corrected = link.get_text()
    assert query_of(link["href"]) == {"q": [corrected], "sort": ["date"]}
    followed = get_soup(client, link["href"])
    assert hits(followed) and followed.select_one("#summary q").get_text() == corrected


def test_source_facets_combine_and_can_be_removed(client):
    soup = get_soup(client, "/search?q=")
    everything = total_of(soup)
    facets = soup.select("[data-facet=source] a")
    assert len(facets) >= 2
    first, second = facets[0], facets[1]
    one = get_soup(client, first["href"])
    count_one = int(first.select_one(".count").get_text())
    assert total_of(one) == count_one
    assert {li.select_one(".source").get_text() for li in hits(one)} == {first.select_one(".value").get_text()}
    # the other sources stay on offer, so a second one can be added (either source)
    add = next(a for a in one.select("[data-facet=source] a") if a.select_one(".value").get_text()
               == second.select_one(".value").get_text())
    assert "selected" not in (add.get("class") or [])
    two = get_soup(client, add["href"])
    names = {first.select_one(".value").get_text(), second.select_one(".value").get_text()}
    # either source; wire copies found in both are shown once, so at most the sum
    assert count_one < total_of(two) <= count_one + int(second.select_one(".count").get_text())
    assert {li.select_one(".source").get_text() for li in hits(two)} <= names
    assert query_of(add["href"])["source"] == [first.select_one(".value").get_text(), second.select_one(".value").get_text()]
    assert len(two.select(".chips .chip")) == 2 and two.select_one("a.clear")
    # a selected facet value is a link that removes it; so is its chip
    selected = [a for a in two.select("[data-facet=source] a.selected")]
    assert len(selected) == 2 and all(a["aria-current"] == "true" for a in selected)
    back_to_one = get_soup(client, two.select(".chips .chip")[1]["href"])
    assert total_of(back_to_one) == count_one
    cleared = get_soup(client, two.select_one("a.clear")["href"])
    assert total_of(cleared) == everything and not cleared.select(".chips")


def test_year_facet_combines_with_source_and_toggles_off(client):
    soup = get_soup(client, "/search?q=")
    year = soup.select_one("[data-facet=year] a")
    value = year.select_one(".value").get_text()
    in_year = get_soup(client, year["href"])
    assert query_of(year["href"])["from"] == [f"{value}-01-01"] and query_of(year["href"])["to"] == [f"{value}-12-31"]
    assert all(t["datetime"].startswith(value) for t in in_year.select(".hit time"))
    assert in_year.select_one("#date-from")["value"] == f"{value}-01-01"
    source = in_year.select_one("[data-facet=source] a")
    both = get_soup(client, source["href"])
    assert total_of(both) == int(source.select_one(".count").get_text())
    assert query_of(source["href"])["from"] == [f"{value}-01-01"]
    off = both.select_one("[data-facet=year] a.selected")
    assert "from" not in query_of(off["href"]) and "source" in query_of(off["href"])


def test_date_range_form_filters_and_bad_dates_are_an_error(client):
    soup = get_soup(client, "/search?q=&from=2023-01-01&to=2024-06-30")
    form = soup.select_one("form.daterange")
    assert form["action"] == "/search" and form.select_one("input[type=hidden][name=q]")
    assert form.select_one("#date-from")["value"] == "2023-01-01" and form.select_one("#date-to")["value"] == "2024-06-30"
    days = [t["datetime"][:10] for t in soup.select(".hit time")]
    assert days and all("2023-01-01" <= d <= "2024-06-30" for d in days)
    assert soup.select_one(".chips .chip").get_text() == "Date: 2023-01-01 to 2024-06-30 ×"
    bad = get_soup(client, "/search?q=&from=2024-99-01", status=400)
    assert "from" in bad.select_one("[role=alert]").get_text()


def test_sort_switch_orders_newest_first(client):
    soup = get_soup(client, "/search?q=ferry")
    current = soup.select_one("nav.sorts a[aria-current]")
    assert current.get_text() == "Relevance"
    newest = next(a for a in soup.select("nav.sorts a") if a.get_text() == "Newest")
    assert query_of(newest["href"]) == {"q": ["ferry"], "sort": ["date"]}
    by_date = get_soup(client, newest["href"])
    days = [t["datetime"] for t in by_date.select(".hit time")]
    assert len(days) >= 2 and days == sorted(days, reverse=True)
    assert by_date.select_one("nav.sorts a[aria-current]").get_text() == "Newest"
    assert by_date.select_one("header input[type=hidden][name=sort]")["value"] == "date"


def test_pagination_walks_forward_and_back(client):
    first = get_soup(client, "/search?q=&per_page=5")
    pager = first.select_one("nav.pager")
    assert pager["aria-label"] and not pager.select("a[rel=prev]")
    assert pager.select_one("a[aria-current=page]").get_text() == "Page 1"
    nxt = pager.select_one("a[rel=next]")
    assert query_of(nxt["href"])["page"] == ["2"]
    second = get_soup(client, nxt["href"])
    assert second.select_one("ol.hits")["start"] == "6"
    assert not set(hit_titles(first)) & set(hit_titles(second))
    prev = second.select_one("nav.pager a[rel=prev]")
    assert "page" not in query_of(prev["href"]) or query_of(prev["href"])["page"] == ["1"]
    assert hit_titles(get_soup(client, prev["href"])) == hit_titles(first)
    # changing anything else starts again at page 1
    for a in second.select("nav.sorts a, [data-facet] a"):
        assert "page" not in query_of(a["href"]), a


def test_empty_state_suggests_what_to_try(client):
    soup = get_soup(client, "/search?q=zzyzxqwv")
    empty = soup.select_one(".empty")
    assert empty and not hits(soup) and total_of(soup) == 0
    assert soup.select_one("#summary").get_text().startswith("No results")
    assert empty.select_one("a[href='/search?q=']")
    filtered = get_soup(client, "/search?q=zzyzxqwv&source=Coastline+Post")
    remove = next(a for a in filtered.select(".empty a") if "filters" in a.get_text())
    assert query_of(remove["href"]) == {"q": ["zzyzxqwv"]}


def test_why_and_versions_when_the_api_has_them(client):
    data = api(client, "/api/search?q=strike&explain=true")
    if not any(h.get("explain") for h in data["hits"]):
        pytest.skip("the API does not explain matches yet (issue 8)")
    soup = get_soup(client, "/search?q=strike")
    why = hits(soup)[0].select_one("details.why")
    terms = {b.get_text() for b in why.select("li b")}
    assert terms == {m["term"] for m in data["hits"][0]["explain"]["matched"]}


# --- the article page ------------------------------------------------------------

def test_article_page_highlights_the_search_words(client):
    doc_id = "harbor-gazette/2024-03-14-port-strike.html"
    soup = get_soup(client, f"/article/{doc_id}?q=strike")
    article = soup.select_one("main article")
    marks = [m.get_text().lower() for m in article.select(".body mark")]
    assert marks and all(m.startswith("strik") for m in marks)
    assert article.select_one(".matches").get_text().startswith(f"{len(marks)} match")
    assert article.select_one("a.original")["href"].startswith("https://")
    assert article.select_one("time")["datetime"].startswith("2024-03-14")
    assert query_of(article.select_one(".back a")["href"]) == {"q": ["strike"]}
    plain = get_soup(client, f"/article/{doc_id}")
    assert not plain.select("mark") and not plain.select(".back")
    assert len(plain.select(".body p")) >= 3


def test_unknown_article_is_a_404_page(client):
    soup = get_soup(client, "/article/no/such/thing.html", status=404)
    assert soup.select_one("[role=alert]").get_text()


# --- headers and assets -------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/search?q=strike", "/article/wire-0002", "/nope"])
def test_security_headers_and_no_inline_script(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    soup = soup_of(response)
    assert all(s.get("src") and not s.get_text(strip=True) for s in soup.select("script"))
    assert not soup.select("[style]")
    for tag in soup.select("script[src], link[href]"):
        ref = tag.get("src") or tag.get("href")
        assert ref.startswith("/static/"), ref   # served by the app itself, no CDN


def test_assets_are_versioned_and_cached_for_a_year(client):
    soup = get_soup(client, "/")
    refs = [t.get("src") or t.get("href") for t in soup.select("script[src], link[rel=stylesheet], link[rel=icon]")]
    assert len(refs) == 3
    for ref in refs:
        assert re.fullmatch(r"/static/[\w.]+\?v=[0-9a-f]{12}", ref), ref
        with client.get(ref) as response:
            assert response.status_code == 200
            assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
            assert len(response.data) < 40_000
        with client.get(ref.split("?")[0] + "?v=000000000000") as stale:
            assert stale.cache_control.no_cache and not stale.cache_control.max_age


def test_correction_answers_when_nothing_matched_the_query(client):
    data = api(client, "/api/search?q=dockwrkers")
    assert data["suggestion"] and data["corrected"] and data["hits"]
    soup = get_soup(client, "/search?q=dockwrkers")
    assert soup.select_one("#summary q").get_text() == data["suggestion"]
    line = soup.select_one("p.suggestion")
    assert line.get_text().startswith("Nothing matched dockwrkers; showing results for")
    assert line.select_one("a").get_text() == data["suggestion"]
    # the hits' own text pages highlight the words they answer
    assert query_of(hits(soup)[0].select_one("a.cached")["href"]) == {"q": [data["suggestion"]]}


def test_a_relaxed_query_says_so_on_the_page_and_in_the_api(client):
    q = '"no automation without consent"'
    data = api(client, "/api/search?" + urlencode({"q": q}))
    assert data["relaxed"] is True and data["corrected"] is False and data["hits"]
    soup = get_soup(client, "/search?" + urlencode({"q": q}))
    note = soup.select_one("p.note.relaxed")
    assert note.get_text() == f"Nothing matched {q} as written; showing articles with its words."
    assert note.select_one("q").get_text() == q
    strict = get_soup(client, "/search?q=%22light+rail%22")
    assert strict.select_one("p.note.relaxed") is None and hits(strict)


def test_the_page_says_where_the_results_with_every_word_end(client):
    data = api(client, "/api/search?q=school+drivers+pay")
    assert data["total_all_words"] == 1 and data["total"] > 10 and len(data["hits"]) == 10
    soup = get_soup(client, "/search?q=school+drivers+pay")
    assert soup.select_one("p.note.tiers").get_text() == \
        "The first result has all your words; the rest have some of them."
    for q in ("council", "year week", "when will the new desalination plant start supplying drinking water"):
        data = api(client, "/api/search?" + urlencode({"q": q}))
        assert data["total_all_words"] in (None, data["total"])
        assert get_soup(client, "/search?" + urlencode({"q": q})).select_one("p.note.tiers") is None


def test_wire_copies_are_listed_as_more_versions(client):
    data = api(client, "/api/search?q=&per_page=100")
    grouped = [h for h in data["hits"] if h.get("duplicates")]
    assert grouped, "the sample corpus has wire copies"
    soup = get_soup(client, "/search?q=&per_page=100")
    by_title = {li.select_one(".hit-title a").get_text(): li for li in hits(soup)}
    for hit in grouped:
        versions = by_title[hit["title"]].select_one("details.versions")
        n = len(hit["duplicates"])
        assert versions.select_one("summary").get_text() == f"{n} more version{'' if n == 1 else 's'}"
        assert [a["href"] for a in versions.select("li a")] == [f"/article/{d['id']}" for d in hit["duplicates"]]


def test_past_the_last_numbered_page_the_cursor_leads_on(sample_settings):
    app = create_app(sample_settings.replace(max_page=2))
    client = app.test_client()
    second = get_soup(client, "/search?q=&per_page=5&page=2")
    nxt = second.select_one("nav.pager a[rel=next]")
    assert "after" in query_of(nxt["href"]) and "page" not in query_of(nxt["href"])
    assert [a.get_text() for a in second.select("nav.pager a[data-key^='page:']") if a.get("aria-current")] == ["Page 2"]
    third = get_soup(client, nxt["href"])
    assert hits(third) and not set(hit_titles(third)) & set(hit_titles(second))
    following = third.select_one("nav.pager a[rel=next]")
    assert following and query_of(following["href"])["after"] != query_of(nxt["href"])["after"]
    fourth = get_soup(client, following["href"])
    assert not set(hit_titles(fourth)) & (set(hit_titles(second)) | set(hit_titles(third)))
    # any other change starts the query again from its first page
    for a in third.select("nav.sorts a, [data-facet] a"):
        assert "after" not in query_of(a["href"]) and "page" not in query_of(a["href"]), a
    assert hits(get_soup(client, third.select_one("[data-facet=source] a")["href"]))


# --- every id opens: ids as records give them ------------------------------------------------

AWKWARD_IDS = ["/2024/05/leading-slash", "line\nbreak", "a/./dot", "a/../dotdot", "..", ".", "a//double",
               "trailing/", "tab\tand\rreturn", "?q=1#frag%2F", "back\\slash", " spaced id ", "plain/path.html",
               "ünïcode/ıd", "line\u2028separator"]


def write_awkward_index(root: Path) -> Path:
    records = [{"id": doc_id, "title": f"Lighthouse keeper {n}", "body": f"The lighthouse keeper number {n} retired.",
                **({"url": f"https://example.org/{n}"} if n % 2 else {})}
               for n, doc_id in enumerate(AWKWARD_IDS)]
    write(root / "src" / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(root / "index")
    report = reindex(settings, [root / "src"])
    assert report.added == len(AWKWARD_IDS), report.problems
    return settings.index


@pytest.fixture(scope="module")
def awkward_client(tmp_path_factory):
    return create_app(make_settings(write_awkward_index(tmp_path_factory.mktemp("awkward")))).test_client()


def open_as_a_browser_would(client, page_url: str, href: str):
    """GET ``href`` as a browser resolves it from ``page_url`` (dot segments removed, RFC 3986), redirects followed."""
    absolute = urljoin("http://localhost" + page_url, href)
    parts = urlsplit(absolute)
    return client.get(parts.path, query_string=parts.query, follow_redirects=True)


def test_every_indexed_article_opens_from_the_results_page(awkward_client):
    page_url = "/search?q=lighthouse+keeper&per_page=50"
    soup = get_soup(awkward_client, page_url)
    assert len(hits(soup)) == len(AWKWARD_IDS)
    opened = set()
    for hit in hits(soup):
        link = hit.select_one("a.cached") or hit.select_one(".hit-title a")  # our page, not the original site
        title = hit.select_one(".hit-title a").get_text()
        response = open_as_a_browser_would(awkward_client, page_url, link["href"])
        assert response.status_code == 200, (title, link["href"])
        assert soup_of(response).select_one("h1").get_text() == title
        assert "<mark>" in response.get_data(as_text=True)  # the query came along
        opened.add(title)
    assert len(opened) == len(AWKWARD_IDS)


@pytest.mark.parametrize("doc_id", AWKWARD_IDS)
def test_any_id_opens_by_query_parameter(awkward_client, doc_id):
    response = awkward_client.get("/article", query_string={"id": doc_id.strip()})  # records' ids are trimmed
    assert response.status_code == 200
    assert soup_of(response).select_one("h1").get_text().startswith("Lighthouse keeper")


def test_plain_ids_keep_their_path_links(awkward_client):
    soup = get_soup(awkward_client, "/search?q=lighthouse+keeper&per_page=50")
    hrefs = {a["href"] for a in soup.select("a.cached, .hit-title a")}
    assert "/article/plain/path.html?q=lighthouse+keeper" in hrefs, hrefs
    assert "/article/%C3%BCn%C3%AFcode/%C4%B1d?q=lighthouse+keeper" in hrefs, hrefs


# --- counts that add up, where you are, errors that keep the form ---------------------------

def facet_sum(soup, facet: str) -> int:
    return sum(int(c.get_text()) for c in soup.select(f"[data-facet={facet}] .count"))


@pytest.mark.parametrize("url", ["/search?q=", "/search?q=council", "/search?q=flood", "/search?q=&page=2"])
def test_summary_says_where_and_what_and_the_facets_add_up(client, url):
    soup = get_soup(client, url)
    data = api(client, "/api" + url)
    text = " ".join(soup.select_one("#summary").get_text().split())
    first, last = data["offset"] + 1, data["offset"] + len(data["hits"])
    if data["total"] != data["articles"]:
        assert text.startswith(f"{first}–{last} of {data['total']} stories ({data['articles']} articles)")
    else:
        assert text.startswith(f"{first}–{last} of {data['total']} article")
    assert facet_sum(soup, "source") == facet_sum(soup, "year") == data["articles"]


def test_unknown_source_and_undated_are_buckets_that_filter(client):
    soup = get_soup(client, "/search?q=")
    unknown = soup.select_one("[data-facet=source] a[data-key='missing:source']")
    undated = soup.select_one("[data-facet=year] a[data-key='missing:date']")
    assert unknown.select_one(".value").get_text() == "Unknown source"
    assert undated.select_one(".value").get_text() == "Undated"
    chosen = get_soup(client, unknown["href"])
    assert query_of(unknown["href"])["missing"] == ["source"]
    assert total_of(chosen) and not chosen.select(".hit .meta .source")
    assert [c.get_text() for c in chosen.select(".chips .chip")] == ["Source: unknown ×"]
    assert chosen.select_one("[data-key='missing:source']")["aria-current"] == "true"
    dated = get_soup(client, undated["href"])
    assert not dated.select(".hit time") and int(undated.select_one(".count").get_text()) == \
        sum(1 for _ in dated.select(".hit")) + sum(len(h.select(".versions li")) for h in dated.select(".hit"))


def test_the_empty_query_shows_newest_as_its_sort(client):
    current = get_soup(client, "/search?q=").select("nav.sorts a[aria-current]")
    assert [a.get_text() for a in current] == ["Newest"]
    assert [a.get_text() for a in get_soup(client, "/search?q=council").select("nav.sorts a[aria-current]")] == ["Relevance"]


def test_a_page_past_the_end_says_so(client):
    soup = get_soup(client, "/search?q=flood&page=7")
    past = soup.select_one(".past-end")
    assert past.select_one("h2").get_text() == "There is no page 7"
    link = past.select_one("a")
    assert "end on page 1" in past.get_text() and query_of(link["href"]) == {"q": ["flood"]}
    assert not soup.select(".empty:not(.past-end)")


@pytest.mark.parametrize("url, place, kept", [
    ("/search?q=flood&source=The+County+Chronicle&from=2024-05-01&to=2024-01-01", "#date-error",
     {"#date-from": "2024-05-01", "#date-to": "2024-01-01"}),
    ("/search?q=flood&from=yesterday", "#date-error", {}),
    ("/search?q=flood&page=abc&source=The+County+Chronicle", "[data-error=page]", {}),
    ("/search?q=flood&sort=size", "[data-error=sort]", {}),
    ("/search?q=flood&missing=author", "[data-error=filters]", {}),
])
def test_a_bad_parameter_keeps_the_form_with_the_message_beside_its_field(client, url, place, kept):
    response = client.get(url)
    assert response.status_code == 400
    soup = soup_of(response)
    assert soup.select_one("#q")["value"] == "flood"
    message = soup.select_one(place)
    assert message is not None and message.get("role") == "alert" and message.get_text().strip()
    if "source=" in url:  # the filters stay on: the chips, and the hidden fields of both forms
        assert "Source: The County Chronicle ×" in [c.get_text() for c in soup.select(".chips .chip")]
        assert soup.select("#searchform input[name=source][value='The County Chronicle']")
    for selector, value in kept.items():
        field = soup.select_one(selector)
        assert field["value"] == value and field["aria-invalid"] == "true"
    assert hits(soup)  # the rest of the request still searched


def test_a_query_too_long_keeps_it_in_the_box_with_the_message_beside_it(client):
    q = "harbour " * 300
    response = client.get("/search", query_string={"q": q})
    soup = soup_of(response)
    assert response.status_code == 400 and soup.select_one("#q")["value"] == q
    assert soup.select_one("#q")["aria-invalid"] == "true" and "q-error" in soup.select_one("#q")["aria-describedby"]
    assert "longer than" in soup.select_one("#searchform #q-error").get_text()


def test_titles_are_highlighted_on_the_results_and_article_pages(client):
    soup = get_soup(client, "/search?q=ferry")
    marked = [m.get_text() for m in soup.select(".hit-title mark")]
    assert marked and all(m.lower().startswith("ferr") for m in marked)
    assert "Ferris" not in [m.get_text() for m in soup.select(".snippet mark")]
    article = get_soup(client, "/article/harbor-gazette/2022-06-09-archipelago-ferry-cuts.html?q=ferry")
    assert article.select_one("h1 mark").get_text() == "Ferry"


@pytest.mark.parametrize("doc_id", AWKWARD_IDS)
def test_any_id_opens_in_the_api_by_query_parameter(awkward_client, doc_id):
    response = awkward_client.get("/api/article", query_string={"id": doc_id.strip(), "q": "lighthouse"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["id"] == doc_id.strip() and "<mark>" in data["body_html"]
