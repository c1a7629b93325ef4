"""A build or an update in worker processes equals the same work in one process.

Run through the real CLI (the workers fork, so not inside pytest's process):
the same documents with the same stored fields, the same near-duplicate
groups and the same first-wins choice between duplicate ids, whichever
worker's slice they fall in; an update's problems named the same way.
"""
from __future__ import annotations

import random
import re
import shutil

import pytest

from conftest import page, run_cli, write
from searchsvc.store import IndexHome

WORDS = ("harbor strike council budget flood ferry grain tariff rail bridge election drought port union "
         "wages river storm market vote school").split()


def corpus(root):
    rng = random.Random(4)
    shared = "\n\n".join(" ".join(rng.choices(WORDS, k=60)) for _ in range(3))
    for i in range(90):
        # every ninth story is the same text: near-duplicate groups that span both workers' slices
        body = shared if i % 9 == 0 else "\n\n".join(" ".join(rng.choices(WORDS, k=60)) for _ in range(3))
        write(root / "a" / f"s{i:03d}.html", page(f"Story {i}", body, source="Wire", date=f"2024-01-{1 + i % 28:02d}"))
    for i in (3, 70):  # the same ids again under a second source folder: the first one wins
        write(root / "b" / f"s{i:03d}.html", page(f"Other {i}", "A different story about tariffs."))
    return [root / "a", root / "b"]


def stored(ix_dir):
    ix = IndexHome(ix_dir).open_index()
    segments = len(ix._segments())
    with ix.searcher() as s:
        docs = sorted((tuple(sorted(f.items())) for f in s.all_stored_fields()), key=str)
    return docs, segments


def test_workers_build_the_same_index_as_one_process(tmp_path):
    sources = corpus(tmp_path / "src")
    runs = {}
    for workers in (1, 2):
        ix = tmp_path / f"ix{workers}"
        r = run_cli("reindex", *sources, "--workers", workers, "--index", ix)
        assert r.returncode == 0, r.stderr
        summary = re.sub(r"in [\d.]+s", "", r.stdout.strip().splitlines()[-1])
        runs[workers] = (summary, sorted(r.stderr.splitlines()), *stored(ix))
    one, two = runs[1], runs[2]
    assert "added 90" in one[0] and len(one[1]) == 2 and "duplicate document id" in one[1][0]
    assert one[:3] == two[:3]
    assert (one[3], two[3]) == (1, 2)  # one segment, then one per worker
    groups = {dict(d)["group"] for d in one[2] if dict(d)["id"].startswith("s") and int(dict(d)["id"][1:4]) % 9 == 0}
    assert groups == {"s000.html"}


def edit(sources):
    """Changed, new, removed and unreadable files, and a near-copy of a story already indexed."""
    a = sources[0]
    for i in (1, 2, 40):
        write(a / f"s{i:03d}.html", page(f"Story {i} revised", f"Revised text {i} about rail tariffs and wages."))
    write(a / "late1.html", page("Late ferry", "The late ferry sailed with grain for the port."))
    write(a / "late2.html", (a / "s009.html").read_text().replace("Story 9", "Story 9 again"))
    write(a / "empty.html", "")
    (a / "s050.html").unlink()


@pytest.mark.parametrize("tuned", [{"EARLY_FROM": 1}, {"POOL_FROM": 1}], ids=["early-cleaner", "pool"])
def test_an_update_cleaned_in_workers_equals_the_update_in_one_process(tmp_path, tuned):
    sources = corpus(tmp_path / "src")
    indexes = {"one": tmp_path / "ix", "workers": tmp_path / "ix-workers"}
    assert run_cli("reindex", *sources, "--workers", 1, "--index", indexes["one"]).returncode == 0
    shutil.copytree(indexes["one"], indexes["workers"])
    edit(sources)
    runs = {}
    for name, workers, knobs in (("one", 1, None), ("workers", 2, tuned)):
        r = run_cli("reindex", "--workers", workers, "--index", indexes[name], tuned=knobs)
        assert r.returncode == 0, r.stderr
        runs[name] = (re.sub(r"in [\d.]+s", "", r.stdout.strip()), sorted(r.stderr.splitlines()),
                      stored(indexes[name])[0])
    one, workers = runs["one"], runs["workers"]
    assert "added 2, updated 3, removed 1" in one[0] and any("empty.html: empty file" in line for line in one[1])
    assert one == workers
    groups = {dict(d)["id"]: dict(d)["group"] for d in one[2]}
    assert groups["late2.html"] == groups["s009.html"] == "s000.html"
