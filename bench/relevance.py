"""Relevance benchmark: searchsvc's default ranking against SQLite FTS5 and bm25s.

For each judged collection in ../shared/data/ir/ (Cranfield, CISI, MED,
NPL, TIME, ADI) it indexes title + text through the real CLI (``searchsvc
reindex`` into a temp index), runs every query through ``searchsvc search
--batch --format trec --limit 1000`` (the same query path as the search
box), and scores the run next to two peers built in this process:

- SQLite FTS5: ``tokenize='porter unicode61'``, ``ORDER BY bm25()``, title and
  text columns; each query's words are quoted and OR-ed, so no punctuation in
  a question can break the MATCH syntax;
- bm25s with PyStemmer's English stemmer and bm25s' English stop words.

Measures (ir-measures over pytrec_eval): nDCG@10 (Cranfield's graded
judgments as gains), MAP (AP over the top 1000) and R@100, averaged over the
judged queries only (those with a relevant document); a judged query a
system returns nothing for counts 0. Runs are scored by rank order alone
(trec_eval would otherwise reorder tied scores by docid). Then the checks:
each collection against its best peer, the mean against 1.03 x the best
peers' mean, and every query (judged or not) that returns fewer than 10
results while 10 or more articles share a word with it.

A second table checks robustness where documents are short: the same
judgments over Cranfield, CISI and ADI rebuilt from titles only, and with
every other document cut to its title (MED: to its first sentence). They
are built here from the shared data; nothing is written outside a temp
folder.

    python bench/relevance.py [--only cranfield,cisi] [--no-peers] [--no-short]

ir-measures and bm25s are bench-only dependencies (``pip install -e
'.[bench]'``); without ../shared this prints why and exits 0.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ir"
COLLECTIONS = ("cranfield", "cisi", "med", "npl", "time", "adi")
TITLED = ("cranfield", "cisi", "adi")  # the robustness table cuts these to their titles (MED: first sentences)
DEPTH = 1000
MEASURES = ("nDCG@10", "AP", "R@100")
LABELS = {"nDCG@10": "nDCG@10", "AP": "MAP", "R@100": "R@100"}
WORDS = re.compile(r"\w+")


# --- data ------------------------------------------------------------------

@dataclass
class Collection:
    name: str
    docs: list[dict]                     # id, title, text
    queries: list[tuple[str, str]]       # (qid, text), judged or not
    qrels: dict[str, dict[str, int]]     # qid -> docid -> grade

    @property
    def judged(self) -> list[str]:
        return [qid for qid, grades in self.qrels.items() if any(g > 0 for g in grades.values())]


def load(name: str) -> Collection:
    folder = DATA / name
    path = folder / "docs.jsonl"
    opener = open if path.exists() else gzip.open
    path = path if path.exists() else folder / "docs.jsonl.gz"
    with opener(path, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    docs = [{"id": str(d["id"]), "title": d.get("title") or "", "text": d.get("text") or ""} for d in docs]
    queries = []
    for line in (folder / "queries.tsv").read_text("utf-8").splitlines():
        qid, sep, text = line.partition("\t")
        if sep:
            queries.append((qid, text))
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels.txt").read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return Collection(name, docs, queries, qrels)


def shortened(c: Collection, every: int = 1) -> Collection:
    """``c`` with every ``every``-th document cut to its title: short documents.

    MED has no titles; its documents are cut to their first sentence instead.
    """
    def short(d: dict) -> dict:
        if d["title"].strip():
            return {**d, "text": ""}
        return {**d, "text": d["text"].split(". ")[0]}

    docs = [short(d) if i % every == 0 else d for i, d in enumerate(c.docs)]
    docs = [d for d in docs if d["title"].strip() or d["text"].strip()]
    what = "titles" if any(d["title"].strip() for d in c.docs) else "first sentences"
    suffix = what if every == 1 else f"1/{every} {what}"
    return Collection(f"{c.name} ({suffix})", docs, c.queries, c.qrels)


# --- systems ---------------------------------------------------------------

@dataclass
class Run:
    ranking: dict[str, list[str]]        # qid -> docids, best first
    index_s: float
    query_ms: list[float] = field(default_factory=list)


def run_searchsvc(c: Collection, tmp: Path) -> Run:
    """Index and search through the real CLI, with the product's default settings."""
    docs = tmp / "docs.jsonl"
    with open(docs, "w", encoding="utf-8") as fh:
        for d in c.docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    queries = tmp / "queries.tsv"
    queries.write_text("".join(f"{qid}\t{text}\n" for qid, text in c.queries), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    cli = [sys.executable, "-m", "searchsvc"]
    index = tmp / "index"
    started = time.perf_counter()
    subprocess.run([*cli, "reindex", str(docs), "--index", str(index), "--workers", "1"],
                   check=True, env=env, capture_output=True, text=True)
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    out = subprocess.run([*cli, "search", "--batch", str(queries), "--format", "trec",
                          "--limit", str(DEPTH), "--index", str(index)],
                         check=True, env=env, capture_output=True, text=True).stdout
    search_s = time.perf_counter() - started
    ranking: dict[str, list[str]] = {}
    for line in out.splitlines():
        qid, _, docid, _rank, _score, _tag = line.split()
        ranking.setdefault(qid, []).append(docid)
    # Wall time of the whole batch process (start-up included) per query.
    return Run(ranking, index_s, [search_s * 1000 / max(1, len(c.queries))])


def fts_match(text: str) -> str:
    """The query's words, each quoted, OR-ed: no punctuation can become FTS5 syntax."""
    words = WORDS.findall(text)
    return " OR ".join('"%s"' % w.replace('"', '""') for w in words)


def run_fts5(c: Collection) -> Run:
    db = sqlite3.connect(":memory:")
    started = time.perf_counter()
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize='porter unicode61')")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(d["id"], d["title"], d["text"]) for d in c.docs])
    db.commit()
    index_s = time.perf_counter() - started
    ranking, times = {}, []
    for qid, text in c.queries:
        match = fts_match(text)
        t0 = time.perf_counter()
        rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
                          (match, DEPTH)).fetchall() if match else []
        times.append((time.perf_counter() - t0) * 1000)
        ranking[qid] = [r[0] for r in rows]
    db.close()
    return Run(ranking, index_s, times)


