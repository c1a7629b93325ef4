"""A build or an update in worker processes equals the same work in one process.

Run through the real CLI (the workers fork, so not inside pytest's process):
the same documents with the same stored fields, the same near-duplicate
groups and the same first-wins choice between duplicate ids, whichever
worker's slice they fall in; an update's problems named the same way.
"""
from __future__ import annotations

import multiprocessing
import random
import re
import shutil

import pytest

from conftest import page, run_cli, write
from searchsvc import indexer
from searchsvc.sources import scan
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


def stored(ix_dir, in_index_order=False):
    ix = IndexHome(ix_dir).open_index()
    segments = len(ix._segments())
    with ix.searcher() as s:
        docs = [tuple(sorted(f.items())) for f in s.all_stored_fields()]
    return (docs if in_index_order else sorted(docs, key=str)), segments


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


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_documents_keep_file_order_whichever_worker_cleans_them(tmp_path, workers):
    """Workers sharing files from both ends still write them in file order: the index holds the documents in
    the order one process gives them (what ties in a ranking fall back on)."""
    sources = corpus(tmp_path / "src")
    orders = {}
    for n in (1, workers):
        ix = tmp_path / f"ix{n}"
        r = run_cli("reindex", *sources, "--workers", n, "--index", ix)
        assert r.returncode == 0, r.stderr
        orders[n] = stored(ix, in_index_order=True)
    assert orders[workers][0] == orders[1][0]
    assert orders[workers][1] == min(workers, 4)  # one segment per worker (4: the last pair's two 23-file slices)


def cleaned_batches(part, batches):
    """The first ``batches`` batches ``part`` cleans (all of them if None), as lists of file ids."""
    out = []
    if batches == 0:
        return out
    for batch in part:
        out.append([f.rel for f, _, _ in batch])
        if batches is not None and len(out) == batches:
            break
    return out


@pytest.mark.parametrize("forward_first", [0, 1, 2, 3])
def test_two_workers_share_their_files_from_both_ends(tmp_path, forward_first):
    """Whatever share of the files each takes, the two halves meet: the first worker's files are a prefix,
    the second's the rest, each in file order; a worker left with nothing has nothing to write."""
    files = list(scan(corpus(tmp_path / "src"), []))
    claims = indexer._worker_claims(files, 2, multiprocessing.get_context("fork"))
    assert [c.backward for c in claims] == [False, True]
    parts = [indexer._Part(tmp_path / "gen", c, 1 << 20) for c in claims]
    forward, backward = (p.clean() for p in parts)
    ahead = cleaned_batches(forward, forward_first)  # the first worker cleans a few batches first
    behind = cleaned_batches(backward, None)  # then the second takes all it can
    ahead += cleaned_batches(forward, None)
    names = [f.rel for f in files]
    first = [rel for batch in ahead for rel in batch]
    assert first == names[:len(first)] and len(first) == min(indexer.PART_BATCH * forward_first, len(files))
    assert [rel for batch in reversed(behind) for rel in batch] == names[len(first):]
    assert [d.id for d in parts[1].docs] == names[len(first):]  # queued for writing in file order
    assert parts[1].cleaned_files == len(files) - len(first)


def test_a_worker_left_nothing_writes_nothing(tmp_path):
    files = list(scan(corpus(tmp_path / "src"), []))
    claims = indexer._worker_claims(files, 2, multiprocessing.get_context("fork"))
    parts = [indexer._Part(tmp_path / "gen", c, 1 << 20) for c in claims]
    assert len(cleaned_batches(parts[0].clean(), None)) == -(-len(files) // indexer.PART_BATCH)
    assert cleaned_batches(parts[1].clean(), None) == []
    assert parts[1].finish() == [] and not parts[1].docs


@pytest.mark.parametrize("workers, shared", [(2, [True, True]), (3, [True, True, False]),
                                             (4, [True, True, True, True])])
def test_workers_pair_up_over_slices_of_equal_bytes(tmp_path, workers, shared):
    files = list(scan(corpus(tmp_path / "src"), []))
    claims = indexer._worker_claims(files, workers, multiprocessing.get_context("fork"))
    assert [c.ends is not None for c in claims] == shared
    assert [c.backward for c in claims] == [bool(i % 2) and shared[i] for i in range(workers)]
    regions = [c.files for i, c in enumerate(claims) if not c.backward]
    assert [f for r in regions for f in r] == files
    if workers == 3:  # the pair's slice holds two thirds of the bytes
        total = sum(f.size for f in files)
        assert abs(sum(f.size for f in regions[0]) - 2 * total / 3) < max(f.size for f in files)


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


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_rebuild_keeps_its_manifest_whoever_builds_it(tmp_path, workers):
    """The manifest (saved as soon as every document is decided) holds every file: the next reindex reads
    nothing; a full rebuild after a file is gone says so."""
    sources = corpus(tmp_path / "src")
    ix = tmp_path / "ix"
    assert run_cli("reindex", *sources, "--workers", workers, "--index", ix).returncode == 0
    (sources[0] / "s050.html").unlink()
    r = run_cli("reindex", "--full", "--workers", workers, "--index", ix)
    assert r.returncode == 0, r.stderr
    assert "removed 1" in r.stdout and "added 89" in r.stdout
    r = run_cli("reindex", "--workers", workers, "--index", ix)
    assert r.returncode == 0 and "unchanged 91" in r.stdout and "added 0" in r.stdout, r.stdout
