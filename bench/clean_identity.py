"""Cleaning is unchanged, and what it costs: one checkout's cleaned pages against another's.

Every page of the Reuters corpus (through ``sources.read_documents``, as a
reindex reads it) and of the two extraction sets (``clean.extract_article``
on the gunzipped page) is cleaned; title, text and metadata of each page are
hashed.  With ``--against OTHER`` the two checkouts run alternately, each in
its own process, ``--rounds`` times: every page's hash must be equal, and
the CPU seconds (``time.process_time``) of cleaning are printed per round.

    python bench/clean_identity.py [--corpus DIR] [--against ../main] [--rounds 3] [--limit N]

Without ``--against`` it prints this checkout's figures and overall digest.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CORPUS = Path(os.environ.get("CLEAN_CORPUS", "/work/perf/corpus-21k"))


def _digest(*values) -> str:
    return hashlib.sha1(repr(values).encode("utf-8", "surrogatepass")).hexdigest()


def clean_hashes(repo: Path, corpus: Path, limit: int | None) -> dict:
    """{page: hash} and CPU seconds of cleaning, with ``repo``'s searchsvc."""
    sys.path.insert(0, str(repo))
    from searchsvc import clean, sources  # noqa: E402

    assert Path(clean.__file__).resolve().is_relative_to(repo.resolve()), clean.__file__
    files = sorted(sources.scan([corpus], []), key=lambda f: f.rel)[:limit]
    gz = sorted(p for d in ("article-extraction", "article-extraction-2")
                for p in (SHARED / d / "html").glob("*.html.gz"))[:limit]
    pages = [(str(p.relative_to(SHARED)), gzip.decompress(p.read_bytes())) for p in gz]
    hashes = {}
    cpu = {}
    start = time.process_time()
    for f in files:
        try:
            docs, problems = sources.read_documents(f, 10 * 1024 * 1024)
            hashes[f.rel] = _digest([(d.id, d.title, d.body, d.published, d.author, d.source, d.url)
                                     for d in docs], [str(p) for p in problems])
        except sources.SkipFile as skip:
            hashes[f.rel] = _digest("skip", str(skip))
    cpu["corpus"] = time.process_time() - start
    start = time.process_time()
    for name, data in pages:
        a = clean.extract_article(data)
        hashes[name] = _digest(a.title, a.text, a.published, a.author, a.source, a.url)
    cpu["extraction sets"] = time.process_time() - start
    return {"hashes": hashes, "cpu": cpu, "pages": len(hashes)}


def _run(repo: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--repo", str(repo), "--corpus", str(args.corpus), "--json"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=str(repo)).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--against", type=Path, help="another checkout to compare with (e.g. ../main)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(clean_hashes(args.repo, args.corpus, args.limit)))
        return 0
    if not args.against:
        result = clean_hashes(args.repo, args.corpus, args.limit)
        total = _digest(sorted(result["hashes"].items()))
        print(f"{result['pages']} pages, digest {total}, CPU s " +
              ", ".join(f"{k} {v:.2f}" for k, v in result["cpu"].items()))
        return 0
    repos = {"this": args.repo.resolve(), "other": args.against.resolve()}
    cpu: dict = {name: [] for name in repos}
    hashes: dict = {}
    for round_no in range(args.rounds):
        for name, repo in (list(repos.items()) if round_no % 2 == 0 else list(reversed(repos.items()))):
            result = _run(repo, args)
            cpu[name].append(sum(result["cpu"].values()))
            if name in hashes and hashes[name] != result["hashes"]:
                print(f"{name}: output differs between rounds", file=sys.stderr)
            hashes[name] = result["hashes"]
            print(f"round {round_no + 1} {name} ({repo}): {result['pages']} pages, CPU s " +
                  ", ".join(f"{k} {v:.2f}" for k, v in result["cpu"].items()), flush=True)
    differ = sorted(k for k in hashes["this"].keys() | hashes["other"].keys()
                    if hashes["this"].get(k) != hashes["other"].get(k))
    for name in repos:
        print(f"{name}: CPU s {min(cpu[name]):.2f}-{max(cpu[name]):.2f}")
    ratios = [a / b for a, b in zip(cpu["this"], cpu["other"])]
    print(f"this/other CPU per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"pages compared: {len(hashes['this'])}; differing: {len(differ)}")
    for k in differ[:20]:
        print("  differs:", k)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
