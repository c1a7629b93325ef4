"""The fixed cost of one query, in-process: this checkout's ``search`` against another's, in the same run.

    python bench/query_cost.py INDEX CORPUS [--against main] [--other-index INDEX2] [--queries 300] [--repeats 3]
                               [--profile]

INDEX is an index home (``searchsvc reindex --index INDEX CORPUS``), CORPUS
the folder of HTML pages it was built from (its titles make the queries, as
bench/speed.py's ``make_queries`` does: 1-4 words of one title, 20 % quoted
two-word phrases; the same seeds). Each variant runs in its own process,
opened as ``searchsvc serve`` opens the index (``SearchIndex``, ``warm``, the
lemma dictionary), with the result cache off; it answers the warm-up queries,
then every measured query once (unmeasured: postings read on first use are
not the fixed cost), then the measured rounds: those queries again, then
queries not asked before (new ones each round: what a cache of a query's own
cannot help). Rounds alternate between the variants (A B, B A, ...)
``--repeats`` times; each round times ``search`` (what
the web layer calls for ``/api/search?q=``: 10 hits with snippets, facets,
exact totals, near-duplicates collapsed) on every query and prints p50 / p95 /
mean milliseconds per variant. The variants' answers (``to_dict`` without
``took_ms``) must be identical, query by query: the script says which differ.

``--against REF`` runs REF's ``searchsvc`` package (``git archive``, into a
temporary folder) as the other variant; ``--code DIR`` any folder holding a
``searchsvc`` package. ``--other-index INDEX2`` gives the other variant the same articles in an
index its own version wrote (where this checkout changed a file's layout);
the answers are then compared without ``next`` (a cursor names its index's
generation, which two copies do not share).
``--profile`` adds a cProfile round per variant
(functions by own time, and by cumulative time).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


# --- the worker: one variant's code, one process ------------------------------------

def worker(index: str) -> None:
    from searchsvc.config import Settings
    from searchsvc.highlight import lemmas
    from searchsvc.search import SearchIndex, request_from_params, search

    settings = Settings.from_env(index=index, cache_entries=0, cache_bytes=0)
    ix = SearchIndex(settings)
    ix.warm()
    lemmas("searches")
    out = sys.stdout
    print(json.dumps({"ready": os.path.dirname(os.path.dirname(sys.modules["searchsvc"].__file__))}), file=out,
          flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        requests = [request_from_params({"q": [q]}, settings) for q in job["queries"]]
        if job.get("profile"):
            print(json.dumps({"profile": _profiled(ix, requests, job.get("top", 40))}), file=out, flush=True)
            continue
        times, digests = [], []
        for req in requests:
            started = time.perf_counter()
            page = search(ix, req)
            times.append((time.perf_counter() - started) * 1000)
            if job.get("digest", True):
                answer = page.to_dict()
                answer.pop("took_ms")
                for key in job.get("drop", ()):
                    answer.pop(key, None)
                digests.append(hashlib.sha1(json.dumps(answer, sort_keys=True).encode()).hexdigest())
        print(json.dumps({"times": times, "digests": digests}), file=out, flush=True)
    ix.close()


def _profiled(ix, requests, top: int) -> str:
    import cProfile
    import io
    import pstats

    from searchsvc.search import search

    profile = cProfile.Profile()
    profile.enable()
    for req in requests:
        search(ix, req)
    profile.disable()
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


# --- the parent: queries, rounds, figures -------------------------------------------

class Variant:
    """One variant's worker process (``script --worker INDEX``, this file's by default), asked jobs as JSON lines."""

    def __init__(self, name: str, code: Path, index: Path, script: str = __file__):
        env = dict(os.environ, PYTHONPATH=str(code))
        self.name = name
        self.proc = subprocess.Popen([sys.executable, script, "--worker", str(index)], env=env, cwd=str(code),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.code = json.loads(self.proc.stdout.readline())["ready"]

    def ask(self, **job) -> dict:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def figures(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            statistics.fmean(ordered))


def exported(ref: str, into: Path) -> Path:
    """``ref``'s searchsvc package in ``into`` (git archive)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "searchsvc"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def arguments(description: str) -> argparse.ArgumentParser:
    """What this script and bench/hit_cost.py both take: INDEX CORPUS, --other-index, --queries, --repeats, and
    the worker's own --worker INDEX."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", nargs="?")
    ap.add_argument("corpus", nargs="?")
    ap.add_argument("--other-index", help="the index the other variant opens (default: INDEX)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", metavar="INDEX", help=argparse.SUPPRESS)
    return ap


def parsed(ap: argparse.ArgumentParser, argv, run_worker) -> argparse.Namespace | None:
    """``ap``'s arguments; None once this process has been a worker (``--worker INDEX``: ``run_worker(INDEX)``)."""
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return None
    if not args.index or not args.corpus:
        ap.error("INDEX and CORPUS are required")
    return args


