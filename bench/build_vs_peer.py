"""Full build wall time, searchsvc against the peer (bench/speed.py's), alternating in one run.

    python bench/build_vs_peer.py [--corpus /work/perf/corpus-21k] [--rounds 2]

Each round builds a fresh index with ``searchsvc reindex --index IX CORPUS``
(the default workers: one per core) and a fresh peer database with
``bench/speed.py --peer-index`` (BeautifulSoup + lxml into SQLite FTS5, one
process), the order swapped every round, each timed by ``speed.timed``
(wall, peak RSS of the process tree, CPU seconds of the tree). The load
average before each build and the CPU seconds every other process used
meanwhile (from /proc/stat) are printed with it: the cores may be shared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O) since boot."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/perf/corpus-21k"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="build-vs-peer-"))
    runs = {
        "ours": [sys.executable, "-m", "searchsvc", "reindex", "--index", str(work / "ix"), str(args.corpus)],
        "peer": [sys.executable, speed.__file__, "--peer-index", str(args.corpus), str(work / "peer.db")],
    }
    figures: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for round_no in range(args.rounds):
            for name in (["ours", "peer"] if round_no % 2 == 0 else ["peer", "ours"]):
                shutil.rmtree(work / "ix", ignore_errors=True)
                (work / "peer.db").unlink(missing_ok=True)
                load, busy = os.getloadavg()[0], busy_seconds()
                wall, peak, cpu = speed.timed(runs[name], speed.clean_env())
                others = busy_seconds() - busy - cpu
                figures[name].append(wall)
                print(f"round {round_no + 1} {name}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak / 2**20:.0f} MiB, "
                      f"load average before {load:.2f}, other processes' CPU meanwhile {others:.1f} s", flush=True)
            print(f"round {round_no + 1} ours/peer wall: {figures['ours'][-1] / figures['peer'][-1]:.3f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, walls in figures.items():
        print(f"{name}: wall {min(walls):.1f}-{max(walls):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
