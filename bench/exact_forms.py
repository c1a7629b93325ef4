"""What exact forms first and joined/split forms cost a search, in-process, against the same code without them.

    python bench/exact_forms.py INDEX [--rounds 7]
    python bench/exact_forms.py --keywords [--only med,npl] [--part both|exact|joins]

INDEX is an index home (e.g. the Reuters pages of
../shared/tools/reuters_to_html.py, reindexed). Each round runs every query
once per variant, the variants alternating (on, off, off, on, ...), through
``search`` with snippets and facets as the page asks, the result cache off.
"Off" is the same code with the re-scoring depth and the joins and splits
at zero (exact.DEPTH, plan.JOINS, plan.SPLITS). Prints the median and 90th
percentile milliseconds per query group, and what the feature changed in
each query's first page.

``--keywords``: the judged collections of bench/relevance.py asked as a
person types keywords, not questions: each query's first ``KEYWORDS``
distinct words that are not stop words (SMART), lower case, no punctuation.
nDCG@10 with and without the feature, the same indexes, in-process: what
bench/relevance.py cannot show (its queries all read as questions, which
the feature leaves alone).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from searchsvc import exact, plan
from searchsvc.config import Settings
from searchsvc.search import SearchIndex, SearchRequest, search

QUERIES = {
    "one word": ["oil", "bank", "shipping", "computer", "coffee", "ferry", "strike", "gold", "election", "steel"],
    "two or three words": ["oil prices", "interest rates", "trade deficit", "crude oil production",
                           "wheat exports", "central bank", "stock market crash", "port strike",
                           "computer sales", "takeover bid"],
    "joins and splits": ["take over", "takeover", "stock holders", "shareholders", "air line", "airlines",
                         "news paper", "cyber attack", "data base", "week end"],
    "questions": ["what did the central bank say about interest rates?",
                  "WHICH COMPANIES REPORTED LOWER OIL PRODUCTION",
                  "effects of the grain embargo on wheat exports to the soviet union"],
}
DEFAULTS = (exact.DEPTH, plan.JOINS, plan.SPLITS)


PART = "both"  # what "without" leaves out: both, exact (exact forms only) or joins (joins and splits only)


def variant(on: bool) -> None:
    off = (0, 0, 0) if PART == "both" else (0,) + DEFAULTS[1:] if PART == "exact" else DEFAULTS[:1] + (0, 0)
    exact.DEPTH, plan.JOINS, plan.SPLITS = DEFAULTS if on else off


def timed(index: SearchIndex, q: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    page = search(index, SearchRequest(q=q))
    return (time.perf_counter() - started) * 1000, [h.id for h in page.hits]


KEYWORDS = 4


def keyword_relevance(only: list[str]) -> None:
    import subprocess
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    import relevance
    from searchsvc import schema

    stop = schema.query_stop_words()
    print(f"judged collections asked as keywords (first {KEYWORDS} non-stop words); nDCG@10 / MAP")
    print("| collection | with exact forms + joins/splits | without | queries changed in their top 10 |")
    print("|---|---:|---:|---:|")
    for name in only or relevance.COLLECTIONS:
        c = relevance.load(name)
        with tempfile.TemporaryDirectory() as tmp:
            docs = Path(tmp) / "docs.jsonl"
            docs.write_text("".join(relevance.json.dumps(d) + "\n" for d in c.docs), "utf-8")
            subprocess.run([sys.executable, "-m", "searchsvc", "reindex", str(docs), "--index", f"{tmp}/ix",
                            "--workers", "1"], check=True, capture_output=True)
            index = SearchIndex(Settings.from_env({}, index=Path(tmp) / "ix", cache_entries=0))
            rankings = {}
            for on in (True, False):
                variant(on)
                ranking = {}
                for qid, text in c.queries:
                    words = [w for w in dict.fromkeys(relevance.WORDS.findall(text.lower())) if w not in stop]
                    q = " ".join(words[:KEYWORDS])
                    page = search(index, SearchRequest(q=q, per_page=1000, with_snippets=False,
                                                       with_facets=False, collapse=False))
                    ranking[qid] = [h.id for h in page.hits]
                rankings[on] = ranking
            variant(True)
            index.close()
        got = {on: relevance.evaluate(c, rankings[on]) for on in (True, False)}
        changed = sum(rankings[True][q][:10] != rankings[False][q][:10] for q in rankings[True])
        print(f"| {name} | {got[True]['nDCG@10']:.3f} / {got[True]['AP']:.3f} | "
              f"{got[False]['nDCG@10']:.3f} / {got[False]['AP']:.3f} | {changed} of {len(c.queries)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, nargs="?")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keywords", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--part", choices=("both", "exact", "joins"), default="both",
                        help="what 'without' leaves out (default: both)")
    args = parser.parse_args()
    global PART
    PART = args.part
    if args.keywords:
        keyword_relevance([n for n in args.only.split(",") if n])
        return
    if args.index is None:
        parser.error("INDEX is needed (or --keywords)")
    index = SearchIndex(Settings.from_env({}, index=args.index, cache_entries=0))
    index.warm()
    times = {(g, on): [] for g in QUERIES for on in (True, False)}
    pages = {}
    for on in (True, False):  # warm-up: every word's postings read once
        variant(on)
        for qs in QUERIES.values():
            for q in qs:
                pages[q, on] = timed(index, q)[1]
    for r in range(args.rounds):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            variant(on)
            for group, qs in QUERIES.items():
                times[group, on].extend(timed(index, q)[0] for q in qs)
    variant(True)
    print(f"{args.index}: {args.rounds} rounds, variants alternating; ms per query, median / p90")
    print("| queries | with exact forms + joins/splits | without | ratio of medians |")
    print("|---|---:|---:|---:|")
    for group in QUERIES:
        on, off = times[group, True], times[group, False]
        p90 = lambda xs: statistics.quantiles(xs, n=10)[-1]
        print(f"| {group} | {statistics.median(on):.1f} / {p90(on):.1f} | {statistics.median(off):.1f} / "
              f"{p90(off):.1f} | {statistics.median(on) / statistics.median(off):.2f}x |")
    changed = [q for qs in QUERIES.values() for q in qs if pages[q, True] != pages[q, False]]
    print(f"first pages changed by the feature: {len(changed)} of {sum(map(len, QUERIES.values()))}: {changed}")
    index.close()


if __name__ == "__main__":
    main()
