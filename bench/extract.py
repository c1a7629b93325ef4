"""Article-body extraction benchmark: searchsvc.clean against trafilatura.

Runs every extractor over the shared article-extraction pages in one process
and prints one table (F1, precision, recall, exact-match accuracy, ms/page),
scored by the shared scorer (../shared/tools/score_extraction.py).

    python bench/extract.py [--limit N] [--repeat K]

trafilatura keeps comments by default; the 'no cmts' row turns that off, as
an article body has none.

trafilatura is a bench-only dependency; without it, or without ../shared,
this prints why and exits 0.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCORER = SHARED / "tools" / "score_extraction.py"
DATA = SHARED / "data" / "article-extraction"


def load_scorer():
    """The shared scorer as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("score_extraction", SCORER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def extractors() -> dict:
    """name -> callable(html, url) returning body text."""
    sys.path.insert(0, str(REPO))
    from searchsvc.clean import extract_article
    import trafilatura

    return {
        "searchsvc.clean": lambda html, url: extract_article(html, url=url).text,
        "trafilatura (favor_precision)": lambda html, url: trafilatura.extract(
            html, url=url, favor_precision=True) or "",
        "trafilatura (precision, no cmts)": lambda html, url: trafilatura.extract(
            html, url=url, favor_precision=True, include_comments=False) or "",
        "trafilatura (default)": lambda html, url: trafilatura.extract(html, url=url) or "",
    }


def measure(scorer, extract, pages, repeat: int) -> dict:
    """Score one extractor; time per page is the best of `repeat` runs."""
    best_seconds = None
    for _ in range(repeat):
        run = scorer.run_extractor(extract, pages)
        seconds = statistics.mean(run.seconds.values())
        best_seconds = seconds if best_seconds is None else min(best_seconds, seconds)
    scores = [scorer.score_page(p.truth, run.predictions.get(p.item_id, "")) for p in pages]
    return {**scorer.aggregate(scores), "ms": best_seconds * 1000, "errors": len(run.errors)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="score only the first N pages")
    ap.add_argument("--repeat", type=int, default=1, help="runs per extractor; fastest time kept")
    args = ap.parse_args(argv)

    if not SCORER.exists() or not (DATA / "html").is_dir():
        print(f"bench/extract.py: no shared benchmark at {SHARED}; skipping")
        return 0
    if importlib.util.find_spec("trafilatura") is None:
        print("bench/extract.py: trafilatura is not installed (pip install -e '.[bench]'); skipping")
        return 0

    scorer = load_scorer()
    pages = scorer.load_benchmark(DATA)
    if args.limit:
        pages = pages[:args.limit]
    # Read the gzip files once so decompression is not timed.
    cache = {p.item_id: p.html() for p in pages}
    for page in pages:
        page.html = (lambda text: (lambda: text))(cache[page.item_id])

    print(f"{len(pages)} pages from {DATA}")
    print(f"{'extractor':32} {'F1':>6} {'prec':>6} {'recall':>6} {'exact':>6} {'ms/page':>8} {'errors':>6}")
    for name, extract in extractors().items():
        m = measure(scorer, extract, pages, max(1, args.repeat))
        print(f"{name:32} {m['f1']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} "
              f"{m['accuracy']:6.3f} {m['ms']:8.1f} {m['errors']:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
