"""Reindexing on a real on-disk index: incremental add/update/remove, full swap, bad files."""
from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import pytest

from conftest import HANG_GUARD, make_settings, page, search_ids, write
from searchsvc import schema
from searchsvc.errors import IndexBusy, SourceError
from searchsvc.indexer import index_stats, reindex
from searchsvc.search import SearchIndex, get_article
from searchsvc.store import IndexHome


@pytest.fixture()
def corpus(tmp_path) -> Path:
    src = tmp_path / "articles"
    write(src / "city/budget.html", page("Council approves budget", "The council approved the budget for roads.", date="2024-03-01", source="Harbor Gazette"))
    write(src / "city/heat.html", page("Heat wave grips the city", "Temperatures climbed as the heat wave continued.", date="2024-07-02", source="Valley Courier"))
    write(src / "notes.txt", "Library reopens\n\nThe renovated library reopened its doors on Monday.\n")
    write(src / "feed.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "wire-1", "title": "Port strike ends", "text": "Dock workers ended their strike.", "published": "2023-05-01", "source": "Wire"},
        {"id": "wire-2", "title": "Ferry timetable", "body": "The ferry adds a late sailing.", "topics": ["transport"]},
        {"id": "wire-3", "title": "Bakery prize", "html": "<p>A bakery won the national bread prize.</p>"},
    ]) + "\n")
    return src


def test_first_reindex_adds_every_document(corpus, tmp_settings):
    report = reindex(tmp_settings, [corpus])
    assert (report.added, report.updated, report.removed, report.skipped) == (6, 0, 0, 0)
    assert report.documents == 6 and report.full
    ix = SearchIndex(tmp_settings)
    assert search_ids(ix, "council budget") == ["city/budget.html"]
    assert search_ids(ix, "bread prize") == ["wire-3"]
    assert get_article(ix, "notes.txt").title == "Library reopens"


def test_ids_are_relative_paths_or_record_ids_or_file_names(corpus, tmp_settings):
    reindex(tmp_settings, [corpus, corpus / "notes.txt"])
    ids = set(search_ids(SearchIndex(tmp_settings), "", per_page=50))
    assert {"city/budget.html", "city/heat.html", "notes.txt", "wire-1", "wire-2", "wire-3"} <= ids


def test_noop_reindex_reads_nothing(corpus, tmp_settings):
    reindex(tmp_settings, [corpus])
    report = reindex(tmp_settings)  # no sources: the ones the index was built from
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 4)
    assert not report.full


def test_incremental_update_add_and_remove(corpus, tmp_settings):
    reindex(tmp_settings, [corpus])
    ix = SearchIndex(tmp_settings)
    assert search_ids(ix, "council") == ["city/budget.html"]  # the long-lived searcher is open

    write(corpus / "city/budget.html", page("Council rejects budget", "The council rejected the tramway plan.", date="2024-03-02"))
    write(corpus / "new/flood.html", page("Flood defences finished", "The flood wall is finished.", date="2025-01-05"))
    (corpus / "city/heat.html").unlink()
    lines = (corpus / "feed.jsonl").read_text().splitlines()
    (corpus / "feed.jsonl").write_text("\n".join(lines[:2]) + "\n")  # wire-3 gone

    report = reindex(tmp_settings)
    assert (report.added, report.updated, report.removed) == (1, 3, 2)
    assert search_ids(ix, "tramway") == ["city/budget.html"]
    assert search_ids(ix, "heat wave") == []          # a deleted article disappears
    assert search_ids(ix, "bread prize") == []        # so does a removed JSON Lines record
    assert search_ids(ix, "flood defences") == ["new/flood.html"]
    assert get_article(ix, "city/budget.html").title == "Council rejects budget"


def test_full_rebuild_swaps_generation_and_keeps_old_one_serving_until_then(corpus, tmp_settings):
    reindex(tmp_settings, [corpus])
    home = IndexHome(tmp_settings.index)
    first = home.live_dir()
    ix = SearchIndex(tmp_settings)
    searcher = ix.searcher()
    write(corpus / "late.html", page("Late story", "A late arrival about archipelago ferries."))
    report = reindex(tmp_settings, full=True)
    assert report.full and report.added == 7
    assert home.live_dir() != first and not first.exists()
    assert searcher.document(id="late.html") is None    # the old snapshot stays consistent
    assert search_ids(ix, "archipelago") == ["late.html"]  # the next search sees the new generation


def test_bad_files_are_named_and_the_rest_goes_in(tmp_path, tmp_settings):
    src = tmp_path / "src"
    write(src / "good.html", page("Good story", "Solid reporting about desalination plants."))
    write(src / "empty.html", "")
    write(src / "binary.html", bytes(range(256)) * 40)
    write(src / "nothing.html", "<html><body><nav>Home</nav></body></html>")
    write(src / "bad.jsonl", '{"id": "ok-1", "title": "Fine", "text": "Fine text"}\nnot json\n{"title": "no id"}\n')
    (src / "folder.html").mkdir()
    os.symlink(src / "missing.html", src / "dangling.html")
    os.symlink(src, src / "loop")
    report = reindex(tmp_settings, [src])
    reasons = {Path(p.name).name: p.reason for p in report.problems}
    assert report.added == 2 and report.skipped == len(report.problems) == 6
    assert reasons["empty.html"] == "empty file"
    assert reasons["binary.html"] == "binary content, not text"
    assert reasons["nothing.html"] == "no article text found"
    assert reasons["dangling.html"] == "dangling symbolic link"
    assert "not JSON" in reasons["bad.jsonl:2"] and reasons["bad.jsonl:3"] == "record has no id"
    assert search_ids(SearchIndex(tmp_settings), "desalination") == ["good.html"]


