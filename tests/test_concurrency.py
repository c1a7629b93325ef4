"""Answers under 8 concurrent clients equal the answers to the same queries asked one at a time.

On the shared searcher (one ``SearchIndex`` used by 8 threads, with and
without the result cache), outside and during reindexes that publish new
generations of the same corpus, and through ``searchsvc serve --processes 2``.
Bounded: fixed query lists, joins with timeouts, no timing assertions.
"""
from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import HANG_GUARD, LiveServer, drop_postings_arrays, make_settings, page, write
from searchsvc import engine
from searchsvc.indexer import reindex
from searchsvc.search import SearchIndex, SearchRequest, search

CLIENTS = 8
ROUNDS = 3
MAX_SECONDS = HANG_GUARD  # clients keep asking while until() is false, but never longer than this
WORDS = ["harbor", "strike", "council", "budget", "flood", "ferry", "grain", "tariff", "rail", "bridge",
         "election", "drought", "port", "union", "wages", "river", "storm", "market", "vote", "school"]
SOURCES = ["Harbor Gazette", "Valley Courier", "Wire"]


def requests() -> list[SearchRequest]:
    rng = random.Random(8)
    out = [SearchRequest(q=w) for w in WORDS]
    out += [SearchRequest(q=" ".join(rng.sample(WORDS, k))) for k in (2, 3, 4) for _ in range(5)]
    out += [SearchRequest(q=f'"{a} {b}"') for a, b in zip(WORDS, WORDS[1:])][:5]
    out += [SearchRequest(q="harbor", sort="date"), SearchRequest(q="strike", page=2, per_page=5),
            SearchRequest(q="flood -storm"), SearchRequest(q="", sort="date"),
            SearchRequest(q="budget", sources=("Wire",)), SearchRequest(q="harbr"),
            SearchRequest(q="council vote", collapse=False)]
    return out


def answer(page) -> dict:
    """Everything a client sees except the clock (``took_ms``) and the cursor's generation stamp."""
    data = page.to_dict()
    data.pop("took_ms")
    data["next"] = bool(data.get("next"))
    return data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("concurrency") / "src"
    rng = random.Random(3)
    for i in range(160):
        body = "\n\n".join(" ".join(rng.choices(WORDS + ["the", "a", "of", "news"], k=40)) for _ in range(3))
        write(src / f"story-{i:03d}.html",
              page(f"Story {i} {' '.join(rng.sample(WORDS, 3))}", body, source=SOURCES[i % 3],
                   date=f"20{20 + i % 5}-{1 + i % 12:02d}-{1 + i % 28:02d}"))
    return src


def ask_concurrently(ask, reqs: list, clients: int = CLIENTS, until=None) -> list[tuple[int, object]]:
    """(request index, answer) for every request asked by each of ``clients`` threads, in shuffled orders.

    ``ROUNDS`` rounds each, and more while ``until()`` is false (at most ``MAX_SECONDS``:
    cached answers make a round quick, so a count of rounds could end before a rebuild does).
    """
    def client(seed: int):
        rng = random.Random(seed)
        out = []
        deadline = time.monotonic() + MAX_SECONDS
        for n in itertools.count():
            if n >= ROUNDS and (until is None or until() or time.monotonic() > deadline):
                break
            order = list(range(len(reqs)))
            rng.shuffle(order)
            out += [(i, ask(reqs[i])) for i in order]
        return out

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, seed) for seed in range(clients)]
        return [pair for f in futures for pair in f.result(timeout=2 * HANG_GUARD)]


@pytest.mark.parametrize("cache_entries", [0, 2048], ids=["no-cache", "cache"])
def test_concurrent_answers_equal_one_at_a_time(tmp_path, corpus, cache_entries):
    settings = make_settings(tmp_path / "ix", cache_entries=cache_entries)
    reindex(settings, [corpus])
    reqs = requests()
    alone = [answer(search(SearchIndex(settings), r)) for r in reqs]
    assert sum(a["total"] for a in alone) > 0
    shared = SearchIndex(settings)
    for i, got in ask_concurrently(lambda r: answer(search(shared, r)), reqs):
        assert got == alone[i], reqs[i]


def test_concurrent_answers_equal_one_at_a_time_during_reindexes(tmp_path, corpus):
    """Full rebuilds of the same corpus publish new generations while 8 clients search: same answers."""
    settings = make_settings(tmp_path / "ix")
    reindex(settings, [corpus])
    reqs = requests()
    alone = [answer(search(SearchIndex(settings), r)) for r in reqs]
    shared = SearchIndex(settings)
    generations = {shared.generation}
    done = threading.Event()
    rebuilds = []

    def rebuild():
        while not done.is_set() and len(rebuilds) < 20:
            rebuilds.append(reindex(settings, full=True))

    writer = threading.Thread(target=rebuild)
    writer.start()

    def ask(r):
        generations.add(shared.generation)
        return answer(search(shared, r))

    try:
        results = ask_concurrently(ask, reqs, until=lambda: len(rebuilds) >= 2)
    finally:
        done.set()
        writer.join(timeout=HANG_GUARD)
    assert not writer.is_alive()
    assert rebuilds and all(r.documents == 160 for r in rebuilds)
    for i, got in results:
        assert got == alone[i], reqs[i]
    assert len(generations) >= 2  # the clients searched across at least one swap


def test_serve_with_processes_answers_concurrent_clients_like_one(tmp_path, corpus):
    settings = make_settings(tmp_path / "ix")
    reindex(settings, [corpus])
    server = LiveServer(settings.index, "--processes", "2", "--threads", "4")
    try:
        paths = ["/api/search?" + urllib.parse.urlencode({"q": r.q, "sort": r.sort, "page": r.page,
                                                           "per_page": r.per_page, "source": list(r.sources)},
                                                          doseq=True) for r in requests()]

        def ask(path):
            status, body = server.json(path)
            assert status == 200, body
            body.pop("took_ms")
            body["next"] = bool(body.get("next"))
            return json.dumps(body, sort_keys=True)

        alone = [ask(p) for p in paths]
        for i, got in ask_concurrently(ask, paths):
            assert got == alone[i], paths[i]
    finally:
        server.stop()
    assert server.proc.returncode == 0  # SIGTERM stops every process cleanly


def test_concurrent_phrases_answer_alike_and_read_a_words_positions_once(tmp_path, corpus, monkeypatch):
    """8 clients asking phrases of the same words at once: one thread decodes a word's positions, the others wait."""
    monkeypatch.setattr(engine, "ALL_POSITIONS_FROM", 1)  # this small corpus: every word is a frequent one
    settings = make_settings(tmp_path / "ix", cache_entries=0)
    reindex(settings, [corpus])
    assert drop_postings_arrays(settings.index)  # positions kept per word: only when decoded from Whoosh's blocks
    reqs = [SearchRequest(q=f'"{a} {b}"') for a, b in zip(WORDS, WORDS[1:])]
    reqs += [SearchRequest(q='"' + " ".join([w] * 20) + '"') for w in WORDS[:5]]
    alone = [answer(search(SearchIndex(settings), r)) for r in reqs]
    kept = []
    real_keep = engine.Generation._keep_positions
    monkeypatch.setattr(engine.Generation, "_keep_positions",
                        lambda gen, key, held: (kept.append(key), real_keep(gen, key, held))[1])
    shared = SearchIndex(settings)
    for i, got in ask_concurrently(lambda r: answer(search(shared, r)), reqs):
        assert got == alone[i], reqs[i]
    assert kept and len(kept) == len(set(kept)), sorted(kept)  # each word read once, by one thread
