"""Hostile requests: anything a client sends gets a 200 or a 4xx JSON error, never a 500 or a traceback.

Through the Flask test client, through ``searchsvc serve`` on loopback (raw
bytes on a socket included), and as Hypothesis properties of the query
parser, ``search()`` and ``/api/search``. Every response carries the
security headers; no stored or typed text reaches a page as markup.
"""
from __future__ import annotations

import base64
import json
import random
import re
import socket
from urllib.parse import quote, urlsplit

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from itsdangerous.encoding import base64_encode

from conftest import HANG_GUARD, LiveServer, make_settings, write
from searchsvc.indexer import reindex
from searchsvc.paging import CursorCodec
from searchsvc.query import WORD, parse
from searchsvc.search import SearchIndex, SearchRequest, search
from searchsvc.store import IndexHome
from searchsvc.web import create_app

# The HTTP client (and proxy) bounds every request; these are hang guards, not speed checks.
REQUEST_TIMEOUT = HANG_GUARD

FUZZ = hsettings(max_examples=75, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TEN_THOUSAND_TERMS = " ".join(f"w{i}" for i in range(10_000))
HOSTILE_QUERIES = {
    "empty": "",
    "long": "a" * 1999,
    "long words": ("floodwater " * 200)[:1999],
    "lone quote": '"',
    "odd quotes": '"port "strike',
    "lone bracket": "(",
    "brackets": "((port)) [strike] {x}",
    "star": "*",
    "stars": "* ** *** -*",
    "a star": "a*",
    "many prefixes": ("a* b* c* d* e* f* g* h* i* j* k* l* m* " * 40)[:1999],
    "same prefix": ("a* " * 600)[:1999],
    "field alone": "title:",
    "field star": "title:*",
    "author alone": "author:",
    "unknown field": "foo:bar baz:",
    "minus alone": "-",
    "only exclusions": "-port -strike -*",
    "or alone": "OR",
    "or chain": ("OR " * 600)[:1999],
    "nul": "port\x00strike",
    "control": "\x01\x02\x1b[31m\x7f",
    "bidi and bom": "\u202e\ufeffport\u200b",
    "emoji": "🌊 flood 🌊",
    "cjk": "港口罢工",
    "script": "<script>alert(1)</script>",
    "html entity": "&lt;b&gt; &amp;",
    "regex": r".*+?[](){}\d\\",
    "percent": "%ff%fe%00",
    "long phrase": '"' + ("the harbour " * 200)[:1990] + '"',
    "many fields": ("title:\"a b\" author:x " * 80)[:1999],
}
HOSTILE_PARAMS = {
    "page zero": "page=0",
    "page negative": "page=-1",
    "page huge": "page=99999999999999999999999",
    "page float": "page=1.5",
    "page exponent": "page=1e3",
    "page text": "page=abc",
    "page nul": "page=%00",
    "per_page huge": "per_page=1000000",
    "per_page zero": "per_page=0",
    "per_page empty": "per_page=",
    "deep page": "page=1000&per_page=100",
    "sort unknown": "sort=best",
    "sort nul": "sort=%00",
    "bad from": "from=2024-13-45",
    "from text": "from=yesterday",
    "from after to": "from=2025-01-01&to=2024-01-01",
    "year only": "from=2024",
    "source weird": "source=%3Cscript%3E&source=&source=%ff",
    "repeated": "q=port&q=strike&page=1&page=2&sort=date&sort=relevance",
    "unknown params": "foo=bar&q[]=x&__proto__=1",
    "invalid utf-8": "q=%ff%fe%c3%28",
    "overlong utf-8": "q=%c0%af%e0%80%af",
    "lone surrogate escape": "q=%ed%a0%80",
    "bad escapes": "q=%zz%4&page=%",
    "no value": "q&page&sort",
    "many params": "&".join(f"p{i}=v" for i in range(500)),
    "bad cursor": "after=not-a-cursor",
    "bad booleans": "collapse=maybe&explain=%00",
}


def hostile_urls(path: str) -> list:
    urls = [pytest.param(f"{path}?q={quote(q)}", id=f"q {name}") for name, q in HOSTILE_QUERIES.items()]
    urls += [pytest.param(f"{path}?{params}", id=name) for name, params in HOSTILE_PARAMS.items()]
    return urls


def assert_security_headers(headers) -> None:
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src, csp
    assert "'unsafe-inline'" not in script_src or any(s.startswith("'sha") for s in script_src), csp
    assert "'unsafe-eval'" not in script_src, csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy")
    framing = directives.get("frame-ancestors") == ["'none'"] or headers.get("X-Frame-Options") == "DENY"
    assert framing, headers


def assert_no_traceback(body: bytes) -> None:
    assert b"Traceback" not in body and b'File "/' not in body, body[:500]


def assert_api_answer(status: int, content_type: str, body: bytes) -> dict:
    """A search response or a 4xx JSON error, and nothing else."""
    assert status in (200, 400), (status, body[:300])
    assert content_type.startswith("application/json"), content_type
    assert_no_traceback(body)
    data = json.loads(body)
    if status == 400:
        assert set(data) == {"error"} and data["error"]["code"] and data["error"]["message"], data
    else:
        assert isinstance(data["total"], int) and len(data["hits"]) <= data["per_page"]
    return data


# --- the test client ----------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_app(sample_settings):
    app = create_app(sample_settings)
    app.config["TESTING"] = True
    return app


@pytest.mark.parametrize("url", hostile_urls("/api/search"))
def test_api_answers_hostile_requests_with_200_or_json_400(hostile_app, url):
    r = hostile_app.test_client().get(url)
    assert_api_answer(r.status_code, r.content_type, r.data)
    assert_security_headers(r.headers)


@pytest.mark.parametrize("url", hostile_urls("/search"))
def test_page_answers_hostile_requests_with_200_or_400(hostile_app, url):
    r = hostile_app.test_client().get(url)
    assert r.status_code in (200, 400), (r.status_code, r.data[:300])
    assert r.content_type.startswith("text/html")
    assert_no_traceback(r.data)
    assert_security_headers(r.headers)
    assert_no_markup_injected(r.data)


@pytest.mark.parametrize("params, code", [
    ("q=" + "a" * 2001, "query_too_long"),
    ("q=" + quote(TEN_THOUSAND_TERMS), "query_too_long"),
    ("page=1001", "bad_page"),
    ("per_page=101", "bad_per_page"),
    ("sort=best", "bad_sort"),
    ("from=2024-13-45", "bad_from"),
])
def test_limits_give_a_named_400(hostile_app, params, code):
    r = hostile_app.test_client().get("/api/search?" + params)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == code


def test_ten_thousand_terms_within_a_roomy_length_limit_are_cut_to_max_query_terms(sample_settings):
    roomy = sample_settings.replace(max_query_chars=200_000)
    parsed = parse(TEN_THOUSAND_TERMS, roomy.max_query_terms)
    assert len(parsed.words) == roomy.max_query_terms
    app = create_app(roomy)
    r = app.test_client().get("/api/search?q=" + quote(TEN_THOUSAND_TERMS))
    data = assert_api_answer(r.status_code, r.content_type, r.data)
    assert r.status_code == 200 and data["query"] == TEN_THOUSAND_TERMS


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/api/search?q=port", "/api/health", "/search?q=port", "/"])
def test_wrong_methods_get_405(hostile_app, method, path):
    r = hostile_app.test_client().open(path, method=method, data=b"q=port")
    assert r.status_code == 405
    assert_no_traceback(r.data)
    assert_security_headers(r.headers)
    if path.startswith("/api/"):
        assert r.get_json()["error"]["code"] == "method_not_allowed"
        assert "GET" in r.headers["Allow"]


@pytest.mark.parametrize("path", [
    "/", "/search?q=port", "/search?q=zzzzqqq", "/search?page=0", "/article/no-such-article",
    "/article/%ff%fe", "/article/..%2F..%2Fetc%2Fpasswd", "/nope", "/static/style.css",
    "/static/nope.js", "/api/search?q=port", "/api/search?page=0", "/api/health", "/api/nope",
])
def test_every_response_carries_the_security_headers(hostile_app, path):
    with hostile_app.test_client().get(path) as r:
        r.get_data()
    assert r.status_code < 500, (r.status_code, r.data[:300])
    assert_no_traceback(r.data)
    assert_security_headers(r.headers)
    if path.startswith("/api/"):
        assert r.content_type.startswith("application/json")


# --- the real server --------------------------------------------------------------

@pytest.mark.parametrize("url", [
    p for p in hostile_urls("/api/search")
    if p.id in {"q long", "q many prefixes", "q nul", "q control", "q percent", "invalid utf-8",
                "page huge", "per_page huge", "repeated", "many params", "q script"}
])
def test_real_server_answers_hostile_requests(live_server, url):
    status, headers, body = live_server.get(url, timeout=REQUEST_TIMEOUT)
    assert_api_answer(status, headers.get("Content-Type", ""), body)
    assert_security_headers(headers)


def raw_request(server: LiveServer, request: bytes) -> tuple[int, bytes, bytes]:
    """Send bytes as they are (no client-side quoting); (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


@pytest.mark.parametrize("target", [
    b"/api/search?q=\xff\xfe\xc3\x28",
    b"/api/search?q=caf\xc3\xa9%20\xe9",
    b"/api/search?q=%00%01%02&page=%ff",
    b"/search?q=\xff<script>",
    b"/article/\xff\xfe",
    b"/api/\xff",
    b"/api/search?q=" + b"a%2A%20" * 5000,
], ids=["raw invalid utf-8", "raw latin-1", "raw controls", "raw page", "raw article", "raw api path",
        "long request line"])
def test_real_server_survives_raw_bytes(live_server, target):
    status, head, body = raw_request(live_server, b"GET " + target + b" HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert 200 <= status < 500, head
    assert_no_traceback(body)
    if body.startswith(b"Bad Request\r\n"):
        # waitress itself refuses a request line that is not ASCII, before the app sees it:
        # plain text naming the problem, nothing for a browser to render
        assert status == 400 and b"Content-Type: text/plain" in head
    assert_security_headers(parsed_headers(head))  # the app's responses and waitress's own alike


def parsed_headers(head: bytes) -> dict:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines if ": " in line)


@pytest.mark.parametrize("request_bytes", [
    b"BREW /api/search HTTP/1.0\r\n\r\n",
    b"POST /api/search HTTP/1.0\r\nContent-Length: 5\r\n\r\nq=abc",
    b"GET /api/search?q=port HTTP/1.0\r\n" + b"X-Junk: " + b"x" * 8000 + b"\r\n\r\n",
    b"GET /api/search?q=port HTTP/1.0\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(500)) + b"\r\n",
], ids=["unknown method", "post with body", "long header", "many headers"])
def test_real_server_answers_odd_requests_without_500(live_server, request_bytes):
    status, head, body = raw_request(live_server, request_bytes)
    assert 200 <= status < 500, head
    assert_no_traceback(body)
    assert_security_headers(parsed_headers(head))


@pytest.mark.parametrize("header", [
    b"Content-Length: x\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Bad Header Name: x\r\n",
], ids=["bad content-length", "unknown transfer-encoding", "bad header name"])
def test_responses_waitress_writes_itself_carry_the_security_headers(live_server, header):
    request_bytes = b"GET /api/search HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + header + b"\r\n"
    status, head, body = raw_request(live_server, request_bytes)
    assert 400 <= status < 600 and not head.startswith(b"HTTP/1.1 200"), head
    assert_no_traceback(body)
    assert_security_headers(parsed_headers(head))


BAD_HOSTS = {"label over 63": b"a" * 64 + b".example", "empty label": b"a..b", "broken punycode": b"xn--zz",
             "port not a number": b"example.org:http", "host of 300": b"a." * 150 + b"org"}


@pytest.mark.parametrize("host", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
@pytest.mark.parametrize("path", [b"/", b"/search?q=strike", b"/article/nope", b"/nope", b"/api/search?q=x",
                                  b"/api/nope"])
def test_a_bad_host_header_gets_a_400_page_with_the_security_headers(live_server, host, path):
    status, head, body = raw_request(live_server, b"GET " + path + b" HTTP/1.1\r\nHost: " + host +
                                     b"\r\nConnection: close\r\n\r\n")
    assert status == 400, head
    headers = parsed_headers(head)
    assert_security_headers(headers)
    assert_no_traceback(body)
    if path.startswith(b"/api/"):
        assert json.loads(body)["error"]["code"] == "bad_request"
    else:
        assert headers["Content-Type"].startswith("text/html") and b"Host header" in body


@pytest.mark.parametrize("path", [b"/article//harbor-gazette/2024-03-14-port-strike.html", b"/static//style.css",
                                  b"/search//"])
def test_redirects_are_relative_whatever_the_host_header_says(live_server, path):
    status, head, _ = raw_request(live_server, b"GET " + path + b" HTTP/1.1\r\nHost: evil.example\r\n"
                                  b"Connection: close\r\n\r\n")
    headers = parsed_headers(head)
    if 300 <= status < 400:
        location = headers["Location"]
        assert location.startswith("/") and not location.startswith("//") and "evil" not in location, location
    assert b"evil.example" not in head


# --- big index: wildcard expansion stays bounded -------------------------------------

def random_words(rng: random.Random, n: int, first: str = "") -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [first + "".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    """800 articles over a 12,000-word vocabulary, half of it starting with "a"."""
    rng = random.Random(6)
    vocab = random_words(rng, 6000, "a") + random_words(rng, 6000)
    lines = [json.dumps({"id": f"doc-{i}", "title": " ".join(rng.choices(vocab, k=5)),
                         "body": " ".join(rng.choices(vocab, k=40)), "source": f"Source {i % 5}"})
             for i in range(800)]
    src = write(tmp_path_factory.mktemp("big") / "feed.jsonl", "\n".join(lines) + "\n")
    settings = make_settings(src.parent.parent / "index")
    assert reindex(settings, [src]).documents == 800
    return settings


@pytest.mark.slow
@pytest.mark.parametrize("q", ["a*", "a* b* c* d* e* f* g* h*", ("a* " * 600)[:1999],
                               " ".join(f"a{c}*" for c in "abcdefghijklmnopqrstuvwxyz" * 8)[:1999],
                               ("-a* " * 400)[:1999], '"a* b*"'])
def test_wildcards_on_a_big_index_answer(big_index, q):
    app = create_app(big_index)
    r = app.test_client().get("/api/search?q=" + quote(q))
    data = assert_api_answer(r.status_code, r.content_type, r.data)
    assert r.status_code == 200
    for hit in data["hits"]:
        assert_snippet_is_escaped_text(hit["snippet"])


@pytest.fixture(scope="module")
def prefix_settings(tmp_path_factory):
    """``alphaNN`` in NN articles and ``betaNN`` in NN articles, NN = 1..12: frequencies known."""
    records = []
    for word in ("alpha", "beta"):
        for n in range(1, 13):
            records += [{"id": f"{word}{n:02d}-{k}", "title": f"Note {k}", "body": f"{word}{n:02d} filler"}
                        for k in range(n)]
    src = write(tmp_path_factory.mktemp("prefix") / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(src.parent.parent / "index", max_prefix_terms=4)
    reindex(settings, [src])
    return settings


@pytest.mark.parametrize("q, total", [
    ("alpha*", 12 + 11 + 10 + 9),               # the 4 most frequent expansions
    ("alpha* " * 50, 12 + 11 + 10 + 9),         # a repeated clause counts once
    ("alpha* OR beta*", (12 + 11) * 2),         # two prefixes share the budget of 4
    ("alpha01*", 1),
])
def test_prefix_expansion_is_capped_per_query(prefix_settings, q, total):
    result = search(SearchIndex(prefix_settings), SearchRequest(q=q, with_facets=False))
    assert result.total == total


# --- escaping: nothing from an article or a query reaches a page as markup -------------------

ATTACK = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'><xss-probe data-x=1>probe</xss-probe>'


@pytest.fixture(scope="module")
def hostile_corpus_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-corpus")
    records = [
        {"id": "evil-1", "title": f"Harbour {ATTACK}", "body": f"The harbour strike {ATTACK} went on.",
         "author": f"Mallory {ATTACK}", "source": f"Evil {ATTACK}", "url": "javascript:alert(3)",
         "published": "2024-05-01"},
        {"id": "evil-2", "title": "Harbour data", "body": "The harbour board met.", "source": "Evil <i>",
         "url": " JaVaScRiPt:alert(4)", "published": "2023-05-01"},
        {"id": "evil-3", "title": "Harbour vbscript", "body": "The harbour ferry sailed.",
         "url": "data:text/html,<script>alert(5)</script>", "published": "2022-05-01"},
        {"id": "evil-4", "title": "Harbour relative", "body": "The harbour crane fell.",
         "url": "//evil.example/x", "published": "2021-05-01"},
        {"id": "good-1", "title": "Harbour good", "body": "The harbour reopened.",
         "url": "https://news.example/harbour?a=1&b=<2>", "published": "2020-05-01"},
        {"id": "<script>alert(6)</script>", "title": "Harbour odd id", "body": "The harbour odd id."},
    ]
    write(root / "src" / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    write(root / "src" / "page.html",
          f"<html><head><title>{ATTACK.replace('<', '&lt;')}</title></head><body><article><h1>Harbour page</h1>"
          f"<p>The harbour &lt;script&gt;alert(7)&lt;/script&gt; page text about the harbour strike.</p>"
          f"<script>alert(8)</script><p onclick=alert(9)>More harbour words here.</p></article></body></html>")
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def assert_no_markup_injected(html: bytes) -> None:
    """Only our own markup: no inline script, no event handlers, links only to http(s) or our own paths."""
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        src = script.get("src", "")
        assert src.startswith("/static/") and not script.string, script
    for tag in soup.find_all(True):
        assert tag.name not in ("img", "iframe", "object", "embed", "base", "meta") or tag.name == "meta" and not tag.get("http-equiv"), tag
        assert tag.name != "xss-probe", tag
        assert not any(attr.lower().startswith("on") for attr in tag.attrs), tag
        for attr in ("href", "src", "action", "formaction"):
            value = tag.get(attr)
            if value is None:
                continue
            scheme = urlsplit(value.strip()).scheme.lower()
            assert scheme in ("", "http", "https"), tag
            assert not value.strip().startswith("//"), tag


def assert_snippet_is_escaped_text(snippet: str) -> None:
    """Snippets are escaped text plus <mark> and nothing else."""
    assert "<" not in re.sub(r"</?mark>", "", snippet), snippet


@pytest.mark.parametrize("path", [
    "/search?q=harbour", "/search?q=harbour&sort=date", "/search?q=harbour&source=Evil+%3Ci%3E",
    "/search?q=" + quote("<script>alert(10)</script> harbur"), "/search?q=" + quote(ATTACK),
    "/search?q=harbour&from=" + quote("<script>"), "/search?q=harbour&sort=" + quote("<script>"),
    "/article/evil-1?q=harbour", "/article/evil-1?q=" + quote(ATTACK), "/article/evil-2", "/article/evil-3",
    "/article/" + quote("<script>alert(6)</script>"), "/article/" + quote("<script>nope</script>"),
    "/article/page.html?q=harbour", "/search?q=",
])
def test_pages_escape_everything(hostile_corpus_app, path):
    r = hostile_corpus_app.test_client().get(path)
    assert r.status_code in (200, 400, 404), r.status_code
    assert_no_markup_injected(r.data)
    assert_security_headers(r.headers)
    text = BeautifulSoup(r.data, "html.parser").get_text()
    assert "alert(8)" not in text  # the page's own script never became article text


def test_results_page_shows_hostile_text_as_text_and_links_only_http(hostile_corpus_app):
    r = hostile_corpus_app.test_client().get("/search?q=harbour&per_page=50")
    soup = BeautifulSoup(r.data, "html.parser")
    text = soup.get_text()
    assert "<script>alert(1)</script>" in text  # the title, author, source and snippet, as text
    hrefs = [a["href"] for a in soup.find_all("a", href=True)]
    assert "https://news.example/harbour?a=1&b=<2>" in hrefs  # http(s): linked (attribute-escaped)
    assert not any("alert" in h and not h.startswith("/") for h in hrefs), hrefs
    assert not any("evil.example" in h for h in hrefs), hrefs  # protocol-relative is not http(s)
    facet_text = " ".join(li.get_text() for li in soup.select("aside li"))
    assert "Evil <script>" in facet_text or "Evil <i>" in facet_text


def test_suggestion_with_markup_is_escaped(hostile_corpus_app):
    q = "<script>alert(11)</script> harbur"
    api = hostile_corpus_app.test_client().get("/api/search?q=" + quote(q)).get_json()
    assert api["suggestion"] and "harbour" in api["suggestion"]
    r = hostile_corpus_app.test_client().get("/search?q=" + quote(q))
    assert_no_markup_injected(r.data)
    assert b"<script>alert(11)" not in r.data


def test_api_snippets_are_escaped(hostile_corpus_app):
    data = hostile_corpus_app.test_client().get("/api/search?q=harbour&per_page=50").get_json()
    assert data["total"] >= 6
    for hit in data["hits"]:
        assert_snippet_is_escaped_text(hit["snippet"])
    assert any("&lt;script&gt;" in hit["snippet"] for hit in data["hits"])


# --- properties (Hypothesis) ------------------------------------------------------

QUERY_ALPHABET = st.sampled_from(list('abcdeft "*-:()[]OR\x00\t\n') + ["title:", "author:", " OR ", "é", "ß", "🌊"])
query_text = st.one_of(st.text(max_size=300), st.lists(QUERY_ALPHABET, max_size=120).map("".join))


@FUZZ
@given(query_text, st.integers(1, 50))
def test_parse_never_fails_and_keeps_to_the_term_limit(text, max_terms):
    parsed = parse(text, max_terms)
    clauses = parsed.words + [c.text for g in parsed.groups for c in g] + [c.text for c in parsed.excluded]
    assert len(clauses) <= max_terms + 1  # an unknown `foo:` may add its word beside the value
    for clause in clauses:
        assert WORD.findall(clause), clause  # operators never leak into a clause


@FUZZ
@given(q=query_text, sort=st.sampled_from(["relevance", "date"]), page=st.integers(1, 3))
def test_search_never_fails_and_snippets_are_escaped(sample_index, q, sort, page):
    result = search(sample_index, SearchRequest(q=q, sort=sort, page=page))
    assert result.total >= len(result.hits)
    assert len(result.hits) <= result.per_page
    for hit in result.hits:
        assert_snippet_is_escaped_text(hit.snippet)
    if result.suggestion is not None:
        assert isinstance(result.suggestion, str)


PARAM_NAMES = st.sampled_from(["q", "page", "per_page", "sort", "source", "from", "to", "after", "collapse",
                               "explain", "x", "q[]", ""])
PARAM_VALUES = st.one_of(st.text(max_size=60), st.integers(-10**25, 10**25).map(str),
                         st.sampled_from(["", "0", "1", "100", "101", "1000", "2024-01-01", "date", "relevance"]))


@FUZZ
@given(st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES), max_size=8))
def test_api_answers_any_parameters_with_200_or_400(hostile_app, pairs):
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    r = hostile_app.test_client().get("/api/search?" + query)
    assert_api_answer(r.status_code, r.content_type, r.data)


@FUZZ
@given(st.binary(max_size=80))
def test_api_answers_any_percent_escaped_bytes(hostile_app, raw):
    r = hostile_app.test_client().get("/api/search?q=" + quote(raw, safe="") + "&source=" + quote(raw[::-1], safe=""))
    assert_api_answer(r.status_code, r.content_type, r.data)


# --- cursors: signed, and checked like the request they continue ------------------------------

def codec_of(settings) -> CursorCodec:
    """The codec the server signs with: the key it keeps in the index home."""
    return CursorCodec(IndexHome(settings.index).cursor_key())


def signed_raw(settings, raw: bytes) -> str:
    """``raw`` (any bytes, JSON or not) signed with the server's key, as a cursor token would be."""
    serializer = codec_of(settings)._serializer
    return serializer.make_signer().sign(base64_encode(raw)).decode("ascii")


def a_cursor(client, query: str = "q=council&per_page=2") -> str:
    token = client.get("/api/search?" + query).get_json()["next"]
    assert token
    return token


@pytest.fixture(scope="module")
def undated_app(tmp_path_factory):
    """An index with an undated article among dated ones (a date cursor's key holds 2**62 for it)."""
    root = tmp_path_factory.mktemp("undated")
    records = [{"id": f"d{i}", "title": f"Harbour {i}", "body": "The harbour reopened.",
                **({"published": f"202{i}-01-01"} if i else {})} for i in range(5)]
    write(root / "src" / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(root / "index")
    reindex(settings, [root / "src"])
    return create_app(settings)


VALID = {"v": 1, "q": "harbour", "s": "relevance", "src": [], "f": None, "t": None, "n": 2, "c": True,
         "k": [-1.0, "d1"], "g": "none", "m": [], "o": 2}
SHOULD_BE_400 = {
    "nested 1,000 deep": b'{"v":1,"q":' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nested in the key": json.dumps({**VALID, "k": "@"}).encode().replace(b'"@"', b"[" * 1000 + b"]" * 1000),
    "page size 0": json.dumps({**VALID, "n": 0}).encode(),
    "page size negative": json.dumps({**VALID, "n": -5}).encode(),
    "page size 10**9": json.dumps({**VALID, "n": 10**9}).encode(),
    "page size Infinity": json.dumps({**VALID, "n": "@"}).encode().replace(b'"@"', b"Infinity"),
    "page size 2.5": json.dumps({**VALID, "n": 2.5}).encode(),
    "page size true": json.dumps({**VALID, "n": True}).encode(),
    "query of 7,000 characters": json.dumps({**VALID, "q": "harbour " * 875}).encode(),
    "date key on a relevance cursor": json.dumps({**VALID, "k": [2**62, -1.0, "x"]}).encode(),
    "relevance key on a date cursor": json.dumps({**VALID, "s": "date", "k": [2**62, "x"]}).encode(),
    "NaN in the key": json.dumps({**VALID, "k": [float("nan"), "x"]}).encode(),
    "huge number in the key": json.dumps({**VALID, "k": [10**30, "x"]}).encode(),
    "unknown sort": json.dumps({**VALID, "s": "best"}).encode(),
    "bad date": json.dumps({**VALID, "f": "2024-13-01"}).encode(),
    "date range backwards": json.dumps({**VALID, "f": "2025-01-01", "t": "2024-01-01"}).encode(),
    "sources not strings": json.dumps({**VALID, "src": [1, 2]}).encode(),
    "unknown missing bucket": json.dumps({**VALID, "m": ["author"]}).encode(),
    "negative offset": json.dumps({**VALID, "o": -1}).encode(),
    "version 2": json.dumps({**VALID, "v": 2}).encode(),
    "not an object": b"[1, 2, 3]",
    "not JSON": b"\xff\xfe{",
}


@pytest.mark.parametrize("raw", SHOULD_BE_400.values(), ids=SHOULD_BE_400.keys())
def test_a_signed_cursor_is_still_checked_like_a_request(undated_app, raw):
    token = signed_raw(undated_app.config["SETTINGS"], raw)
    r = undated_app.test_client().get("/api/search", query_string={"after": token})
    data = assert_api_answer(r.status_code, r.content_type, r.data)
    assert r.status_code == 400, data
    assert data["error"]["code"] in ("bad_after", "bad_per_page", "query_too_long", "bad_sort", "bad_from",
                                     "bad_date_range", "bad_missing"), data


def test_a_lone_surrogate_in_a_cursor_query_is_read_as_a_url_would_be(undated_app):
    raw = json.dumps({**VALID, "q": "harbour \ud800", "n": 1}).encode()
    token = signed_raw(undated_app.config["SETTINGS"], raw)
    r = undated_app.test_client().get("/api/search", query_string={"after": token})
    data = assert_api_answer(r.status_code, r.content_type, r.data)
    assert r.status_code == 200 and data["next"]  # the query is "harbour \ufffd", and its cursor can be written


def test_a_date_cursor_pages_past_an_undated_article(undated_app):
    client = undated_app.test_client()
    pages = [client.get("/api/search?q=harbour&sort=date&per_page=2").get_json()]
    while pages[-1]["next"]:
        pages.append(client.get("/api/search", query_string={"after": pages[-1]["next"]}).get_json())
    ids = [h["id"] for p in pages for h in p["hits"]]
    assert ids == ["d4", "d3", "d2", "d1", "d0"]  # the undated one last


@pytest.mark.parametrize("forge", ["unsigned, as before", "another key", "signature cut", "payload changed"])
def test_a_forged_cursor_is_a_400(hostile_app, forge):
    client = hostile_app.test_client()
    token = a_cursor(client)
    payload, _, signature = token.rpartition(".")
    forged = {
        "unsigned, as before": base64.urlsafe_b64encode(json.dumps({**VALID, "n": 10**9}).encode()).decode(),
        "another key": CursorCodec("not the key").encode(codec_of(hostile_app.config["SETTINGS"]).decode(token)),
        "signature cut": payload,
        "payload changed": base64_encode(json.dumps({**VALID, "n": 10**9}).encode()).decode() + "." + signature,
    }[forge]
    r = client.get("/api/search", query_string={"after": forged})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_after"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)
CURSOR_FIELDS = sorted(VALID)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_any_bytes_in_valid_base64_get_a_json_400(hostile_app, raw):
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    r = hostile_app.test_client().get("/api/search", query_string={"after": token})
    assert_api_answer(r.status_code, r.content_type, r.data)
    assert r.status_code == 400 or not token  # an empty after= is no cursor: a first page


@FUZZ
@given(st.one_of(JSON_VALUES, st.binary(max_size=200)))
def test_fuzz_any_json_or_bytes_signed_with_the_key_gets_200_or_a_json_400(hostile_app, value):
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    token = signed_raw(hostile_app.config["SETTINGS"], raw)
    r = hostile_app.test_client().get("/api/search", query_string={"after": token})
    assert_api_answer(r.status_code, r.content_type, r.data)


@FUZZ
@given(field=st.sampled_from(CURSOR_FIELDS), value=st.one_of(JSON_VALUES, st.just("<deleted>")),
       query=st.sampled_from(["q=council&per_page=2", "q=&sort=date&per_page=3", "q=strike&sort=recent&per_page=1",
                              "q=council&per_page=1&collapse=false&from=2020&to=2025-06&source=Lakeside+Herald"]))
def test_fuzz_a_valid_cursor_with_one_field_mutated_gets_200_or_a_json_400(hostile_app, field, value, query):
    client = hostile_app.test_client()
    settings = hostile_app.config["SETTINGS"]
    data = codec_of(settings)._serializer.loads(a_cursor(client, query))
    if value == "<deleted>":
        del data[field]
    else:
        data[field] = value
    signed = signed_raw(settings, json.dumps(data).encode())
    r = client.get("/api/search", query_string={"after": signed})
    assert_api_answer(r.status_code, r.content_type, r.data)
    unsigned = base64_encode(json.dumps(data).encode()).decode()
    r = client.get("/api/search", query_string={"after": unsigned})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_after"