BRIEF = "VIACOM INTERNATIONAL INC GETS ANOTHER NEW NATIONAL AMUSEMENTS BID"
BRIEFS = {
    "brief.html": f"<html><body><article><h1>{BRIEF}</h1></article></body></html>",
    "brief.txt": f"{BRIEF}\n",
    "brief.jsonl": json.dumps({"id": "brief-1", "title": BRIEF, "html": "<nav><a href='/'>Home</a></nav>"}) + "\n",
}


@pytest.mark.parametrize("name, text", BRIEFS.items(), ids=BRIEFS.keys())
def test_headline_only_brief_is_indexed_with_its_headline_as_text(tmp_path, tmp_settings, name, text):
    write(tmp_path / "src" / name, text)
    write(tmp_path / "src/nothing.html", "<html><body><nav>Home</nav><p>  </p></body></html>")
    report = reindex(tmp_settings, [tmp_path / "src"])
    assert (report.added, report.skipped) == (1, 1)
    ix = SearchIndex(tmp_settings)
    [doc_id] = search_ids(ix, "Viacom amusements")
    article = get_article(ix, doc_id)
    assert (article.title, article.body) == (BRIEF, BRIEF)
    # ranked on its headline once, as an article with a body is: not twice (title and text)
    s = ix.searcher()
    docnum = s.document_number(id=doc_id)
    assert s.reader().doc_field_length(docnum, schema.CONTENT) == s.reader().doc_field_length(docnum, schema.TITLE)


def test_oversized_file_is_skipped_with_the_limit(tmp_path):
    settings = make_settings(tmp_path / "ix", max_file_bytes=1024)
    write(tmp_path / "src/big.txt", "Big\n\n" + "word " * 1000)
    write(tmp_path / "src/small.txt", "Small\n\nA short one.")
    report = reindex(settings, [tmp_path / "src"])
    assert report.added == 1
    assert "limit per file" in report.problems[0].reason


def test_missing_source_is_an_error(tmp_settings, tmp_path):
    with pytest.raises(SourceError, match="source not found"):
        reindex(tmp_settings, [tmp_path / "nope"])


def test_second_reindex_waits_then_says_busy(corpus, tmp_settings):
    reindex(tmp_settings, [corpus])
    home = IndexHome(tmp_settings.index)
    held, release = threading.Event(), threading.Event()

    def hold():
        with home.reindex_lock(HANG_GUARD):
            held.set()
            release.wait(HANG_GUARD)  # until the test is done with the lock (set in its finally)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(HANG_GUARD)
    try:
        with pytest.raises(IndexBusy, match="another reindex"):
            reindex(tmp_settings.replace(writer_timeout=0.3))
    finally:
        release.set()
        t.join()
    assert reindex(tmp_settings).unchanged == 4


def test_stats(corpus, tmp_settings):
    reindex(tmp_settings, [corpus])
    stats = index_stats(tmp_settings)
    assert stats["documents"] == 6 and stats["files"] == 4
    assert stats["sources"] == ["Harbor Gazette", "Valley Courier", "Wire"]
    assert stats["size_bytes"] > 0 and stats["last_reindex"]


