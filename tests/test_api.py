"""The JSON API through the real Flask app: the response contract and the error shape."""
from __future__ import annotations

import pytest

from conftest import make_settings
from searchsvc.web import create_app

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