def run_bm25s(c: Collection) -> Run:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = [d["id"] for d in c.docs]
    started = time.perf_counter()
    corpus = bm25s.tokenize([f"{d['title']}\n{d['text']}" for d in c.docs], stopwords="en",
                            stemmer=stemmer, show_progress=False)
    model = bm25s.BM25()
    model.index(corpus, show_progress=False)
    index_s = time.perf_counter() - started
    ranking, times = {}, []
    k = min(DEPTH, len(ids))
    for qid, text in c.queries:
        t0 = time.perf_counter()
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        results, scores = model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        times.append((time.perf_counter() - t0) * 1000)
        ranking[qid] = [ids[i] for i, s in zip(results[0], scores[0]) if s > 0]
    return Run(ranking, index_s, times)


# --- scoring ---------------------------------------------------------------

def evaluate(c: Collection, ranking: dict[str, list[str]]) -> dict[str, float]:
    """Mean of each measure over the judged queries (a missing or empty run counts 0)."""
    import ir_measures

    judged = c.judged
    qrels = [ir_measures.Qrel(qid, doc, grade) for qid in judged for doc, grade in c.qrels[qid].items()]
    run = [ir_measures.ScoredDoc(qid, doc, float(DEPTH - rank))   # rank order only
           for qid in judged for rank, doc in enumerate(ranking.get(qid, [])[:DEPTH])]
    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    per_query = {m: {} for m in MEASURES}
    for metric in ir_measures.iter_calc(measures, qrels, run):
        per_query[str(metric.measure)][metric.query_id] = metric.value
    return {m: sum(per_query[m].get(q, 0.0) for q in judged) / len(judged) for m in MEASURES}


# --- the report ------------------------------------------------------------

def systems(peers: bool) -> list[str]:
    return ["searchsvc", "SQLite FTS5", "bm25s"] if peers else ["searchsvc"]


def measure_all(collections: list[Collection], peers: bool) -> dict:
    """(system, collection) -> scores + timing."""
    results = {}
    for c in collections:
        print(f"  {c.name}: {len(c.docs)} docs, {len(c.judged)} judged queries", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="searchsvc-rel-") as tmp:
            runs = {"searchsvc": run_searchsvc(c, Path(tmp))}
        if peers:
            runs["SQLite FTS5"] = run_fts5(c)
            runs["bm25s"] = run_bm25s(c)
        for name, run in runs.items():
            results[name, c.name] = {**evaluate(c, run.ranking), "index_s": run.index_s,
                                     "query_ms": statistics.median(run.query_ms)}
        results["searchsvc", c.name]["short_pages"] = short_pages(c, runs["searchsvc"].ranking)
    return results


def short_pages(c: Collection, ranking: dict[str, list[str]], page: int = 10) -> list[tuple[str, int, int]]:
    """(qid, results, articles sharing a word) of every query (judged or not) that returns fewer than
    ``page`` results while ``page`` or more articles share a word with it.

    A shared word is an index term (searchsvc's analyzer: lower case, accents
    folded, Snowball stems, its 22 index stop words left out), looked up here
    in the documents themselves, not through the index.
    """
    from searchsvc import schema

    postings: dict[str, set[int]] = {}
    for i, d in enumerate(c.docs):
        for term in set(schema.stems(f"{d['title']}\n{d['text']}")):
            postings.setdefault(term, set()).add(i)
    out = []
    for qid, text in c.queries:
        returned = len(ranking.get(qid, []))
        if returned >= page:
            continue
        sharing = set().union(*(postings.get(t, set()) for t in set(schema.stems(text))))
        if len(sharing) >= page:
            out.append((qid, returned, len(sharing)))
    return out


