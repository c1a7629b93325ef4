"""Article-body extraction benchmark: searchsvc.clean against trafilatura and readability-lxml.

Two independent measures, every extractor in the same process and run:

* ``pages``: the 121 hand-marked pages of ../shared/data/article-extraction
  (F1 of 4-token shingles, macro-averaged; ../shared/tools/score_extraction.py);
* ``snippets``: the 495 pages of ../shared/data/article-extraction-2, judged
  by snippets the main text must contain and must not contain (micro-averaged
  over snippets; the metric of ../shared/tools/score_snippets.py).

    python bench/extract.py [--split A|B] [--only NAME] [--limit N] [--repeat K]

``--split A|B`` keeps the pages of one half of the sites (a stable hash of
the site's host name), so a change can be decided on one half and confirmed
on the other.  Time per page is the mean wall-clock time inside the call
(best of ``--repeat`` runs), with the gzip files read beforehand.

trafilatura keeps comments by default; the 'no cmts' row turns that off, as
an article body has none.  trafilatura and readability-lxml are bench-only
dependencies; without them, or without ../shared, this prints why and exits 0.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TOOLS = SHARED / "tools"
PAGES_DATA = SHARED / "data" / "article-extraction"
SNIPPETS_DATA = SHARED / "data" / "article-extraction-2"
BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
          "td", "th", "section", "article", "table", "ul", "ol", "dd", "dt", "figcaption"}


def load_tool(name: str):
    """A shared scoring script as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def half_of(site: str) -> str:
    """'A' or 'B': a stable hash of the site's host name (www. dropped)."""
    host = (site or "").lower().removeprefix("www.")
    return "AB"[hashlib.sha1(host.encode("utf-8")).digest()[0] % 2]


def readability_text(html: str, url: str | None = None) -> str:
    """readability-lxml's summary as text, one line per block (it returns HTML)."""
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    root = lxml.html.fromstring(summary)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in BLOCKS:
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


def extractors() -> dict:
    """name -> callable(html, url) returning body text."""
    sys.path.insert(0, str(REPO))
    import trafilatura

    from searchsvc.clean import extract_article

    return {
        "searchsvc.clean": lambda html, url: extract_article(html, url=url).text,
        "trafilatura (favor_precision)": lambda html, url: trafilatura.extract(
            html, url=url, favor_precision=True) or "",
        "trafilatura (precision, no cmts)": lambda html, url: trafilatura.extract(
            html, url=url, favor_precision=True, include_comments=False) or "",
        "trafilatura (default)": lambda html, url: trafilatura.extract(html, url=url) or "",
        "readability-lxml 0.9": readability_text,
    }


def timed_texts(extract, pages: list[tuple[str, str, str | None]], repeat: int) -> tuple[dict, float, int]:
    """{page id: text}, mean seconds per page (best of `repeat` runs, after one warm-up call), errors."""
    if pages:
        try:
            extract(pages[0][1], pages[0][2])
        except Exception:  # noqa: BLE001 - counted below
            pass
    best, texts, errors = None, {}, set()
    for _ in range(repeat):
        seconds = []
        for item_id, html, url in pages:
            start = time.perf_counter()
            try:
                texts[item_id] = extract(html, url) or ""
            except Exception:  # noqa: BLE001 - a crash is a full miss, as the scorers count it
                errors.add(item_id)
                texts[item_id] = ""
            seconds.append(time.perf_counter() - start)
        mean = statistics.mean(seconds) if seconds else 0.0
        best = mean if best is None else min(best, mean)
    return texts, best or 0.0, len(errors)


