"""Hostile files: each bad one is skipped (named with its reason on stderr, counted) or handled; the rest go in.

One real ``searchsvc reindex`` over a folder of trouble (a 100 MB text file,
a 100 MB JSON Lines record, a page nested 100,000 elements deep, NUL bytes,
bad encodings, link loops, a dangling link, a folder named ``x.html``, a
file name that is not UTF-8), then checks on its summary, its stderr and
the index. Unreadable files are tested with the capabilities that let root
read anything dropped; a file deleted between the scan and its reading
uses the reindex's own progress hook to delete it at that moment.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import HANG_GUARD, make_settings, page, write
from searchsvc.indexer import reindex
from searchsvc import sources
from searchsvc.search import SearchIndex, SearchRequest, get_article, search
from searchsvc.web import create_app

MB = 1024 * 1024
GOOD = page("Ferry timetable changes", "The ferry company changed its winter timetable for the island route.")


def write_big(path: Path, head: bytes, fill: bytes, size: int, tail: bytes = b"") -> Path:
    """A file of about ``size`` bytes written in 1 MB pieces (never held whole here either)."""
    chunk = fill * (MB // len(fill))
    with open(path, "wb") as f:
        f.write(head)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.write(tail)
    return path


def summary_counts(stdout: str) -> dict[str, int]:
    """added/updated/removed/skipped/unchanged from the reindex summary line."""
    return {k: int(v) for k, v in re.findall(r"(added|updated|removed|skipped|unchanged) (\d+)", stdout)}


def ids_in(index: Path) -> set[str]:
    result = search(SearchIndex(make_settings(index)), SearchRequest(q="", per_page=100, with_facets=False))
    return {h.id for h in result.hits}


def run_measured(args: list[str], timeout: float = HANG_GUARD) -> tuple[subprocess.CompletedProcess, int]:
    """``python -m searchsvc ARGS`` in a subprocess; (its result, its peak resident memory in bytes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "searchsvc", *args], stdout=out, stderr=err, env=env)
        guard = threading.Timer(timeout, proc.kill)
        guard.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so its own usage can be read
        finally:
            guard.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read()), usage.ru_maxrss * 1024


@pytest.fixture(scope="module")
def trouble(tmp_path_factory) -> dict:
    """A folder of hostile files next to good ones, indexed once by the real CLI."""
    root = tmp_path_factory.mktemp("trouble")
    src = root / "src"
    write(src / "good.html", GOOD)
    write(src / "nul.txt", b"Nul bytes inside\n\nThe lighthouse\x00 keeper\x00 retired after forty years.\n")
    write(src / "all-nul.txt", b"\x00" * 4096)
    write(src / "latin1.txt", "Café opens\n\nThe café by the harbour serves crème brûlée.\n".encode("latin-1"))
    write(src / "broken-utf8.html", b"<html><head><meta charset='utf-8'><title>Broken \xc3\x28 bytes</title></head>"
          b"<body><article><h1>Broken bytes</h1><p>The quarry \xff\xfe reopened after the storm damage "
          b"was repaired by the county engineers.</p></article></body></html>")
    write(src / "empty.txt", b"")
    write(src / "deep.html", "<html><body>" + "<div>" * 100_000 + "The glacier retreated again this summer. "
          * 10 + "</div>" * 100_000 + "</body></html>")
    write_big(src / "huge.txt", b"Huge file\n\n", b"rain falls on the bay ", 100 * MB)
    write_big(src / "huge.jsonl", b'{"id": "huge", "title": "huge", "body": "', b"tide ", 100 * MB,
              b'"}\n{"id": "small-record", "title": "Small record", "body": "The marina expands."}\n')
    write(src / "feed.jsonl", json.dumps({"id": "bad-\ud800-id", "title": "Lone \udcff surrogate",
                                          "body": "The pier \ud83d collapsed."}) + "\n")
    write(src / "x.html" / "inside.txt", "Inside a folder named x.html\n\nThe orchard harvest was early.\n")
    os.symlink("loop.html", src / "loop.html")                 # a link to itself
    os.symlink("nowhere.html", src / "dangling.html")          # a link to nothing
    os.symlink("..", src / "x.html" / "up")                    # a folder link loop: never followed
    odd_name = os.fsencode(src) + b"/caf\xe9-menu.txt"         # a file name that is not UTF-8
    with open(odd_name, "wb") as f:
        f.write(b"Menu of the day\n\nThe menu lists smoked mackerel.\n")

    index = root / "index"
    result, rss = run_measured(["reindex", str(src), "--index", str(index)])
    assert result.returncode == 0, result.stderr
    return {"src": src, "index": index, "result": result, "rss": rss, "ids": ids_in(index)}