def test_file_without_article_is_named_again_but_read_again_only_once_it_changes(tmp_path, tmp_settings):
    src = tmp_path / "src"
    write(src / "good.html", page("Good story", "Solid reporting about desalination plants."))
    odd = write(src / "odd.html", bytes(range(256)) * 40)
    first = reindex(tmp_settings, [src])
    assert [(Path(p.name).name, p.reason) for p in first.problems] == [("odd.html", "binary content, not text")]
    # same size and modification time, new content: the manifest decides before any read
    st = odd.stat()
    article = page("Odd story", "Reporting about tidal turbines.")
    odd.write_text(article + " " * (st.st_size - len(article.encode())), encoding="utf-8")
    os.utime(odd, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = reindex(tmp_settings)
    assert (again.added, again.skipped, again.unchanged) == (0, 1, 1)
    assert again.problems[0].reason == "binary content, not text"
    os.utime(odd, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = reindex(tmp_settings)
    assert (changed.added, changed.skipped) == (1, 0)
    assert search_ids(SearchIndex(tmp_settings), "turbines") == ["odd.html"]



def story(seed: int, words: int = 160) -> str:
    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(3000)]
    return " ".join(rng.choices(vocabulary, k=words))


def test_incremental_reindex_groups_a_near_copy_with_the_story_already_indexed(tmp_path, tmp_settings):
    from searchsvc.search import SearchRequest, search

    src = tmp_path / "articles"
    original = story(1)
    boilerplate = " ".join(f"b{n}" for n in range(12))  # a shingle every story shares (a key in thousands)
    write(src / "a.html", page("Harbor pact", f"{boilerplate} {original}"))
    for i in range(80):
        write(src / f"other{i:02d}.html", page(f"Other {i}", f"{boilerplate} {story(100 + i)}"))
    reindex(tmp_settings, [src])
    edited = original.split()
    edited[40:44] = ["changed", "words", "in", "copy"]
    write(src / "b.html", page("Harbor pact (update)", f"{boilerplate} {' '.join(edited)}"))
    write(src / "c.html", page("Unrelated", f"{boilerplate} {story(999)}"))
    report = reindex(tmp_settings, [src])
    assert (report.added, report.unchanged) == (2, 81)
    hits = search(SearchIndex(tmp_settings), SearchRequest(q="harbor pact", per_page=50)).hits
    assert [(h.id, [d.id for d in h.duplicates]) for h in hits] == [("a.html", ["b.html"])]
    singles = search(SearchIndex(tmp_settings), SearchRequest(q="unrelated")).hits
    assert [(h.id, h.duplicates) for h in singles] == [("c.html", [])]


def test_an_update_of_more_files_than_the_bound_is_a_full_rebuild(corpus, tmp_settings, monkeypatch):
    from searchsvc import indexer

    before = reindex(tmp_settings, [corpus]).documents
    monkeypatch.setattr(indexer, "LARGE_UPDATE_FILES", 1)
    write(corpus / "city/new1.html", page("Tram line opens", "The new tram line opened."))
    write(corpus / "city/new2.html", page("Market hall", "The market hall reopened."))
    report = reindex(tmp_settings)  # the same sources, scanned again: two changed files, over the bound
    assert report.full and report.documents == before + 2
    assert search_ids(SearchIndex(tmp_settings), "tram") == ["city/new1.html"]
    write(corpus / "city/new3.html", page("Ferry pier", "A ferry pier was built."))
    assert not reindex(tmp_settings).full  # one changed file: an update


def segment_ids(index: Path) -> list[str]:
    return sorted(s.segment_id() for s in IndexHome(index).open_index()._segments())


def test_updates_merge_their_own_small_segments_and_never_a_full_builds(tmp_path, monkeypatch):
    """Incremental commits merge segments of one size class once enough gathered, within a budget; the full
    build's segments (most of the index) stay as they are, where Whoosh's MERGE_SMALL merges them."""
    from whoosh.writing import MERGE_SMALL

    from searchsvc import indexer

    monkeypatch.setattr(indexer, "SEGMENT_POSTINGS", 40)  # a build segment every two or three articles
    monkeypatch.setattr(indexer, "MERGE_SMALLEST", 1)     # classes: 1 article, 2-10, 11-100
    monkeypatch.setattr(indexer, "MERGE_FANOUT", 4)
    monkeypatch.setattr(indexer, "MERGE_BUDGET", 4)
    src = tmp_path / "src"
    words = "harbour tide ferry dock crane barge quay pier buoy lock".split()
    for i in range(30):
        write(src / f"build{i:02d}.html", page(f"Report {i} {words[i % 10]}",
                                               " ".join(f"{w}{i}" for w in words) + f" {words[i % 10]} story."))
    settings = make_settings(tmp_path / "index")
    reindex(settings, [src])
    built = segment_ids(settings.index)
    assert len(built) >= 8
    ix = IndexHome(settings.index).open_index()
    writer = ix.writer()
    try:
        assert len(MERGE_SMALL(writer, ix._segments())) < len(built)  # Whoosh's policy would merge the build's
    finally:
        writer.cancel()

    for i in range(5):  # four one-article segments, then the fifth commit merges them into its own
        write(src / f"update{i}.html", page(f"Update {i} lighthouse", f"The lighthouse keeper wrote update {i}."))
        report = reindex(settings, [src])
        assert report.added == 1
        assert set(built) <= set(segment_ids(settings.index))
    assert len(segment_ids(settings.index)) == len(built) + 1
    write(src / "build03.html", page("Report 3 rewritten", "The crane story was rewritten."))
    assert reindex(settings, [src]).updated == 1
    assert set(built) <= set(segment_ids(settings.index))
    index = SearchIndex(settings)
    try:
        assert len(search_ids(index, "lighthouse", per_page=50)) == 5
        assert search_ids(index, "rewritten") == ["build03.html"]
        assert search_ids(index, "crane3") == []  # the old version is gone
        assert len(search_ids(index, "story", per_page=50)) == 30
    finally:
        index.close()


@pytest.mark.parametrize("articles, budget", [(0, 20_000), (21_577, 20_000), (215_770, 20_000),
                                              (2_006_661, 100_333)])
def test_a_commit_merges_at_most_a_twentieth_of_a_large_index(articles, budget):
    from searchsvc.indexer import merge_budget

    assert merge_budget(articles) == budget
