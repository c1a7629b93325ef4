"""The cost of highlighting a page of hits: this checkout's highlight.py against another's, on the same texts.

    python bench/highlight_cost.py INDEX CORPUS [--against main] [--queries 300] [--repeats 5]

Asks ``search`` (this checkout's) the queries bench/query_cost.py makes
(titles' words, the same seeds) and records every ``passages`` and ``mark``
call it makes for the hits (the bodies, titles, stems and forms as asked).
Then replays them through each variant's highlight module, alternating
(A B, B A, ...), each round with fresh ``Forms`` (a fresh query's: nothing
known of its words yet) and fresh per-query caches, and prints
microseconds per query (p50 / p95 / mean) per round. The outputs must be
identical call by call: the script says how many differ. Times are the
thread's CPU time (``time.thread_time``): on a shared machine, waiting for
a core is not highlighting.
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def recorded(index: str, queries: list[str]) -> list[list[tuple]]:
    """Per query: its calls, ("passages", body, stems, size, typed) or ("mark", title, stems, typed)."""
    from searchsvc import search as searching
    from searchsvc.config import Settings
    from searchsvc.highlight import lemmas

    settings = Settings.from_env(index=index, cache_entries=0, cache_bytes=0)
    ix = searching.SearchIndex(settings)
    ix.warm()
    lemmas("searches")
    calls: list[tuple] = []
    real_passages, real_mark = searching.passages, searching.mark

    def passages(body, stems, size=240, limit=3, forms=None):
        calls.append(("passages", body, frozenset(stems), size, limit, _typed(forms)))
        return real_passages(body, stems, size, limit=limit, forms=forms)

    def mark(text, stems, forms=None):
        calls.append(("mark", text, frozenset(stems), _typed(forms)))
        return real_mark(text, stems, forms)

    searching.passages, searching.mark = passages, mark
    per_query = []
    try:
        for q in queries:
            calls = []
            searching.search(ix, searching.request_from_params({"q": [q]}, settings))
            per_query.append(calls)
    finally:
        searching.passages, searching.mark = real_passages, real_mark
        ix.close()
    return per_query


def _typed(forms) -> tuple | None:
    """The typed words a ``Forms`` was made from (each of its terms' words), to make a fresh one per round."""
    if forms is None:
        return None
    return tuple(sorted({w for ws in forms.words.values() for w in ws}))


def loaded(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def replay(module, per_query: list[list[tuple]]) -> tuple[list[float], list]:
    """(microseconds per query, outputs): each query's calls with a fresh ``Forms`` of its words."""
    times, outputs = [], []
    for calls in per_query:
        started = time.thread_time()
        forms_of: dict = {}
        for call in calls:
            typed = call[-1]
            forms = None
            if typed is not None:
                forms = forms_of.get(typed)
                if forms is None:
                    forms = forms_of[typed] = module.Forms({t: frozenset(ws) for t, ws in _words(typed).items()})
            if call[0] == "passages":
                outputs.append(module.passages(call[1], set(call[2]), call[3], limit=call[4], forms=forms))
            else:
                outputs.append(module.mark(call[1], set(call[2]), forms))
        times.append((time.thread_time() - started) * 1e6)
    return times, outputs


def _words(typed: tuple) -> dict:
    from searchsvc import schema

    words: dict = {}
    for w in typed:
        for term in schema.stems(w):
            words.setdefault(term, set()).add(w.lower())
    return words


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index")
    ap.add_argument("corpus")
    ap.add_argument("--against", default="main", help="a git ref whose highlight.py is the other variant")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    import speed

    titles = speed.title_words(Path(args.corpus))
    rng, taken = random.Random(5), set()
    queries = speed.make_queries(titles, args.queries, rng, taken)
    per_query = recorded(args.index, queries)
    print(f"{len(queries)} queries, {sum(len(c) for c in per_query)} highlight calls, index {args.index}")
    with tempfile.TemporaryDirectory() as tmp:
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{args.against}:searchsvc/highlight.py"],
                                check=True, capture_output=True, text=True).stdout
        other_path = Path(tmp) / "highlight_other.py"
        other_path.write_text(source, "utf-8")
        variants = [("this", loaded("highlight_this", REPO / "searchsvc" / "highlight.py")),
                    (args.against, loaded("highlight_other", other_path))]
        rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in variants}
        answers: dict[str, list] = {}
        for r in range(args.repeats):
            for name, module in (variants if r % 2 == 0 else variants[::-1]):
                for cache in ("_heads", "_stem_pattern"):  # a fresh query's: not seen before
                    held = getattr(module, cache, None)
                    if held is not None and hasattr(held, "cache_clear"):
                        held.cache_clear()
                times, outputs = replay(module, per_query)
                answers.setdefault(name, outputs)
                ordered = sorted(times)
                rows[name].append((statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))],
                                   statistics.fmean(ordered)))
    print(f"CPU microseconds of highlighting per query, {args.repeats} rounds alternating (p50 / p95 / mean)")
    for name, found in rows.items():
        print(f"  {name:>10}: " + "  ".join(f"{a:.0f} / {b:.0f} / {c:.0f}" for a, b, c in found))
    a, b = (answers[name] for name, _ in variants)
    differ = sum(x != y for x, y in zip(a, b))
    print(f"outputs identical: {len(a) - differ}/{len(a)} calls")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
