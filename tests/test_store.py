"""The index home's manifest: saved whole, or one journal line per small update (``reindex --watch``)."""
from __future__ import annotations

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