class PagesMeasure:
    """The 121 hand-marked pages, scored by shingle F1."""
    name = "pages"

    def __init__(self, split: str | None, limit: int | None):
        self.scorer = load_tool("score_extraction")
        pages = self.scorer.load_benchmark(PAGES_DATA)
        pages = [p for p in pages if split is None or half_of(urlsplit(p.url).hostname or "") == split]
        self.pages = pages[:limit] if limit else pages
        self.inputs = [(p.item_id, p.html(), p.url or None) for p in self.pages]

    def score(self, texts: dict) -> dict:
        scores = [self.scorer.score_page(p.truth, texts.get(p.item_id, "")) for p in self.pages]
        got = self.scorer.aggregate(scores)
        return {"f1": got["f1"], "precision": got["precision"], "recall": got["recall"]}


class SnippetsMeasure:
    """The snippet-judged pages: 'with' snippets found, 'without' snippets leaked."""
    name = "snippets"

    def __init__(self, split: str | None, limit: int | None):
        self.tool = load_tool("score_snippets")
        evaldata = json.loads((SNIPPETS_DATA / "eval.json").read_text(encoding="utf-8"))
        files = [f for f in sorted(evaldata) if split is None
                 or half_of(evaldata[f].get("site") or urlsplit(evaldata[f].get("url") or "").hostname or f) == split]
        self.judged = {f: evaldata[f] for f in (files[:limit] if limit else files)}
        # as score_snippets.py does: the decoded page, no url
        self.inputs = [(f, self.tool.decode_page(gzip.decompress((SNIPPETS_DATA / "html" / f"{f}.gz").read_bytes()))[0],
                        None) for f in self.judged]

    def score(self, texts: dict) -> dict:
        norm = self.tool.normalize
        tp = fp = fn = tn = 0
        for f, item in self.judged.items():
            got = norm(texts.get(f, ""))
            found = sum(1 for s in item["with"] if norm(s) in got)
            leaked = sum(1 for s in item["without"] if norm(s) in got)
            tp, fn = tp + found, fn + len(item["with"]) - found
            fp, tn = fp + leaked, tn + len(item["without"]) - leaked
        got = self.tool.scores(tp, fp, fn, tn)
        return {"f1": got["f1"], "precision": got["precision"], "recall": got["recall"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("A", "B"), help="only the pages of one half of the sites")
    ap.add_argument("--only", action="append", help="only extractors whose name contains this (repeatable)")
    ap.add_argument("--limit", type=int, help="score only the first N pages of each set")
    ap.add_argument("--repeat", type=int, default=1, help="runs per extractor; fastest time kept")
    args = ap.parse_args(argv)

    if not (TOOLS / "score_extraction.py").exists() or not (PAGES_DATA / "html").is_dir():
        print(f"bench/extract.py: no shared benchmark at {SHARED}; skipping")
        return 0
    for module in ("trafilatura", "readability"):
        if importlib.util.find_spec(module) is None:
            print(f"bench/extract.py: {module} is not installed (pip install -e '.[bench]'); skipping")
            return 0

    measures = [PagesMeasure(args.split, args.limit)]
    if (SNIPPETS_DATA / "eval.json").exists():
        measures.append(SnippetsMeasure(args.split, args.limit))
    else:
        print(f"bench/extract.py: no snippet benchmark at {SNIPPETS_DATA}; only the first measure")
    half = f", half {args.split} of the sites" if args.split else ""
    for m in measures:
        print(f"{m.name}: {len(m.inputs)} pages{half}")
    header = f"{'extractor':32}" + "".join(f" | {m.name + ': F1':>15} {'prec':>6} {'recall':>6} {'ms/page':>7}"
                                           for m in measures)
    print(header)
    for name, extract in extractors().items():
        if args.only and not any(part in name for part in args.only):
            continue
        row, failed = f"{name:32}", []
        for m in measures:
            texts, seconds, errors = timed_texts(extract, m.inputs, max(1, args.repeat))
            got = m.score(texts)
            row += f" | {got['f1']:15.3f} {got['precision']:6.3f} {got['recall']:6.3f} {seconds * 1000:7.1f}"
            failed += [f"{errors} {m.name} page(s) raised (scored empty)"] if errors else []
        print(row + ("  " + "; ".join(failed) if failed else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
