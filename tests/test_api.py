"""The JSON API through the real Flask app: the response contract and the error shape."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from werkzeug.test import EnvironBuilder

from conftest import make_settings
from searchsvc.web import SearchRoute, create_app

HIT_FIELDS = ["id", "title", "url", "published", "author", "source", "score", "snippet"]
TOP_FIELDS = ["query", "total", "page", "per_page", "pages", "took_ms", "suggestion", "hits", "facets"]


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.data
    assert response.is_json
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    if code:
        assert error["code"] == code
    return error


def test_search_response_shape(client):
    data = client.get("/api/search?q=strike").get_json()
    assert all(k in data for k in TOP_FIELDS)
    assert data["query"] == "strike" and data["page"] == 1 and data["per_page"] == 10
    assert data["total"] >= 1 and data["hits"]
    for hit in data["hits"]:
        assert all(k in hit for k in HIT_FIELDS)
        assert hit["published"] is None or hit["published"].endswith("Z")
    assert set(data["facets"]) >= {"source", "year"}
    for facet in data["facets"].values():
        assert all(set(v) == {"value", "count", "missing"} for v in facet)
        assert sum(v["count"] for v in facet) == data["articles"]


def test_per_page_pages_and_sort(client):
    data = client.get("/api/search?q=&per_page=5&page=2&sort=date").get_json()
    assert data["per_page"] == 5 and data["page"] == 2 and len(data["hits"]) == 5
    dates = [h["published"] for h in data["hits"] if h["published"]]
    assert dates == sorted(dates, reverse=True)
    assert data["pages"] == -(-data["total"] // 5)


def test_source_filter_is_repeatable(client):
    facets = client.get("/api/search?q=").get_json()["facets"]["source"]
    a, b = facets[0], facets[1]
    data = client.get(f"/api/search?q=&per_page=100&collapse=false&source={a['value']}&source={b['value']}").get_json()
    assert data["total"] == a["count"] + b["count"]
    assert {h["source"] for h in data["hits"]} == {a["value"], b["value"]}


@pytest.mark.parametrize("query, code", [
    ("page=0", "bad_page"), ("page=x", "bad_page"), ("per_page=1000", "bad_per_page"),
    ("sort=popular", "bad_sort"), ("from=20240101x", "bad_from"), ("to=never", "bad_to"),
    ("from=2025-01-01&to=2024-01-01", "bad_date_range"), ("to=2024-13", "bad_to"), ("from=2023-02-29", "bad_from"),
])
def test_bad_parameters_get_400_json(client, query, code):
    assert_json_error(client.get(f"/api/search?q=a&{query}"), 400, code)


def test_year_0000_means_from_the_beginning(client):
    everything = client.get("/api/search?q=&collapse=false").get_json()
    since_0000 = client.get("/api/search?q=&collapse=false&from=0000").get_json()
    dated = sum(f["count"] for f in everything["facets"]["year"] if not f.get("missing"))
    assert since_0000["total"] == dated and since_0000["total"] > 0


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/nope", 404), ("get", "/api/", 404), ("post", "/api/search", 405), ("delete", "/api/health", 405),
])
def test_unknown_paths_and_methods_get_json(client, method, path, status):
    assert_json_error(getattr(client, method)(path), status)


def test_health(client):
    data = client.get("/api/health").get_json()
    assert data["status"] == "ok" and data["documents"] >= 30


def test_health_and_search_without_an_index(tmp_path):
    client = create_app(make_settings(tmp_path / "none")).test_client()
    response = client.get("/api/health")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
    assert_json_error(client.get("/api/search?q=x"), 503, "index_unavailable")


def test_snippets_are_escaped_html_with_marks(client):
    for hit in client.get("/api/search?q=council&per_page=50").get_json()["hits"]:
        text = hit["snippet"].replace("<mark>", "").replace("</mark>", "")
        assert "<" not in text and ">" not in text


def test_suggestion(client, expectations):
    data = client.get("/api/search?q=tramwey").get_json()
    assert data["suggestion"] == "tramway"


def test_article_is_the_json_twin_of_the_article_page(client):
    data = client.get("/api/article/harbor-gazette/2024-03-14-port-strike.html").get_json()
    assert data["id"] == "harbor-gazette/2024-03-14-port-strike.html"
    assert data["source"] == "The Harbor Gazette" and data["published"].endswith("Z") and data["body"]
    assert "body_html" not in data
    marked = client.get("/api/article/harbor-gazette/2024-03-14-port-strike.html?q=strike").get_json()
    assert marked["matches"] == marked["body_html"].count("<mark>") > 0 and "<mark>strike</mark>" in marked["title_html"]
    missing = client.get("/api/article/no/such/article")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_stats_count_what_search_counts(client):
    stats = client.get("/api/stats").get_json()
    everything = client.get("/api/search?q=").get_json()
    assert stats["documents"] == everything["articles"] and stats["stories"] == everything["total"]
    assert stats["sources"] == everything["facets"]["source"] and stats["years"] == everything["facets"]["year"]
    assert sum(s["count"] for s in stats["sources"]) == stats["documents"]
    assert stats["last_reindex"]


def wsgi_call(wsgi_app, path: str, method: str = "GET", host: str = "localhost") -> tuple[str, list, bytes]:
    """(status, headers, body) of one request handed straight to a WSGI callable."""
    environ = EnvironBuilder(path=path, method=method, headers={"Host": host}).get_environ()
    answered = []
    body = wsgi_app(environ, lambda status, headers, exc_info=None: answered.append((status, headers)))
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return answered[0][0], answered[0][1], data


def headers_but_length(headers: list) -> list:
    """The headers without Content-Length (``took_ms`` may have more digits in one answer than another)."""
    return [(name, value) for name, value in headers if name != "Content-Length"]


def without_took_ms(body: bytes) -> dict:
    data = json.loads(body)
    data.pop("took_ms", None)
    return data


def search_route(app) -> SearchRoute:
    route = app.wsgi_app.app  # HostCheck, then the search route, then Flask
    assert isinstance(route, SearchRoute)
    return route


ROUTED = ["/api/search?q=harbour", "/api/search?q=harbour+pilots&sort=date&per_page=3&page=2",
          "/api/search?q=&collapse=false&missing=date", "/api/search?q=%22oil+prices%22&explain=true",
          "/api/search?q=harbr", "/api/search?q=harbour&q=oil&snippets=false&facets=false",
          "/api/search?q=caf%C3%A9%20%E9&from=2020", "/api/search?q=a%ZZb&source=Plain+Paper&source=",
          "/api/search?page=x&q=a", "/api/search?q=a&after=forged", "/api/search?q=a&per_page=1000"]


@pytest.mark.parametrize("path", ROUTED)
def test_the_search_route_answers_exactly_as_flask(app, path):
    """``GET /api/search`` skips Flask's request handling (``SearchRoute``): the same status, headers and JSON,
    a bad request's 400 JSON included."""
    route = search_route(app)
    fast, slow = wsgi_call(route, path), wsgi_call(route.app, path)
    assert fast[0] == slow[0] and headers_but_length(fast[1]) == headers_but_length(slow[1])
    assert dict(fast[1])["Content-Length"] == str(len(fast[2]))
    assert without_took_ms(fast[2]) == without_took_ms(slow[2])
    assert fast[0] == "200 OK" or json.loads(fast[2])["error"]["code"]


