"""Phrase worst cases, in-process: each query's wall and CPU time, first use and again, beside the same words unquoted.

    python bench/phrases.py                      # builds the 21k Reuters pages in a temporary folder
    python bench/phrases.py --index DIR          # an index already built (e.g. the 216k corpus of bench/speed.py)

The hostile cases of issue 16: one word repeated up to 399 times (inside the
2,000-character query limit), two-word phrases of the most frequent words,
several phrases in one query, three such queries at once in three threads.
The peer in the same run is the same words without quotes (a plain word
query): the machine is shared, so wall times drift; the CPU time of the
process and the ratio to the peer do less. The result cache is off, the
frequent words' postings warmed first as ``serve`` does; "first" is a
phrase's first use (its positions are read), "again" its best of two more.

Without ../shared (and no --index) it says so and exits 0.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONVERTER = REPO.parent / "shared" / "tools" / "reuters_to_html.py"


def said(n: int) -> str:
    return '"' + " ".join(["said"] * n) + '"'


QUERIES = {
    "said x399": said(399),
    "said x32": said(32),
    "said x2": said(2),
    "mln dlrs x200": '"' + " ".join(["mln dlrs"] * 200)[:1990] + '"',
    "company said": '"company said"',
    "he said": '"he said"',
    "mln dlrs": '"mln dlrs"',
    "said the company": '"said the company"',
    "oil prices": '"oil prices"',
    "8 phrases of frequent words": " ".join(f'"{a} {b}"' for a, b in [
        ("said", "mln"), ("mln", "dlrs"), ("vs", "mln"), ("pct", "said"), ("year", "said"), ("company", "said"),
        ("share", "said"), ("net", "shr")]),
    "3 phrases said x130": " ".join([said(130)] * 3)[:1999],
}


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="an index home already built")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from searchsvc.config import Settings
    from searchsvc.indexer import reindex
    from searchsvc.search import SearchIndex, SearchRequest, search

    with tempfile.TemporaryDirectory(prefix="bench-phrases-") as tmp:
        index = args.index
        if index is None:
            if not CONVERTER.exists():
                print(f"skipped: {CONVERTER} is missing (needs ../shared), or pass --index DIR")
                return 0
            pages = Path(tmp) / "pages"
            subprocess.run([sys.executable, str(CONVERTER), "--quiet", str(pages)], check=True)
            index = Path(tmp) / "index"
            reindex(Settings.from_env({}, index=index), [pages])
        settings = Settings.from_env({}, index=index, cache_entries=0)
        ix = SearchIndex(settings)
        ix.warm()
        documents = ix.searcher().doc_count()
        print(f"{documents} articles in {index}")
        print(f"{'query':30s} {'hits':>6s} {'first ms (cpu)':>16s} {'again ms (cpu)':>16s} "
              f"{'unquoted ms':>12s} {'ratio':>6s}")
        for name, q in QUERIES.items():
            runs = [timed(lambda n=n: search(ix, SearchRequest(q=q, per_page=10 + n))) for n in range(3)]
            total = search(ix, SearchRequest(q=q, per_page=13)).total
            plain = q.replace('"', " ")
            plain_runs = [timed(lambda n=n: search(ix, SearchRequest(q=plain, per_page=10 + n))) for n in range(3)]
            first, again = runs[0], min(runs[1:])
            peer = min(plain_runs[1:])
            print(f"{name:30s} {total:6d} {first[0] * 1000:8.1f} ({first[1] * 1000:5.0f}) "
                  f"{again[0] * 1000:8.1f} ({again[1] * 1000:5.0f}) {peer[0] * 1000:12.1f} "
                  f"{again[0] / max(peer[0], 1e-6):6.1f}", flush=True)
        # three hostile queries at once, each in its own thread (as three server threads would)
        fresh = SearchIndex(settings)
        fresh.warm()
        walls = []

        def one(q):
            walls.append(timed(lambda: search(fresh, SearchRequest(q=q)))[0])

        threads = [threading.Thread(target=one, args=(said(399 - i),)) for i in range(3)]
        wall = timed(lambda: [t.start() for t in threads] + [t.join() for t in threads])[0]
        print(f"three 'said x399' at once, fresh process state: each {max(walls) * 1000:.0f} ms at most, "
              f"{wall * 1000:.0f} ms in all")
        ix.close()
        fresh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
