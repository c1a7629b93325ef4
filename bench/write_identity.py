"""The segment writer is unchanged in what it writes, and what it costs: this checkout against another.

The corpus is cleaned once (this checkout's code) into the field values a
build hands the writer; then each checkout's ``BulkSegmentWriter`` writes
them alternately, each in its own process, ``--rounds`` times: the segment
files' bytes (hashed, segment names left out) must be equal, and the CPU
seconds of writing are printed per round. A file only one checkout writes
(a new kind of file beside Whoosh's, e.g. ``.sto``) is named, not compared.

    python bench/write_identity.py --against ../main [--corpus /work/perf/corpus-21k] [--rounds 3]
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cleaned_fields(corpus: Path, out: Path) -> int:
    """Every document's fields, as a full build gives them to the writer, pickled to ``out``."""
    from searchsvc import indexer, sources

    files = sorted(sources.scan([corpus], []), key=lambda f: f.rel)
    fields = []
    for f in files:
        _, docs, _ = indexer._read_one((f, 10 * 1024 * 1024, None))
        fields.extend(indexer._fields(doc, doc.id) for doc in docs or [])
    out.write_bytes(pickle.dumps(fields, pickle.HIGHEST_PROTOCOL))
    return len(fields)


def write_segments(repo: Path, fields_file: Path) -> dict:
    """CPU seconds of writing the documents with ``repo``'s writer, and a hash of the files written."""
    sys.path.insert(0, str(repo))
    from whoosh import index as whoosh_index
    from whoosh.codec.whoosh3 import W3Codec

    from searchsvc import indexer, schema
    from searchsvc.segment import BulkSegmentWriter

    assert Path(indexer.__file__).resolve().is_relative_to(repo.resolve()), indexer.__file__
    docs = pickle.loads(fields_file.read_bytes())
    home = Path(tempfile.mkdtemp(prefix="write-identity-"))
    try:
        whoosh_index.create_in(str(home), schema.build_schema())
        gc.disable()  # as a build writes (indexer._Part.writing)
        start = time.process_time()
        writer, segments = None, []
        for fields in docs:
            if writer is None:
                writer = BulkSegmentWriter(whoosh_index.open_dir(str(home)), codec=W3Codec(compression=0),
                                           compound=False)
            writer.add_document(**fields)
            if writer.postings_held >= indexer.SEGMENT_POSTINGS:
                segments.append(writer._finalize_segment())
                writer = None
        if writer is not None:
            segments.append(writer._finalize_segment())
        cpu = time.process_time() - start
        gc.enable()
        files = {}  # file (segment number, name without the segment id) -> hash of its bytes
        for number, segment in enumerate(segments):
            for name in sorted(os.listdir(home)):
                if segment.segment_id() in name:
                    files[f"{number}:{name.replace(segment.segment_id(), 'S')}"] = \
                        hashlib.sha1((home / name).read_bytes()).hexdigest()
        return {"cpu": cpu, "segments": len(segments), "files": files}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the other checkout (e.g. ../main)")
    parser.add_argument("--corpus", type=Path, default=Path("/work/perf/corpus-21k"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", nargs=2, metavar=("REPO", "FIELDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        print(json.dumps(write_segments(Path(args.write[0]), Path(args.write[1]))))
        return 0
    if not args.against:
        parser.error("--against is required")
    with tempfile.TemporaryDirectory(prefix="write-identity-") as tmp:
        fields_file = Path(tmp) / "fields.pickle"
        print(f"{cleaned_fields(args.corpus, fields_file)} documents cleaned", flush=True)
        repos = [("this", REPO), ("other", args.against.resolve())]
        results: dict = {name: [] for name, _ in repos}
        for round_no in range(args.rounds):
            for name, repo in (repos if round_no % 2 == 0 else repos[::-1]):
                out = subprocess.run([sys.executable, __file__, "--write", str(repo), str(fields_file)],
                                     check=True, capture_output=True, text=True).stdout
                result = json.loads(out)
                results[name].append(result)
                digest = hashlib.sha1(json.dumps(result["files"], sort_keys=True).encode()).hexdigest()
                print(f"round {round_no + 1} {name} ({repo}): writing CPU {result['cpu']:.2f} s, "
                      f"{result['segments']} segment(s), {len(result['files'])} files, digest {digest}", flush=True)
    for name, _ in repos:
        cpus = [r["cpu"] for r in results[name]]
        print(f"{name}: writing CPU {min(cpus):.2f}-{max(cpus):.2f} s")
    ratios = [a["cpu"] / b["cpu"] for a, b in zip(results["this"], results["other"])]
    print("this/other CPU per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    written = [r["files"] for name, _ in repos for r in results[name]]
    common = set.intersection(*(set(files) for files in written))
    only = sorted(set.union(*(set(files) for files in written)) - common)
    if only:
        print("written by one checkout only (not compared): " + ", ".join(only))
    differ = sorted(name for name in common if len({files[name] for files in written}) > 1)
    print(f"{len(common)} segment files identical" if not differ else f"segment files DIFFER: {differ}")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
