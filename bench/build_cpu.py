"""CPU of a full build, this checkout against another, alternating in one run.

    python bench/build_cpu.py --against ../main [--corpus /work/perf/corpus-21k] [--rounds 3] [--workers 1]

Each round runs ``searchsvc reindex --workers N`` into a fresh index with
each checkout's code (its own directory first on PYTHONPATH), the order
swapped every round, and prints CPU seconds (user + system of the process
and its workers) and wall seconds, then the ranges and per-round ratios.
CPU seconds hardly depend on what else the machine runs; wall does.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build(repo: Path, corpus: Path, workers: int) -> tuple[float, float]:
    """(CPU s, wall s) of one full build with ``repo``'s code."""
    index = Path(tempfile.mkdtemp(prefix="build-cpu-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env["PYTHONPATH"] = str(repo)
    cmd = [sys.executable, "-m", "searchsvc", "reindex", "--workers", str(workers), "--index", str(index / "ix"),
           str(corpus)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, env=env, cwd=str(repo), stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(index, ignore_errors=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (e.g. ../main)")
    parser.add_argument("--corpus", type=Path, default=Path("/work/perf/corpus-21k"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    repos = [("this", REPO), ("other", args.against.resolve())]
    figures: dict = {name: [] for name, _ in repos}
    for round_no in range(args.rounds):
        for name, repo in (repos if round_no % 2 == 0 else repos[::-1]):
            cpu, wall = build(repo, args.corpus, args.workers)
            figures[name].append((cpu, wall))
            print(f"round {round_no + 1} {name} ({repo}): CPU {cpu:.2f} s, wall {wall:.2f} s", flush=True)
    for name, _ in repos:
        cpus, walls = [c for c, _ in figures[name]], [w for _, w in figures[name]]
        print(f"{name}: CPU {min(cpus):.2f}-{max(cpus):.2f} s, wall {min(walls):.2f}-{max(walls):.2f} s")
    ratios = [a[0] / b[0] for a, b in zip(figures["this"], figures["other"])]
    print("this/other CPU per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
