"""`searchsvc export`: every article as cleaned, in the JSON Lines form `reindex` reads; a round trip changes nothing."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import make_settings, page, run_cli, write
from searchsvc.indexer import reindex
from searchsvc.search import SearchIndex, SearchRequest, search

QUERIES = [
    SearchRequest(q="strike"),
    SearchRequest(q="port strike", per_page=5, page=2),
    SearchRequest(q='"city council"'),
    SearchRequest(q="flood -sandbags", sort="date"),
    SearchRequest(q="", sort="date", per_page=50),
    SearchRequest(q="record", sort="recent", collapse=False),
    SearchRequest(q="gull", collapse=True),
    SearchRequest(q="harbour", sources=("Harbor Gazette",)),
]


@pytest.fixture(scope="module")
def original(tmp_path_factory, sample_dir):
    """The sample corpus, a near-duplicate pair and JSON Lines records with topics, authors and urls."""
    root = tmp_path_factory.mktemp("export")
    src = root / "src"
    shutil.copytree(sample_dir, src / "sample")
    story = ("The gull colony on the north cliff was counted by volunteers on Sunday, who found more nests than in "
             "any year since the count began, the trust said. ") * 4
    write(src / "wire/gulls.html", page("Gull colony grows", story, date="2025-05-04T08:15:30Z", source="Wire"))
    write(src / "copy/gulls.html", page("Gull colony grows again", story + "Photos by the trust.",
                                         date="2025-05-04", source="Coast Daily", author="A. Okafor"))
    write(src / "feed.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "rec-1", "title": "Ferry timetable changes", "body": "The ferry runs hourly from June.",
         "url": "https://example.org/ferry", "published": "2024-06-01T06:00:00+02:00", "author": "Desk",
         "source": "Harbor Gazette", "topics": ["transport", "ferries"]},
        {"id": "rec-2", "title": "Élan café reopens", "text": "The café on the quay reopened after the storm.",
         "topics": "food"},
    ]) + "\n")
    settings = make_settings(root / "index")
    reindex(settings, [src])
    return settings


def responses(settings, requests) -> list[dict]:
    index = SearchIndex(settings)
    try:
        out = []
        for req in requests:
            data = search(index, req).to_dict()
            data.pop("took_ms")
            data.pop("next")  # a cursor names the index generation it pages through
            out.append(data)
        return out
    finally:
        index.close()


def exported(index, out) -> list[dict]:
    r = run_cli("export", out, "--index", index)
    assert r.returncode == 0, r.stderr
    lines = out.read_text("utf-8").splitlines()
    assert r.stderr.strip() == f"exported {len(lines)} articles to {out}"
    return [json.loads(line) for line in lines]


def test_export_writes_every_article_as_cleaned(original, tmp_path):
    records = exported(original.index, tmp_path / "out.jsonl")
    by_id = {r["id"]: r for r in records}
    assert len(by_id) == len(records) == responses(original, [SearchRequest(collapse=False)])[0]["total"]
    assert set(records[0]) == {"id", "title", "text", "url", "published", "author", "source", "topics", "group"}
    assert by_id["rec-1"] == {
        "id": "rec-1", "title": "Ferry timetable changes", "text": "The ferry runs hourly from June.",
        "url": "https://example.org/ferry", "published": "2024-06-01T04:00:00Z", "author": "Desk",
        "source": "Harbor Gazette", "topics": ["transport", "ferries"], "group": "rec-1"}
    assert by_id["rec-2"]["title"] == "Élan café reopens" and by_id["rec-2"]["topics"] == ["food"]
    wire, copy = by_id["wire/gulls.html"], by_id["copy/gulls.html"]
    assert wire["group"] == copy["group"] in ("wire/gulls.html", "copy/gulls.html")
    assert copy["author"] == "A. Okafor" and copy["source"] == "Coast Daily"
    assert "Contact us" not in wire["text"] and wire["text"].startswith("The gull colony")
    assert wire["published"] == "2025-05-04T08:15:30Z"


def test_round_trip_gives_the_same_search_results(original, tmp_path):
    records = exported(original.index, tmp_path / "out.jsonl")
    again = make_settings(tmp_path / "again")
    r = run_cli("reindex", tmp_path / "out.jsonl", "--index", again.index)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert responses(again, QUERIES) == responses(original, QUERIES)
    assert exported(again.index, tmp_path / "again.jsonl") == records  # every field, groups included


def test_export_to_stdout_and_errors(original, tmp_path):
    r = run_cli("export", "-", "--index", original.index)
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["id"]
    r = run_cli("export", tmp_path / "x.jsonl", "--index", tmp_path / "nothing")
    assert r.returncode == 1 and r.stderr.startswith("Error: no index at") and not (tmp_path / "x.jsonl").exists()
    r = run_cli("export", tmp_path / "missing/x.jsonl", "--index", original.index)
    assert r.returncode == 1 and r.stderr.startswith("Error: cannot write") and "Traceback" not in r.stderr