@pytest.mark.slow
@pytest.mark.parametrize("name, reason", [
    ("huge.txt", "larger than the 20 MiB limit"),
    ("huge.jsonl:1", "record longer than 20 MiB"),
    ("all-nul.txt", "binary content"),
    ("empty.txt", "empty file"),
    ("loop.html", "Too many levels of symbolic links"),
    ("dangling.html", "dangling symbolic link"),
])
def test_bad_file_is_named_on_stderr_with_its_reason(trouble, name, reason):
    lines = [l for l in trouble["result"].stderr.splitlines() if l.startswith("skipped ")]
    assert any(name in l and reason in l for l in lines), trouble["result"].stderr


@pytest.mark.slow
def test_summary_counts_every_skipped_file_and_the_rest_go_in(trouble):
    result = trouble["result"]
    skipped = [l for l in result.stderr.splitlines() if l.startswith("skipped ")]
    counts = summary_counts(result.stdout)
    assert counts["skipped"] == len(skipped) >= 6
    assert counts["added"] == len(trouble["ids"])
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("doc_id, query", [
    ("good.html", "winter timetable"),
    ("nul.txt", "lighthouse keeper"),
    ("latin1.txt", "crème brûlée"),
    ("broken-utf8.html", "quarry reopened"),
    ("x.html/inside.txt", "orchard harvest"),
    ("small-record", "marina"),
    ("caf\ufffd-menu.txt", "smoked mackerel"),
    ("bad-\ufffd-id", "pier collapsed"),
])
def test_good_and_repairable_files_are_indexed(trouble, doc_id, query):
    ix = SearchIndex(make_settings(trouble["index"]))
    assert doc_id in {h.id for h in search(ix, SearchRequest(q=query)).hits}


@pytest.mark.slow
def test_deep_page_is_indexed_or_named(trouble):
    if "deep.html" not in trouble["ids"]:
        assert re.search(r"skipped \S*deep\.html: \S", trouble["result"].stderr)


@pytest.mark.slow
def test_folder_link_loop_is_not_followed(trouble):
    assert not any("/up/" in i or i.startswith("up/") for i in trouble["ids"]), trouble["ids"]


@pytest.mark.slow
def test_memory_stays_below_the_size_of_one_huge_file(trouble, tmp_path):
    """Two 100 MB files cost the reindex less memory than either holds: at most 20 MiB is read per file."""
    src = tmp_path / "small"
    write(src / "good.html", GOOD)
    baseline, base_rss = run_measured(["reindex", str(src), "--index", str(tmp_path / "index")])
    assert baseline.returncode == 0, baseline.stderr
    shutil.copy(trouble["src"] / "huge.txt", src / "huge.txt")
    shutil.copy(trouble["src"] / "huge.jsonl", src / "huge.jsonl")
    result, rss = run_measured(["reindex", str(src), "--index", str(tmp_path / "index2")])
    assert result.returncode == 0 and summary_counts(result.stdout)["skipped"] == 2, result.stderr
    assert rss - base_rss < 80 * MB, (rss, base_rss)


def can_drop_read_override() -> str | None:
    """Why unreadable files cannot be tested here, or None when they can."""
    if os.geteuid() != 0:
        return None
    if not shutil.which("setpriv"):
        return "running as root without setpriv: root reads files whatever their mode"
    probe = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        return f"running as root and setpriv cannot drop CAP_DAC_OVERRIDE here: {probe.stderr.decode()[:200]}"
    return None


def test_unreadable_file_and_folder_are_named_and_the_rest_go_in(tmp_path):
    reason = can_drop_read_override()
    if reason:
        pytest.skip(reason)
    src = tmp_path / "src"
    write(src / "good.html", GOOD)
    write(src / "secret.txt", "Secret\n\nNobody may read this file about the harbour.\n").chmod(0)
    write(src / "locked" / "inner.txt", "Locked\n\nInside a folder nobody may open.\n")
    (src / "locked").chmod(0)
    try:
        # root reads anything; without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH it obeys the modes like anyone
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
        result = subprocess.run([*prefix, sys.executable, "-m", "searchsvc", "reindex", str(src),
                                 "--index", str(tmp_path / "index")],
                                capture_output=True, text=True, env=env, timeout=HANG_GUARD)
    finally:
        (src / "locked").chmod(0o755)
        (src / "secret.txt").chmod(0o644)
    assert result.returncode == 0, result.stderr
    skipped = [l for l in result.stderr.splitlines() if l.startswith("skipped ")]
    assert any("secret.txt" in l and "Permission denied" in l for l in skipped), result.stderr
    assert any("locked" in l and "Permission denied" in l for l in skipped), result.stderr
    assert summary_counts(result.stdout)["skipped"] == len(skipped) == 2
    assert ids_in(tmp_path / "index") == {"good.html"}