def print_checks(names: list[str], results: dict, peers: bool, queries: dict[str, int]) -> None:
    """The acceptance lines: against the best peer of the same run, and pages that fill."""
    print("\nChecks\n")
    if peers:
        ours = [results["searchsvc", n]["nDCG@10"] for n in names]
        best = [max(results[p, n]["nDCG@10"] for p in systems(peers)[1:]) for n in names]
        for n, mine, theirs in zip(names, ours, best):
            print(f"- {n}: nDCG@10 {mine:.3f} against the best peer's {theirs:.3f} "
                  f"({mine / theirs:.3f}x) {'ok' if mine >= theirs else 'BELOW'}")
        if len(names) > 1:
            m, b = statistics.mean(ours), statistics.mean(best)
            print(f"- mean nDCG@10 {m:.3f} against the best peers' mean {b:.3f} ({m / b:.3f}x; "
                  f"the target is 1.03x) {'ok' if m >= 1.03 * b else 'BELOW'}")
    for n in names:
        short = results["searchsvc", n]["short_pages"]
        detail = "; ".join(f"q{qid}: {got} results, {sharing} articles share a word" for qid, got, sharing in short[:5])
        print(f"- {n}: {len(short)} of {queries[n]} queries return fewer than 10 results while 10 or more "
              f"articles share a word with them" + (f" ({detail})" if detail else ""))


def print_table(title: str, names: list[str], results: dict, peers: bool, with_mean: bool) -> None:
    print(f"\n{title}\n")
    head = "| system | " + " | ".join(f"{n} nDCG@10 / MAP / R@100" for n in names)
    head += " | mean nDCG@10 / MAP |" if with_mean else " |"
    print(head)
    print("|---|" + "---:|" * (len(names) + (1 if with_mean else 0)))
    for system in systems(peers):
        cells = []
        for n in names:
            r = results[system, n]
            cells.append(f"{r['nDCG@10']:.3f} / {r['AP']:.3f} / {r['R@100']:.3f}")
        row = f"| {system} | " + " | ".join(cells)
        if with_mean:
            nd = statistics.mean(results[system, n]["nDCG@10"] for n in names)
            ap = statistics.mean(results[system, n]["AP"] for n in names)
            row += f" | **{nd:.3f}** / {ap:.3f}"
        print(row + " |")


def print_timing(names: list[str], results: dict, peers: bool) -> None:
    print("\nTime: index seconds (searchsvc: the whole `reindex` process) / ms per query "
          "(searchsvc: wall time of the whole `search --batch` process divided by the queries; peers: median)\n")
    print("| system | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for system in systems(peers):
        cells = [f"{results[system, n]['index_s']:.1f} s / {results[system, n]['query_ms']:.1f} ms" for n in names]
        print(f"| {system} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(COLLECTIONS), help="Comma-separated collections to run.")
    ap.add_argument("--no-peers", action="store_true", help="Score searchsvc only (faster, for tuning).")
    ap.add_argument("--no-short", action="store_true", help="Skip the short-document robustness table.")
    args = ap.parse_args(argv)

    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (the judged collections live in ../shared/data/ir)")
        return 0
    try:
        import ir_measures  # noqa: F401
        if not args.no_peers:
            import bm25s  # noqa: F401
    except ImportError as exc:
        print(f"skipped: {exc.name} is not installed (pip install -e '.[bench]')")
        return 0

    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in COLLECTIONS]
    if unknown:
        ap.error(f"unknown collections: {', '.join(unknown)} (choose from {', '.join(COLLECTIONS)})")
    missing = [n for n in names if not (DATA / n / "qrels.txt").exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found under {DATA}")
        return 0
    peers = not args.no_peers
    print("Relevance on judged collections (title + text; judged queries only; top 1000)", file=sys.stderr)
    loaded = {n: load(n) for n in names}
    results = measure_all(list(loaded.values()), peers)
    print_table("nDCG@10 / MAP / R@100 (higher is better)", names, results, peers, with_mean=len(names) > 1)
    print_timing(names, results, peers)
    print_checks(names, results, peers, {n: len(c.queries) for n, c in loaded.items()})

    if not args.no_short:
        short = [shortened(loaded[n]) for n in names if n in TITLED]
        short += [shortened(loaded[n], every=2) for n in names if n in TITLED + ("med",)]
        if short:
            results = measure_all(short, peers)
            print_table("Short documents (robustness): the same judgments, documents cut to their titles "
                        "(not part of the targets)",
                        [c.name for c in short], results, peers, with_mean=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
