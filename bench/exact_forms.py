"""What exact forms first and joined/split forms cost a search, in-process, against the same code without them.

    python bench/exact_forms.py INDEX [--rounds 7]

INDEX is an index home (e.g. the Reuters pages of
../shared/tools/reuters_to_html.py, reindexed). Each round runs every query
once per variant, the variants alternating (on, off, off, on, ...), through
``search`` with snippets and facets as the page asks, the result cache off.
"Off" is the same code with the re-scoring depth and the joins and splits
at zero (exact.DEPTH, plan.JOINS, plan.SPLITS). Prints the median and 90th
percentile milliseconds per query group, and what the feature changed in
each query's first page.
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


def variant(on: bool) -> None:
    exact.DEPTH, plan.JOINS, plan.SPLITS = DEFAULTS if on else (0, 0, 0)


def timed(index: SearchIndex, q: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    page = search(index, SearchRequest(q=q))
    return (time.perf_counter() - started) * 1000, [h.id for h in page.hits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
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
