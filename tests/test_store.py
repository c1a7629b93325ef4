"""The index home's manifest: saved whole, or one journal line per small update (``reindex --watch``)."""
from __future__ import annotations

import os

import pytest

from searchsvc.store import Manifest, home_files, journal_path


def test_journal_lines_replay_over_the_manifest_they_follow(tmp_path):
    m = Manifest(sources=["/src"], files={"/src/a.html": [1, 1, ["a.html"], "/src"]})
    m.save(tmp_path)
    m.files["/src/b.html"] = [2, 2, ["b.html"], "/src"]
    m.record(tmp_path, {"/src/b.html": m.files["/src/b.html"]}, {})
    del m.files["/src/a.html"]
    m.skipped["/src/c.html"] = [0, 3, "empty file", "/src"]
    m.record(tmp_path, {"/src/a.html": None}, {"/src/c.html": m.skipped["/src/c.html"]})
    loaded = Manifest.load(tmp_path)
    assert (loaded.files, loaded.skipped, loaded.sources) == (m.files, m.skipped, m.sources)


@pytest.mark.parametrize("path, doc_id", [
    ("/src/caf\u00e9 \u6e2f.html", "caf\u00e9 \u6e2f.html"),
    (os.fsdecode(b"/src/caf\xe9-menu.txt"), "bad-\ud800-id"),  # a name that is not UTF-8, an id that is not text
], ids=["utf-8", "surrogate escapes"])
def test_the_manifest_saved_whole_reads_back_the_same(tmp_path, path, doc_id):
    m = Manifest(sources=["/src"], files={path: [10, 1_733_000_000_123_456_789, [doc_id], "/src"]},
                 skipped={path + ".bak": [0, 1, "empty file", "/src"]}, names={"/src": "Harbour Weekly"})
    m.save(tmp_path)
    loaded = Manifest.load(tmp_path)
    assert (loaded.files, loaded.skipped, loaded.names, loaded.base) == (m.files, m.skipped, m.names, m.base)


def test_a_torn_last_line_and_lines_older_than_the_manifest_are_ignored(tmp_path):
    m = Manifest(sources=["/src"])
    m.save(tmp_path)
    m.files["/src/old.html"] = [1, 1, ["old.html"], "/src"]
    m.record(tmp_path, {"/src/old.html": m.files["/src/old.html"]}, {})
    del m.files["/src/old.html"]
    m.save(tmp_path)  # as if the process died between saving the manifest and removing the journal
    journal_path(tmp_path).write_text('{"base": "x", "files": {"/src/old.html": [1, 1, ["old.html"], "/src"]}, '
                                      '"skipped": {}, "sources": [], "last_reindex": null}\n')
    assert Manifest.load(tmp_path).files == {}  # the line came before this manifest
    m.files["/src/new.html"] = [1, 1, ["new.html"], "/src"]
    m.record(tmp_path, {"/src/new.html": m.files["/src/new.html"]}, {})
    with open(journal_path(tmp_path), "a") as fh:
        fh.write('{"base": "' + m.base + '", "files": {"/src/tor')  # a crash while the line was written
    assert Manifest.load(tmp_path).files == {"/src/new.html": [1, 1, ["new.html"], "/src"]}


def test_home_files_are_what_a_replica_needs_beside_its_generations(tmp_path):
    for name in ("CURRENT", ".reindex.lock", ".watch.lock", ".cursor-key", ".CURRENT.12.tmp", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "gen-1").mkdir()
    assert home_files(tmp_path) == [".cursor-key", "notes.txt"]
