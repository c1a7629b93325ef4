"""The cost of counting a query's distinct near-duplicate groups: ``np.unique`` against a sort and one comparison.

    python bench/distinct_cost.py INDEX CORPUS [--queries 300]

Asks ``search`` the queries bench/query_cost.py makes (titles' words, the
same seed) and records the group codes every ``Generation.distinct_groups``
call counts (a page's total, and its total with every word). Then times,
call by call, ``np.unique(codes).size``, ``engine.distinct_count``, a
flag per group, and each count as ``distinct_groups`` chooses it (below a
sixteenth of the groups' count, else flags), and prints microseconds per query for each (thread CPU
time, the best of five), with the calls' sizes. The counts must agree.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def recorded(index: str, queries: list[str]) -> tuple[list[np.ndarray], int]:
    from searchsvc import engine
    from searchsvc import search as searching
    from searchsvc.config import Settings

    settings = Settings.from_env(index=index, cache_entries=0, cache_bytes=0)
    ix = searching.SearchIndex(settings)
    ix.warm()
    calls, named = [], [0]
    real = engine.Generation.distinct_groups

    def distinct_groups(gen, docnums):
        codes = gen._shared_group[docnums]
        calls.append(codes[codes >= 0])
        named[0] = gen._named
        return real(gen, docnums)

    engine.Generation.distinct_groups = distinct_groups
    try:
        for q in queries:
            searching.search(ix, searching.request_from_params({"q": [q]}, settings))
    finally:
        engine.Generation.distinct_groups = real
    return calls, named[0]


def cpu_us(count, calls: list[np.ndarray]) -> float:
    """Thread CPU microseconds to count every call's codes, the best of five."""
    best = float("inf")
    for _ in range(5):
        start = time.thread_time()
        for codes in calls:
            count(codes)
        best = min(best, time.thread_time() - start)
    return best * 1e6


def main(argv=None) -> int:
    import speed
    from searchsvc import engine

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index")
    ap.add_argument("corpus")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--words", help="only the queries of these many words, e.g. 2,3 (the median query's)")
    args = ap.parse_args(argv)
    titles = speed.title_words(Path(args.corpus))
    rng, taken = random.Random(5), set()
    speed.make_queries(titles, 60, rng, taken)  # bench/query_cost.py's warm-up queries: the same seed, the same queries
    queries = speed.make_queries(titles, args.queries, rng, taken)
    if args.words:
        sizes = {int(n) for n in args.words.split(",")}
        queries = [q for q in queries if not q.startswith('"') and len(q.split()) in sizes]
    calls, named = recorded(args.index, queries)

    def flags(codes):
        seen = np.zeros(named, bool)
        seen[codes] = True
        return int(np.count_nonzero(seen))

    def chosen(below):  # as distinct_groups chooses: a count of the codes below a sixteenth of the groups, else flags
        return lambda c: below(c) if len(c) * 16 < named else flags(c)

    ways = {"np.unique": lambda c: np.unique(c).size, "distinct_count": engine.distinct_count, "flags": flags,
            "np.unique/flags": chosen(lambda c: np.unique(c).size), "distinct_count/flags": chosen(engine.distinct_count)}
    counts = {name: [way(c) for c in calls] for name, way in ways.items()}
    if len({tuple(v) for v in counts.values()}) != 1:
        print("the counts differ", file=sys.stderr)
        return 1
    sizes = sorted(len(c) for c in calls)
    print(f"{len(queries)} queries, {len(calls)} calls over {named} groups; codes per call "
          f"p50 {statistics.median(sizes):.0f}, p90 {sizes[int(0.9 * (len(sizes) - 1))]}, max {sizes[-1]}")
    for name, way in ways.items():
        print(f"{name:>20}: {cpu_us(way, calls) / len(queries):7.1f} µs CPU per query")
    return 0


if __name__ == "__main__":
    sys.exit(main())
