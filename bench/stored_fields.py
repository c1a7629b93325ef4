"""What a hit's stored fields cost: a segment's ``.sto`` file (stored.py) against Whoosh's stored column.

    python bench/stored_fields.py INDEX [--docs 5000] [--rounds 5]

INDEX is an index home written with ``.sto`` files. The index is opened as
a server opens it (``SearchIndex``: term tables and titles mapped, the
stored column read with ``pread`` and shared by every reader); the same
random documents (live ones, across every segment) are read both ways,
alternating the order every round, and each way's microseconds per
document are printed, with the per-round ratio. Both must give the same
dict for every document. Also: the bytes per document of each file.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from searchsvc import engine
    from searchsvc.config import Settings
    from searchsvc.search import SearchIndex
    from searchsvc.stored import StoredDocs

    index = SearchIndex(Settings.from_env(index=args.index, cache_entries=0, cache_bytes=0))
    s = index.searcher()
    gen = index.arrays(s)
    leaves = []  # (offset, whoosh's per-document reader, the .sto file)
    for (sub, offset), key in zip(s.leaf_searchers(), gen.keys):
        reader = sub.reader()
        docs = gen.segments.stored(key, reader)
        if docs is None:
            sys.exit(f"segment at {offset} has no .sto file: build INDEX with this checkout")
        leaves.append((offset, reader._perdoc, docs))
    offsets = [offset for offset, _, _ in leaves]
    live = [int(d) for d in engine.np.nonzero(gen.live)[0]]
    picked = random.Random(7).sample(live, min(args.docs, len(live)))
    where = []
    for docnum in picked:
        i = max(j for j, o in enumerate(offsets) if o <= docnum)
        where.append((leaves[i][1], leaves[i][2], docnum - leaves[i][0]))
    mismatched = sum(perdoc.stored_fields(d) != docs[d] for perdoc, docs, d in where)

    def whooshs():
        for perdoc, _, d in where:
            perdoc.stored_fields(d)

    def files():
        for _, docs, d in where:
            docs[d]

    ways = {"whoosh column": whooshs, ".sto file": files}
    times: dict[str, list[float]] = {name: [] for name in ways}
    whooshs(), files()  # pages into the file cache, readers opened
    for round_no in range(args.rounds):
        for name in (list(ways) if round_no % 2 == 0 else list(ways)[::-1]):
            start = time.perf_counter()
            ways[name]()
            times[name].append((time.perf_counter() - start) / len(where) * 1e6)
    print(f"{len(where)} live documents of {len(live)}, {len(leaves)} segment(s), {args.rounds} rounds alternating")
    for name, got in times.items():
        print(f"  {name}: {statistics.median(got):.2f} µs a document (rounds {min(got):.2f}-{max(got):.2f})")
    ratios = [a / b for a, b in zip(times[".sto file"], times["whoosh column"])]
    print("  .sto / whoosh per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    folder = Path(index.home.open_index().storage.folder)
    for pattern in ("*._stored.col", "*.sto"):
        size = sum(p.stat().st_size for p in folder.glob(pattern))
        print(f"  {pattern}: {size / 2**20:.1f} MiB, {size / s.doc_count_all():.0f} bytes a document")
    print("every document the same both ways" if not mismatched else f"{mismatched} documents DIFFER")
    index.close()
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