class DeleteWhenReadingStarts:
    """A progress bar (the reindex's own hook) that deletes ``victim`` once the first file has been read."""

    def __init__(self, victim: Path):
        self.victim = victim

    def __call__(self, total: int):
        return self

    def update(self, n: int) -> None:
        if self.victim.exists():
            self.victim.unlink()

    def close(self) -> None:
        pass


def test_file_deleted_between_scan_and_read_is_named_and_the_rest_go_in(tmp_path):
    src = tmp_path / "src"
    write(src / "a-first.html", GOOD)
    victim = write(src / "m-middle.txt", "Vanishing\n\nThis file is deleted mid-scan.\n")
    write(src / "z-last.txt", "Last one\n\nThe bridge repairs finished.\n")
    settings = make_settings(tmp_path / "index")  # workers=1: files are read one by one, in order
    report = reindex(settings, [src], progress=DeleteWhenReadingStarts(victim))
    assert [(p.name, p.reason) for p in report.problems] == [(str(victim), "No such file or directory")]
    assert report.skipped == 1 and report.added == 2
    assert ids_in(tmp_path / "index") == {"a-first.html", "z-last.txt"}
    # the next reindex forgets it quietly: it is gone from the source
    again = reindex(settings, [src])
    assert (again.skipped, again.removed, again.documents) == (0, 0, 2)


# --- symbolic links: only into the source folder they were found in -------------------------

SECRET = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"


@pytest.fixture()
def linked(tmp_path) -> dict:
    """A source folder with links out of it (a secret file, a folder beside it) and links within it."""
    outside = tmp_path / "outside"
    write(outside / "passwd.txt", SECRET)
    write(outside / "story.html", page("Outside story", "The lighthouse outside the source was repainted."))
    src = tmp_path / "src"
    write(src / "good.html", GOOD)
    write(src / "notes" / "tide.txt", "Tide tables\n\nThe spring tide reached the harbour wall.\n")
    os.symlink(outside / "passwd.txt", src / "passwd.txt")                 # absolute, out
    os.symlink("../../outside/story.html", src / "notes" / "story.html")   # relative, out
    os.symlink("../good.html", src / "notes" / "same.html")                # relative, in
    os.symlink(src / "notes" / "tide.txt", src / "tide-link.txt")           # absolute, in
    os.symlink(outside, src / "elsewhere")                                  # a folder out: never walked
    return {"src": src, "outside": outside, "tmp": tmp_path}


@pytest.mark.parametrize("named_as", ["folder", "link to the folder"])
def test_links_out_of_the_source_folder_are_skipped_with_a_reason(linked, named_as):
    src = linked["src"]
    if named_as != "folder":
        os.symlink(src, linked["tmp"] / "src-link")  # the source named through a link: its own links still count
        src = linked["tmp"] / "src-link"
    settings = make_settings(linked["tmp"] / "index")
    report = reindex(settings, [src])
    reasons = {os.path.basename(p.name): p.reason for p in report.problems}
    assert set(reasons) == {"passwd.txt", "story.html"}, reasons
    assert reasons["passwd.txt"].startswith("symbolic link to a file outside the source folder")
    assert str(linked["outside"] / "passwd.txt") in reasons["passwd.txt"]
    assert ids_in(settings.index) == {"good.html", "notes/tide.txt", "notes/same.html", "tide-link.txt"}
    ix = SearchIndex(settings)
    assert search(ix, SearchRequest(q="nologin")).total == 0
    assert search(ix, SearchRequest(q="lighthouse")).total == 0
    app = create_app(settings)
    assert app.test_client().get("/article/passwd.txt").status_code == 404


def test_a_file_swapped_for_an_outside_link_after_the_scan_is_not_read(linked):
    """The read checks the file it opened, not the name the scan saw."""
    src = linked["src"]
    victim = write(src / "z-last.txt", "Last one\n\nThe bridge repairs finished.\n")

    class SwapWhenReadingStarts(DeleteWhenReadingStarts):
        def update(self, n: int) -> None:
            if not self.victim.is_symlink():
                self.victim.unlink()
                os.symlink(linked["outside"] / "passwd.txt", self.victim)

    settings = make_settings(linked["tmp"] / "index")  # workers=1: files are read one by one, in order
    report = reindex(settings, [src], progress=SwapWhenReadingStarts(victim))
    swapped = [p for p in report.problems if p.name == str(victim)]
    assert swapped and "outside the source folder" in swapped[0].reason, report.problems
    assert "z-last.txt" not in ids_in(settings.index)
    assert search(SearchIndex(settings), SearchRequest(q="nologin")).total == 0


