"""The real CLI in subprocesses: exit codes, summaries, the same answers as the API."""
from __future__ import annotations

import json
import re

import pytest

from searchsvc.indexer import bundled_sample

from conftest import page, run_cli, write


@pytest.fixture()
def src(tmp_path):
    write(tmp_path / "src/a.html", page("Ferry strike", "Ferry crews walked out over pay.", date="2024-02-02", source="Coast Post"))
    write(tmp_path / "src/b.txt", "Bridge closed\n\nThe old bridge closed for repairs.\n")
    write(tmp_path / "src/bad.html", "")
    return tmp_path / "src"


def test_reindex_search_stats_roundtrip(src, tmp_path):
    ix = tmp_path / "ix"
    first = run_cli("reindex", src, "--index", ix)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1].startswith("full rebuild: added 2, updated 0, removed 0, skipped 1")
    assert "bad.html: empty file" in first.stderr and "Traceback" not in first.stderr

    again = run_cli("reindex", "--index", ix)
    # nothing re-read but bad.html, which is tried again and named again
    assert again.returncode == 0 and "added 0, updated 0, removed 0, skipped 1, unchanged 2" in again.stdout

    found = run_cli("search", "strikes", "--index", ix)
    assert found.returncode == 0 and "Ferry strike" in found.stdout and "1 result" in found.stdout

    stats = json.loads(run_cli("stats", "--json", "--index", ix).stdout)
    assert stats["documents"] == 2 and stats["sources"] == ["Coast Post"]
    assert "documents:    2" in run_cli("stats", "--index", ix).stdout


def test_index_from_environment(src, tmp_path):
    ix = tmp_path / "env-ix"
    assert run_cli("reindex", src, env={"SEARCHSVC_INDEX": str(ix)}).returncode == 0
    assert (ix / "CURRENT").exists()
    out = run_cli("search", "bridge", "--json", env={"SEARCHSVC_INDEX": str(ix)})
    assert json.loads(out.stdout)["total"] == 1


def test_search_json_equals_the_api(app, sample_settings):
    cli = json.loads(run_cli("search", "council budget", "--json", "--limit", "5", "--index", sample_settings.index).stdout)
    api = app.test_client().get("/api/search?q=council budget&per_page=5").get_json()
    for data in (cli, api):
        data.pop("took_ms")
    assert cli == api


def test_batch_trec_uses_the_same_ranking(sample_settings, tmp_path, app):
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tcouncil budget\n2\twhat happened at the port? (strike)\n", encoding="utf-8")
    out = run_cli("search", "--batch", queries, "--format", "trec", "--limit", "5", "--index", sample_settings.index)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert all(len(parts) == 6 and parts[1] == "Q0" and parts[5] == "searchsvc" for parts in lines)
    for qid, q in (("1", "council budget"), ("2", "what happened at the port? (strike)")):
        run = [parts[2] for parts in lines if parts[0] == qid]
        assert [int(p[3]) for p in lines if p[0] == qid] == list(range(1, len(run) + 1))
        api = app.test_client().get("/api/search", query_string={"q": q, "per_page": 5}).get_json()
        assert run == [h["id"] for h in api["hits"]]


def test_batch_json(sample_settings):
    out = run_cli("search", "--batch", "-", "--format", "json", "--index", sample_settings.index, input="q1\theat wave\n")
    record = json.loads(out.stdout)
    assert record["qid"] == "q1" and record["total"] >= 1


@pytest.mark.parametrize("args, message", [
    (("reindex", "/definitely/not/here"), "Error: source not found: /definitely/not/here"),
    (("search", "x"), "Error: no index at"),
    (("stats",), "Error: no index at"),
])
def test_errors_are_one_line_exit_1(tmp_path, args, message):
    out = run_cli(*args, "--index", tmp_path / "ix")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(message) and len(out.stderr.strip().splitlines()) == 1


def test_unwritable_index_folder(tmp_path, src):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = run_cli("reindex", src, "--index", blocker / "ix")
    assert out.returncode == 1 and out.stderr.startswith("Error: index folder") and "Traceback" not in out.stderr


def test_no_source_ever_given_indexes_the_sample(tmp_path):
    out = run_cli("reindex", "--index", tmp_path / "ix")
    assert out.returncode == 0, out.stderr
    assert re.search(r"added (\d+), .* skipped 0", out.stdout) and int(re.search(r"added (\d+)", out.stdout)[1]) >= 30
    stats = json.loads(run_cli("stats", "--json", "--index", tmp_path / "ix").stdout)
    assert stats["source_paths"] == [str(bundled_sample())]


def test_reindex_plain_text_broken_title_and_headline_only_brief(tmp_path):
    """The shapes articles reach us in: site prompts under a .txt story, an unclosed <title>, a wire brief."""
    src, ix = tmp_path / "src", tmp_path / "ix"
    write(src / "ferry.txt", "Ferry fares to rise in spring\nFerry fares to rise in spring\n\n"
          "Fares on the harbour ferry will rise by a tenth in April, the operator said on Monday.\n\n"
          "The operator blamed the price of fuel.\n\n\n"
          "Please let us know if you're having issues with commenting.\n")
    write(src / "barge.html", "<html><head><title>Barge strikes rail bridge</head><body><div><p>A loaded barge "
          "struck the rail bridge over the estuary on Monday, closing the line while engineers inspect it.</p>"
          "</div></body></html>")
    write(src / "brief.html", "<html><body><article><h1>VIACOM INTERNATIONAL INC GETS ANOTHER NEW NATIONAL "
          "AMUSEMENTS BID</h1></article></body></html>")
    write(src / "nothing.html", "<html><body><nav>Home</nav></body></html>")
    out = run_cli("reindex", src, "--index", ix)
    assert out.returncode == 0, out.stderr
    assert "added 3, updated 0, removed 0, skipped 1" in out.stdout
    assert "nothing.html: no article text found" in out.stderr and "Traceback" not in out.stderr

    def hits(query: str) -> list[dict]:
        found = run_cli("search", query, "--json", "--index", ix)
        assert found.returncode == 0, found.stderr
        return json.loads(found.stdout)["hits"]

    assert hits("commenting") == [] and hits('"having issues"') == []
    assert [(h["id"], h["title"]) for h in hits("fuel fares")] == [("ferry.txt", "Ferry fares to rise in spring")]
    assert [(h["id"], h["title"]) for h in hits("estuary engineers")] == [("barge.html", "Barge strikes rail bridge")]
    assert [h["id"] for h in hits("Viacom amusements")] == ["brief.html"]