def query_sets(corpus: str, per_set: int, sets: int) -> tuple[list[str], list[list[str]]]:
    """The 60 warm-up queries, then ``sets`` sets of ``per_set`` more, none asked twice: made from CORPUS's titles
    as bench/speed.py makes them, always the same (seed 5)."""
    import speed

    titles = speed.title_words(Path(corpus))
    rng, taken = random.Random(5), set()
    warm = speed.make_queries(titles, 60, rng, taken)
    return warm, [speed.make_queries(titles, per_set, rng, taken) for _ in range(sets)]


def main(argv=None) -> int:
    ap = arguments(__doc__)
    ap.add_argument("--against", help="a git ref whose searchsvc is the other variant (e.g. main)")
    ap.add_argument("--code", help="a folder holding the other variant's searchsvc package")
    ap.add_argument("--profile", action="store_true")
    args = parsed(ap, argv, worker)
    if args is None:
        return 0
    warm, (queries, *unseen) = query_sets(args.corpus, args.queries, 1 + args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        variants = [("this", REPO)]
        if args.against:
            variants.append((args.against, exported(args.against, Path(tmp))))
        elif args.code:
            variants.append((args.code, Path(args.code)))
        running = [Variant(name, code, Path(args.other_index if k and args.other_index else args.index).resolve())
                   for k, (name, code) in enumerate(variants)]
        try:
            return _run(running, warm, queries, unseen, args)
        finally:
            for v in running:
                v.close()


def _run(variants: list[Variant], warm: list[str], queries: list[str], unseen: list[list[str]], args) -> int:
    print(f"{len(queries)} queries ({sum(q.startswith(chr(34)) for q in queries)} quoted), index {args.index}")
    for v in variants:
        print(f"  {v.name}: {v.code}")
        v.ask(queries=warm)
    drop = ["next"] if args.other_index else []
    answers = {v.name: v.ask(queries=queries, drop=drop)["digests"] for v in variants}
    for label, sets in (("the same queries again (asked once before)", [queries] * args.repeats),
                        ("queries not asked before (new ones each round)", unseen)):
        rows: dict[str, list[tuple[float, float, float]]] = {v.name: [] for v in variants}
        times: dict[str, list[list[float]]] = {v.name: [] for v in variants}
        for r, asked in enumerate(sets):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                answer = v.ask(queries=asked, drop=drop)
                rows[v.name].append(figures(answer["times"]))
                times[v.name].append(answer["times"])
                if asked is not queries:
                    answers[v.name] += answer["digests"]
        print(f"\n{label}: ms per query, {args.repeats} rounds alternating (each round: p50 / p95 / mean)")
        for name, found in rows.items():
            cells = "  ".join(f"{p50:.2f} / {p95:.2f} / {mean:.2f}" for p50, p95, mean in found)
            print(f"  {name:>10}: {cells}")
        if len(variants) > 1:
            a, b = (rows[v.name] for v in variants[:2])
            print("  p50 this - other per round: " + ", ".join(f"{x[0] - y[0]:+.2f}" for x, y in zip(a, b)))
            print("  mean this - other per round: " + ", ".join(f"{x[2] - y[2]:+.2f}" for x, y in zip(a, b)))
            a, b = (times[v.name] for v in variants[:2])
            print("  median of per-query differences (this - other, the same query in the same round): " +
                  ", ".join(f"{statistics.median(x - y for x, y in zip(ta, tb)):+.2f}" for ta, tb in zip(a, b)))
    differ = 0
    if len(variants) > 1:
        a, b = (answers[v.name] for v in variants[:2])
        asked = queries + [q for qs in unseen for q in qs]
        wrong = [q for q, x, y in zip(asked, a, b) if x != y]
        differ = len(wrong)
        print(f"\nanswers identical (to_dict without took_ms): {len(a) - differ}/{len(a)} queries" +
              (f"; differ: {wrong[:10]}" if wrong else ""))
    if args.profile:
        for v in variants:
            print(f"\n--- cProfile, {v.name} ---")
            print(v.ask(queries=queries, profile=True)["profile"])
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