def test_a_deeply_nested_json_lines_record_skips_only_that_record(tmp_path):
    nested = '{"id": "deep", "title": "Deep", "body": "x", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    records = [json.dumps({"id": "before", "title": "Before", "body": "The marina expands its moorings."}),
               nested,
               json.dumps({"id": "after", "title": "After", "body": "The marina dredging begins."})]
    write(tmp_path / "src" / "feed.jsonl", "\n".join(records) + "\n")
    settings = make_settings(tmp_path / "index")
    report = reindex(settings, [tmp_path / "src"])
    assert ids_in(settings.index) == {"before", "after"}
    assert [(p.name, p.reason) for p in report.problems] == [("feed.jsonl:2", "record nested too deeply to read")]


# --- metadata: capped where documents enter the index ----------------------------------------

CAPS = {"title": sources.MAX_TITLE_CHARS, "author": sources.MAX_AUTHOR_CHARS, "source": sources.MAX_SOURCE_CHARS}


@pytest.fixture(scope="module")
def bloated(tmp_path_factory) -> Path:
    """A page, a text file and JSON Lines records whose metadata runs to megabytes."""
    root = tmp_path_factory.mktemp("bloated")
    src = root / "src"
    headline = "Storm " + "surge " * MB  # 6 MB
    ld = json.dumps({"@type": "NewsArticle", "headline": headline, "author": {"name": "Ann " * (MB // 4)},
                     "datePublished": "2024-05-01"})
    write(src / "page.html", page("Storm", "The storm surge flooded the promenade overnight.",
                                   source="Gazette " * 100_000, author="Bob " * 100_000,
                                   extra_head=f'<script type="application/ld+json">{ld}</script>'
                                              f'<link rel="canonical" href="https://example.org/{"a" * 10_000}">'))
    write(src / "story.txt", "Tide " * MB + "\n\nThe tide gauge broke during the storm surge.\n")
    records = [
        {"id": "huge-meta", "title": "Gale " * MB, "author": "Cy " * MB, "source": "Wire " * MB,
         "url": "https://example.org/" + "b" * MB, "topics": ["weather " * 100] * 1000,
         "body": "The gale closed the harbour bridge."},
        {"id": "x" * 5000, "title": "Long id", "body": "A record named by five thousand characters."},
        {"id": "plain", "title": "Plain", "body": "The harbour bridge reopened.", "topics": ["weather", "roads"]},
    ]
    write(src / "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    settings = make_settings(root / "index")
    report = reindex(settings, [src])
    return settings, report


@pytest.mark.parametrize("doc_id, query", [("page.html", "promenade"), ("story.txt", "gauge"),
                                           ("huge-meta", "gale"), ("plain", "reopened")])
def test_every_stored_metadata_field_is_capped(bloated, doc_id, query):
    settings, _ = bloated
    ix = SearchIndex(settings)
    article = get_article(ix, doc_id)
    for name, cap in CAPS.items():
        value = getattr(article, name) or ""
        assert len(value) <= cap and "\n" not in value, (name, len(value))
    assert article.url is None or len(article.url) <= sources.MAX_URL_CHARS
    assert len(article.topics) <= sources.MAX_TOPICS
    assert all(len(t) <= sources.MAX_TOPIC_CHARS for t in article.topics)
    result = search(ix, SearchRequest(q=query))
    assert [h.id for h in result.hits] == [doc_id]  # the article itself is kept whole
    assert all(len(h.title) <= sources.MAX_TITLE_CHARS for h in result.hits)


def test_capped_metadata_keeps_its_beginning_and_says_it_was_cut(bloated):
    settings, _ = bloated
    article = get_article(SearchIndex(settings), "huge-meta")
    assert article.title.startswith("Gale Gale") and article.title.endswith("…")
    assert article.source.startswith("Wire Wire") and article.url is None  # a cut address would lead nowhere
    assert get_article(SearchIndex(settings), "plain").topics == ["weather", "roads"]


def test_an_over_long_id_skips_its_record_with_a_reason(bloated):
    settings, report = bloated
    assert [(p.name, p.reason) for p in report.problems] == [
        ("feed.jsonl:2", f"id longer than {sources.MAX_ID_CHARS} characters (5000)")]
    assert report.added == 4


@pytest.mark.parametrize("now", [0, 10, 999, 1000, 1001, 5000], ids=lambda n: f"{n}-bytes-now")
def test_a_file_read_as_it_is_now_up_to_the_limit(tmp_path, monkeypatch, now):
    """Scanned at 500 bytes, then shrunk or grown: the bytes it holds when read, at most the limit (read on in
    small steps past the scanned size)."""
    monkeypatch.setattr(sources, "READ_ON", 7)
    path = write(tmp_path / "src/page.txt", "x" * 500)
    [f] = sources.scan([tmp_path / "src"], [])
    content = bytes(range(256)) * 20
    path.write_bytes(content[:now])
    assert sources._read_bytes(f, 1000) == content[:min(now, 1000)]