def test_the_search_route_follows_a_cursor(app):
    route = search_route(app)
    first = json.loads(route.answer(EnvironBuilder(path="/api/search", query_string="q=&per_page=2")
                                    .get_environ()))
    assert first["next"]
    path = "/api/search?" + urlencode({"q": "", "per_page": 2, "after": first["next"]})
    fast, slow = wsgi_call(route, path), wsgi_call(route.app, path)
    assert fast[0] == slow[0] == "200 OK" and headers_but_length(fast[1]) == headers_but_length(slow[1])
    assert without_took_ms(fast[2]) == without_took_ms(slow[2])
    assert {h["id"] for h in json.loads(fast[2])["hits"]}.isdisjoint(h["id"] for h in first["hits"])


@pytest.mark.parametrize("method, path, host, status", [
    ("POST", "/api/search?q=a", "localhost", 405), ("HEAD", "/api/search?q=a", "localhost", 200),
    ("GET", "/api/search/?q=a", "localhost", 404), ("GET", "/api/search?q=a", "a..b", 400),
])
def test_other_requests_to_the_search_path_are_flasks(app, method, path, host, status):
    answered = wsgi_call(app.wsgi_app, path, method, host)
    assert answered[0].startswith(str(status))
    assert ("X-Frame-Options", "DENY") in answered[1]
    if method == "HEAD":
        assert answered[2] == b""
    else:
        assert json.loads(answered[2])["error"]["code"]
