"""The cost of building a page's hits (``search._hit``): this checkout's against another's, in the same run.

    python bench/hit_cost.py INDEX CORPUS [--against main] [--other-index INDEX2] [--queries 300] [--repeats 3]
                             [--parts]

Like bench/query_cost.py (the same queries from CORPUS's titles, the same
seeds, one process per variant opened as ``serve`` opens the index, result
cache off, rounds alternating A B, B A), but what is timed is only the
building of the hits: every ``_hit`` call of a query (ten a page), summed,
in the thread's CPU time (``time.thread_time``: on a shared machine,
waiting for a core is not building hits). Each round asks queries not asked
before (what a fresh query costs: the documents' stored fields and the
highlighting are new to the process). Prints microseconds per query (p50 /
p95 / mean) per round and variant; the hits (``to_dict``) must be
identical query by query.

``--other-index`` gives the other variant the same articles in an index
its own version wrote (a layout this checkout changed, e.g. stored.py's).

``--parts`` adds a round per variant with what ``_hit`` calls wrapped and
timed (the wrappers add about a microsecond a call): the stored fields,
``passages``, ``mark``, ``_versions``, ``_iso``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = ("stored_fields", "passages", "mark", "_versions", "_iso")


def worker(index: str) -> None:
    from searchsvc import engine
    from searchsvc import search as searching
    from searchsvc.config import Settings
    from searchsvc.highlight import lemmas

    settings = Settings.from_env(index=index, cache_entries=0, cache_bytes=0)
    ix = searching.SearchIndex(settings)
    ix.warm()
    lemmas("searches")
    spent = {"_hit": 0.0}
    real_hit = searching._hit

    def timed_hit(*args, **kwargs):
        started = time.thread_time()
        try:
            return real_hit(*args, **kwargs)
        finally:
            spent["_hit"] += time.thread_time() - started

    searching._hit = timed_hit
    print(json.dumps({"ready": os.path.dirname(os.path.dirname(searching.__file__))}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        parts = _wrapped(engine, searching, spent) if job.get("parts") else None
        times, digests, split = [], [], {name: 0.0 for name in PARTS}
        try:
            for q in job["queries"]:
                for name in spent:
                    spent[name] = 0.0
                page = searching.search(ix, searching.request_from_params({"q": [q]}, settings))
                times.append(spent["_hit"] * 1e6)
                for name in PARTS:
                    split[name] += spent.get(name, 0.0) * 1e6
                digests.append(hashlib.sha1(json.dumps([h.to_dict() if hasattr(h, "to_dict") else repr(h)
                                                        for h in page.hits], sort_keys=True,
                                                       default=repr).encode()).hexdigest())
        finally:
            if parts is not None:
                _unwrapped(engine, searching, parts)
        print(json.dumps({"times": times, "digests": digests,
                          "parts": {k: v / len(job["queries"]) for k, v in split.items()}}), flush=True)
    ix.close()


def _wrapped(engine, searching, spent: dict) -> dict:
    """Each of PARTS replaced by a timing wrapper; returns the originals."""
    originals = {"stored_fields": engine.Evaluator.stored_fields}
    for name in PARTS[1:]:
        originals[name] = getattr(searching, name)

    def timing(name, real):
        def call(*args, **kwargs):
            started = time.thread_time()
            try:
                return real(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - started
        return call

    engine.Evaluator.stored_fields = timing("stored_fields", originals["stored_fields"])
    for name in PARTS[1:]:
        setattr(searching, name, timing(name, originals[name]))
    return originals


def _unwrapped(engine, searching, originals: dict) -> None:
    engine.Evaluator.stored_fields = originals["stored_fields"]
    for name in PARTS[1:]:
        setattr(searching, name, originals[name])


def main(argv=None) -> int:
    import query_cost
    from query_cost import Variant, figures

    ap = query_cost.arguments(__doc__)
    ap.add_argument("--against", default="main", help="a git ref whose searchsvc is the other variant")
    ap.add_argument("--parts", action="store_true")
    args = query_cost.parsed(ap, argv, worker)
    if args is None:
        return 0
    warm, rounds = query_cost.query_sets(args.corpus, args.queries, args.repeats + args.parts)
    with tempfile.TemporaryDirectory() as tmp:
        other = query_cost.exported(args.against, Path(tmp))
        variants = [Variant("this", REPO, Path(args.index).resolve(), __file__),
                    Variant(args.against, other, Path(args.other_index or args.index).resolve(), __file__)]
        try:
            for v in variants:
                v.ask(queries=warm)
            rows: dict[str, list] = {v.name: [] for v in variants}
            digests: dict[str, list] = {v.name: [] for v in variants}
            for r, asked in enumerate(rounds[:args.repeats]):
                for v in (variants if r % 2 == 0 else variants[::-1]):
                    answer = v.ask(queries=asked)
                    rows[v.name].append(figures(answer["times"]))
                    digests[v.name] += answer["digests"]
            print(f"{args.queries} fresh queries a round, index {args.index}"
                  + (f" ({args.against}: {args.other_index})" if args.other_index else ""))
            print(f"CPU microseconds of _hit per query, {args.repeats} rounds alternating (p50 / p95 / mean)")
            for name, found in rows.items():
                print(f"  {name:>10}: " + "  ".join(f"{a:.0f} / {b:.0f} / {c:.0f}" for a, b, c in found))
            if args.parts:
                print("parts, mean microseconds per query (wrapped: about 1 µs a call added)")
                for v in variants:
                    parts = v.ask(queries=rounds[-1], parts=True)["parts"]
                    print(f"  {v.name:>10}: " + "  ".join(f"{k} {x:.0f}" for k, x in parts.items()))
            a, b = (digests[v.name] for v in variants)
            differ = sum(x != y for x, y in zip(a, b))
            print(f"hits identical: {len(a) - differ}/{len(a)} queries")
            return 1 if differ else 0
        finally:
            for v in variants:
                v.close()


if __name__ == "__main__":
    sys.exit(main())
