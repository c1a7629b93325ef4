"""``searchsvc serve`` with its processes kept to a core each, against the same server left to the system.

    python bench/serve_cores.py INDEX CORPUS [--rounds 3] [--queries 300] [--unseen 400] [--processes N]

INDEX is an index home built from CORPUS (a folder of the bench's HTML
pages: its titles make the queries, as bench/speed.py's do). Each round
starts ``serve --pin-cores`` and ``serve --no-pin-cores`` in turn (the
order alternates round by round), asks each the warm-up queries, then
times fresh queries one at a time over one keep-alive connection (p50 /
p95 ms, as speed.py's latency row) and fresh queries from eight clients
(requests a second, as its unseen-throughput row). Every round draws new
queries, the same for both variants. Prints each round and the load
average, so that a busy machine shows.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402


class Served(speed.Ours):
    """Ours on an existing index, started with extra ``serve`` flags."""

    def __init__(self, name: str, index: Path, flags: list[str], processes: int = 0):
        super().__init__(name, index.parent, processes)
        self._index = index
        self.flags = flags

    @property
    def index(self) -> Path:
        return self._index

    def server_cmd(self, port: int) -> list[str]:
        return super().server_cmd(port) + ["--quiet", *self.flags]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--unseen", type=int, default=400)
    ap.add_argument("--processes", type=int, default=0, help="serve's --processes [default: its own]")
    args = ap.parse_args(argv)
    titles = speed.title_words(args.corpus)
    variants = [Served("pinned", args.index, ["--pin-cores"], args.processes),
                Served("unpinned", args.index, ["--no-pin-cores"], args.processes)]
    figures = {v.name: {"p50": [], "p95": [], "qps": []} for v in variants}

    class Sizes:
        queries, unseen, zipf_vocabulary, zipf_warmup, zipf_requests = args.queries, args.unseen, 10, 0, 0

    for r in range(args.rounds):
        sets = speed.query_sets(titles, Sizes, random.Random(1000 + r))
        for v in (variants if r % 2 == 0 else variants[::-1]):
            server = speed.Server(v)
            try:
                speed.latencies(server, sets.warm)
                lat = speed.latencies(server, sets.latency)
                qps = speed.throughput(server, sets.unseen)
            finally:
                server.stop()
            f = figures[v.name]
            f["p50"].append(statistics.median(lat))
            f["p95"].append(speed.percentile(lat, 95))
            f["qps"].append(qps)
            print(f"round {r + 1} {v.name:9} p50 {f['p50'][-1]:.2f} ms  p95 {f['p95'][-1]:.2f} ms  "
                  f"unseen {qps:.0f} q/s  (load {os.getloadavg()[0]:.1f})", flush=True)
    for name, f in figures.items():
        print(f"{name:9} p50 {min(f['p50']):.2f}-{max(f['p50']):.2f} ms  p95 {min(f['p95']):.2f}-{max(f['p95']):.2f} ms  "
              f"unseen {min(f['qps']):.0f}-{max(f['qps']):.0f} q/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
