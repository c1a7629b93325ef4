"""`searchsvc reindex --watch`: a running server finds what is written, changed and deleted in a watched folder.

The real watcher (a subprocess), the real server on loopback, real files.
Every wait is for a condition, with a generous overall bound: the machine
may be busy, and nothing here measures speed (bench/speed.py does).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import LiveServer, page, run_cli, searchsvc_command, write
from searchsvc.store import IndexHome

pytestmark = pytest.mark.slow

BOUND = 120  # seconds: the longest any condition may take on a very busy machine


def wait_until(condition, what: str, bound: float = BOUND):
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {bound}s")
        time.sleep(0.05)


class Watcher:
    """``searchsvc reindex --watch ARGS`` in a subprocess; its stdout and stderr lines collected as they come."""

    def __init__(self, index: Path, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
        env["SEARCHSVC_WORKERS"] = "1"
        self.proc = subprocess.Popen(searchsvc_command("reindex", "--watch", *args, "--index", index),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def said(self, pattern: str, where: str = "out") -> str | None:
        return next((line for line in getattr(self, where) if re.search(pattern, line)), None)

    def wait_watching(self) -> None:
        wait_until(lambda: self.said(r"^watching ") or self.proc.poll() is not None, "the watcher started")
        assert self.proc.poll() is None, "\n".join(self.out + self.err)

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=BOUND)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for reader in self.readers:
                reader.join(timeout=BOUND)
            self.proc.stdout.close()
            self.proc.stderr.close()


def found(server: LiveServer, q: str) -> set[str]:
    status, data = server.json("/api/search?per_page=100&q=" + urllib.parse.quote(q))
    assert status == 200, data
    return {h["id"] for h in data["hits"]}


def article(title: str, text: str) -> str:
    return page(title, text + " The council said more would follow next week.", date="2025-03-01", source="Wire")


@pytest.fixture()
def setup(tmp_path):
    src, index = tmp_path / "src", tmp_path / "index"
    write(src / "old/first.html", article("Harbour wall repaired", "Masons repaired the harbour wall."))
    assert run_cli("reindex", src, "--index", index).returncode == 0
    server = LiveServer(index)
    yield src, index, server
    server.stop()


@pytest.fixture()
def watching(setup):
    """``setup`` with a watcher running on its sources; stopped by SIGTERM afterwards, which must end it cleanly."""
    src, index, server = setup
    watcher = Watcher(index, src)
    try:
        watcher.wait_watching()
        yield src, index, server, watcher
    finally:
        assert watcher.stop() == 0, watcher.err


def test_written_changed_and_deleted_files_are_found_changed_and_gone(watching):
    src, index, server, watcher = watching
    write(src / "new/gulls.html", article("Gull colony counted", "Volunteers counted the gull colony."))
    wait_until(lambda: found(server, "gull") == {"new/gulls.html"}, "a new file found")

    write(src / "new/gulls.html", article("Gull colony counted again", "The kittiwake colony grew."))
    wait_until(lambda: found(server, "kittiwake") == {"new/gulls.html"}, "a changed file's new words found")
    assert found(server, "volunteers") == set()  # its old words are gone with its old version

    (src / "new/gulls.html").unlink()
    wait_until(lambda: found(server, "kittiwake") == set(), "a deleted file gone")

    write(src / "folder/a.html", article("Ferry timetable", "The ferry runs hourly."))
    write(src / "folder/deeper/b.html", article("Ferry fares", "Ferry fares rise in June."))
    wait_until(lambda: found(server, "ferry") == {"folder/a.html", "folder/deeper/b.html"}, "a new folder found")
    shutil.rmtree(src / "folder")
    wait_until(lambda: found(server, "ferry") == set(), "a deleted folder gone")

    write(src / "empty.html", "")
    wait_until(lambda: watcher.said(r"skipped .*empty\.html: empty file", "err"), "an unreadable file named")
    assert found(server, "harbour") == {"old/first.html"}
    assert server.json("/api/health")[1]["documents"] == 1
    assert watcher.said(r"^\d\d:\d\d:\d\d added 1, updated 0, removed 0, skipped 0; 2 documents in ")
    stats = run_cli("reindex", "--index", index)  # the manifest (and its journal) knows everything the watcher did
    assert stats.returncode == 0
    assert "added 0, updated 0, removed 0, skipped 1, unchanged 1;" in stats.stdout, stats.stdout


def test_a_killed_watcher_catches_up_from_the_manifest(setup):
    src, index, server = setup
    watcher = Watcher(index, src)
    watcher.wait_watching()
    write(src / "seen.html", article("Lighthouse keeper retires", "The lighthouse keeper retired."))
    wait_until(lambda: found(server, "lighthouse") == {"seen.html"}, "a file found while watching")
    watcher.stop(signal.SIGKILL)

    # while nobody watches: one file written, one changed, one deleted
    write(src / "missed.html", article("Seal pups counted", "Rangers counted seal pups."))
    write(src / "seen.html", article("Lighthouse keeper stays", "The keeper will stay on."))
    (src / "old/first.html").unlink()

    again = Watcher(index, src)
    try:
        again.wait_watching()  # it catches up before it says it is watching
        assert found(server, "seal") == {"missed.html"}
        assert found(server, "retired") == set() and found(server, "keeper") == {"seen.html"}
        assert found(server, "harbour") == set()
        assert again.said(r"^caught up: reindex: added 1, updated 1, removed 1, ")
    finally:
        again.stop()


def test_watcher_shares_the_reindex_lock_and_says_when_another_reindex_runs(watching):
    src, index, server, watcher = watching
    second = run_cli("reindex", "--watch", src, "--index", index)
    assert second.returncode == 1
    assert second.stderr.strip() == f"Error: another watcher (pid {watcher.proc.pid}) is already watching for {index}"

    # a reindex run by hand meanwhile: it takes its turn, and the watcher goes on from its commit
    write(src / "by-hand.html", article("Pier reopens", "The pier reopened."))
    r = run_cli("reindex", "--index", index)
    assert r.returncode == 0, r.stderr
    assert found(server, "pier") == {"by-hand.html"}

    # another reindex holding the lock (here, this test): the watcher says so once and waits, then goes on
    with IndexHome(index).reindex_lock(5):
        write(src / "waiting.html", article("Dune path closed", "The dune path closed for repairs."))
        wait_until(lambda: watcher.said(rf"^another reindex \(pid {os.getpid()}\) is running on {index}; "
                                        "waiting for it$", "err"), "the watcher said it waits")
        assert found(server, "dune") == set()
    wait_until(lambda: found(server, "dune") == {"waiting.html"}, "the watcher went on")
    write(src / "after.html", article("Dune path reopens", "The dune path reopened."))
    wait_until(lambda: found(server, "dune") == {"waiting.html", "after.html"}, "the next change committed")

    # a full rebuild by hand: a new generation, which the watcher's next commit goes into
    old_generation = (index / "CURRENT").read_text().split()[0]
    r = run_cli("reindex", "--full", "--index", index)
    assert r.returncode == 0, r.stderr
    assert (index / "CURRENT").read_text().split()[0] != old_generation
    write(src / "rebuilt.html", article("Sea wall inspected", "Engineers inspected the sea wall."))
    wait_until(lambda: found(server, "engineers") == {"rebuilt.html"}, "a commit into the rebuilt generation")
    assert found(server, "dune") == {"waiting.html", "after.html"}


def test_watch_with_a_source_name_names_the_pages_that_name_none(setup):
    src, index, server = setup
    watcher = Watcher(index, src, "--source", "Harbour Weekly")
    try:
        watcher.wait_watching()
        write(src / "plain.txt", "Tug crews rested\n\nThe tug crews rested after the storm.")
        wait_until(lambda: found(server, "tug") == {"plain.txt"}, "a text file found")
        status, data = server.json("/api/search?q=tug")
        assert data["hits"][0]["source"] == "Harbour Weekly"
    finally:
        assert watcher.stop() == 0, watcher.err


def segment_ids(index: Path) -> list[str]:
    ix = IndexHome(index).open_index()
    return sorted(s.segment_id() for s in ix._segments())


def test_commits_merge_only_small_segments_and_an_idle_watcher_tidies_up(tmp_path, monkeypatch):
    """In process, the watcher's own steps: a commit never merges a large segment (here: over 3 articles);
    when idle, the journal is folded into the manifest and piled-up segments get reindex's merge policy."""
    from searchsvc import indexer, watch
    from searchsvc.indexer import reindex
    from searchsvc.search import SearchIndex, SearchRequest, search
    from searchsvc.store import Manifest, journal_path
    from conftest import make_settings

    monkeypatch.setattr(watch, "MERGE_DOCS", 3)
    monkeypatch.setattr(watch, "COMMIT_EVERY", 0)
    monkeypatch.setattr(watch, "IDLE_MERGE_FROM", 6)
    monkeypatch.setattr(indexer, "MERGE_SMALLEST", 1)  # size classes: 1 article, 2-10, ...
    monkeypatch.setattr(indexer, "MERGE_FANOUT", 5)
    src = tmp_path / "src"
    for i in range(5):
        write(src / f"base{i}.html", article(f"Tide table {i}", f"High tide number {i} came early."))
    settings = make_settings(tmp_path / "index")
    reindex(settings, [src])
    (large,) = segment_ids(settings.index)
    watcher = watch._Watcher(settings, IndexHome(settings.index), [src], lambda line: None, lambda line: None)
    for i in range(11):  # segments of 5, 6 (five commits merged with a sixth) and five of 1
        path = write(src / f"new{i}.html", article(f"Buoy {i} replaced", f"Buoy {i} was replaced by the harbour."))
        watcher.apply({(None, str(path))})
        assert large in segment_ids(settings.index)  # never merged into a commit
    live = IndexHome(settings.index).live_dir()
    assert journal_path(live).exists()
    assert len(Manifest.load(live).files) == 16  # the journal replayed over the saved manifest

    before = len(segment_ids(settings.index))
    assert before >= 6
    watcher.idle()
    assert not journal_path(live).exists() and len(Manifest.load(live).files) == 16
    assert len(segment_ids(settings.index)) == before - 4  # the five one-article segments merged into one
    assert large in segment_ids(settings.index)
    index = SearchIndex(settings)
    try:
        assert search(index, SearchRequest(q="buoy", per_page=50)).total == 11
        assert search(index, SearchRequest(q="tide", per_page=50)).total == 5
    finally:
        index.close()
    stamp = IndexHome(settings.index).stamp()
    watcher.idle()  # nothing more to do: no commit, servers are not told of one
    assert IndexHome(settings.index).stamp() == stamp


def test_a_link_out_of_the_watched_folder_is_named_and_never_read(watching, tmp_path):
    """The watcher follows the link policy of reindex: links into the folder work, links out are skipped."""
    src, index, server, watcher = watching
    outside = write(tmp_path / "outside" / "passwd.txt", "root:x:0:0\n\nnologin daemon shell entries\n")
    os.symlink(outside, src / "passwd.txt")
    os.symlink(outside.parent, src / "elsewhere")  # a folder link: never walked
    (src / "inner").mkdir()
    os.symlink("../old/first.html", src / "inner" / "same.html")
    wait_until(lambda: watcher.said(r"skipped .*passwd\.txt: symbolic link to a file outside the source folder",
                                    "err"), "the outside link named")
    wait_until(lambda: found(server, "harbour") == {"old/first.html", "inner/same.html"}, "the inside link found")
    assert found(server, "nologin") == set()
