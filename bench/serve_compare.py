"""``searchsvc serve`` variants side by side over HTTP: flags of this checkout, or another checkout's code.

    python bench/serve_compare.py INDEX CORPUS [--variant NAME=PYTHON::FLAGS ...] [--rounds 3]
                                  [--queries 300] [--unseen 400] [--clients 8]

INDEX is an index home built from CORPUS (a folder of the bench's HTML
pages: its titles make the queries, as bench/speed.py's do). A variant is
a name, the Python that runs ``-m searchsvc serve`` (another checkout's
``.venv/bin/python`` runs that checkout's code: the server starts in a
temporary folder, so no checkout's folder shadows it) and ``serve`` flags;
without ``--variant``, this checkout's ``--pin-cores`` against its
``--no-pin-cores``. Each round starts every variant in turn (the order
turns round by round), asks the warm-up queries, then times fresh queries
one at a time over one keep-alive connection (p50 / p95 ms, as speed.py's
latency row) and fresh queries from ``--clients`` clients (requests a
second, as its unseen-throughput row), with the server's CPU per request.
Every round draws new queries, the same for every variant. Prints each
round with the load average, so that a busy machine shows.

Example: .venv/bin/python bench/serve_compare.py IX CORPUS \\
    --variant this=.venv/bin/python:: --variant main=../main/.venv/bin/python::
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402

CLOCK = os.sysconf("SC_CLK_TCK")


class Variant(speed.Ours):
    """``python -m searchsvc serve`` on an existing index, with extra flags."""

    def __init__(self, name: str, index: Path, python: str, flags: list[str]):
        super().__init__(name, index.parent, 0)
        self._index, self.python, self.flags = index, python, flags

    @property
    def index(self) -> Path:
        return self._index

    def server_cmd(self, port: int) -> list[str]:
        return [self.python, "-m", "searchsvc", "serve", "--index", str(self._index), "--port", str(port),
                "--quiet", *self.flags]


def parse_variant(text: str, index: Path) -> Variant:
    name, _, rest = text.partition("=")
    python, _, flags = rest.partition("::")
    return Variant(name, index, str(Path(python).absolute()), flags.split())


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children so far."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--unseen", type=int, default=400)
    ap.add_argument("--clients", type=int, default=speed.CLIENTS)
    args = ap.parse_args(argv)
    index = args.index.resolve()
    variants = ([parse_variant(v, index) for v in args.variant] or
                [Variant("pinned", index, sys.executable, ["--pin-cores"]),
                 Variant("unpinned", index, sys.executable, ["--no-pin-cores"])])
    titles = speed.title_words(args.corpus)
    figures = {v.name: {"p50": [], "p95": [], "qps": [], "cpu": []} for v in variants}

    class Sizes:
        queries, unseen, zipf_vocabulary, zipf_warmup, zipf_requests = args.queries, args.unseen, 10, 0, 0

    os.chdir(tempfile.gettempdir())  # a checkout's folder would shadow the package a variant's Python runs
    for r in range(args.rounds):
        sets = speed.query_sets(titles, Sizes, random.Random(1000 + r))
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for v in order:
            server = speed.Server(v)
            try:
                speed.latencies(server, sets.warm)
                lat = speed.latencies(server, sets.latency)
                before = tree_cpu(server.proc.pid)
                qps = speed.throughput(server, sets.unseen, args.clients)
                cpu = (tree_cpu(server.proc.pid) - before) / len(sets.unseen) * 1000
            finally:
                server.stop()
            f = figures[v.name]
            f["p50"].append(statistics.median(lat))
            f["p95"].append(speed.percentile(lat, 95))
            f["qps"].append(qps)
            f["cpu"].append(cpu)
            print(f"round {r + 1} {v.name:10} p50 {f['p50'][-1]:.2f} ms  p95 {f['p95'][-1]:.2f} ms  "
                  f"unseen {qps:.0f} q/s ({cpu:.2f} ms server CPU a request)  (load {os.getloadavg()[0]:.1f})",
                  flush=True)
    for name, f in figures.items():
        span = {k: f"{min(vals):.2f}-{max(vals):.2f}" for k, vals in f.items() if k != "qps"}
        print(f"{name:10} p50 {span['p50']} ms  p95 {span['p95']} ms  unseen {min(f['qps']):.0f}-{max(f['qps']):.0f} q/s"
              f"  server CPU {span['cpu']} ms a request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
