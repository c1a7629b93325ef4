"""Near-duplicate grouping on Reuters stories with edited copies whose answer we know.

Builds, in a temporary folder: N Reuters stories as HTML pages (the shared
tool) plus edited copies of some of them (a new first sentence and the last
paragraph dropped; 5 % of words replaced and a new title; paragraphs
reordered; cut to its first 70 %), indexes everything with `searchsvc
reindex`, and reports how the index grouped them: recall (copies grouped
with their original), precision (grouped pairs that are a story and its
copy, or two stories whose exact 5-shingle resemblance reaches the
threshold: Reuters repeats some stories itself), and grouping's cost at
index time (signatures and group assignment, against the whole build).

    python bench/dedup.py [--stories 5000] [--copies 600]
"""
from __future__ import annotations

import argparse
import html
import itertools
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PARA = re.compile(r"<p>(.*?)</p>", re.S)
TITLE = re.compile(r"<h1>(.*?)</h1>", re.S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=5000)
    ap.add_argument("--copies", type=int, default=600)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    tool = SHARED / "tools" / "reuters_to_html.py"
    if not tool.exists():
        print(f"skipped: {tool} not found (the shared data sits beside the repo)")
        return 0
    from searchsvc import dedup
    from searchsvc.store import IndexHome

    rnd = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pages = tmp / "all"
        subprocess.run([sys.executable, str(tool), "--quiet", "--limit", str(args.stories), str(pages)], check=True)
        src = tmp / "src"
        (src / "orig").mkdir(parents=True)
        (src / "copies").mkdir()
        stories = {}
        for page in sorted(pages.glob("*.html")):
            text = page.read_text("utf-8")
            (src / "orig" / page.name).write_text(text, "utf-8")
            paras = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in PARA.findall(text)]
            stories[page.name] = paras
        eligible = [n for n, ps in stories.items() if len(" ".join(ps).split()) >= 120 and len(ps) >= 3]
        copied = rnd.sample(eligible, min(args.copies, len(eligible)))
        for i, name in enumerate(copied):
            paras = edit(stories[name], i % 4, rnd)
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
            (src / "copies" / name).write_text(
                f"<!doctype html><html><head><title>Copy {i} of a wire story</title>"
                f"<meta name='date' content='1987-04-0{1 + i % 9}'></head><body><article><h1>Copy {i} of a wire story</h1>"
                f"{body}</article></body></html>", "utf-8")
        index = tmp / "index"
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "searchsvc", "reindex", str(src), "--index", str(index)],
                             capture_output=True, text=True, check=True)
        build = time.perf_counter() - started
        ix = IndexHome(index).open_index()
        groups, bodies = defaultdict(list), {}
        with ix.searcher() as s:
            for d in s.all_stored_fields():
                groups[d["group"]].append(d["id"])
                bodies[d["id"]] = d["body"]
        # cost of grouping alone, on the same cleaned texts
        t0 = time.perf_counter()
        sigs = {i: dedup.signature(b) for i, b in bodies.items()}
        t1 = time.perf_counter()
        grouper = dedup.Grouper()
        for i in sorted(sigs):
            grouper.assign(i, sigs[i])
        t2 = time.perf_counter()

    pairs = [p for members in groups.values() for p in itertools.combinations(sorted(members), 2)]
    def story(doc_id):
        return doc_id.split("/", 1)[1]
    copy_pairs = [p for p in pairs if any(x.startswith("copies/") for x in p)]
    true_copy_pairs = [p for p in copy_pairs if story(p[0]) == story(p[1])]
    orig_pairs = [p for p in pairs if not any(x.startswith("copies/") for x in p)]
    genuine = [p for p in orig_pairs if exact_resemblance(bodies[p[0]], bodies[p[1]]) >= dedup.THRESHOLD]
    cross = [p for p in copy_pairs if story(p[0]) != story(p[1])]
    cross_genuine = [p for p in cross if exact_resemblance(bodies[p[0]], bodies[p[1]]) >= dedup.THRESHOLD]
    recall = len({story(p[0]) for p in true_copy_pairs}) / max(1, len(copied))
    good = len(true_copy_pairs) + len(genuine) + len(cross_genuine)
    precision = good / max(1, len(pairs))
    print(out.stdout.strip())
    print(f"documents: {len(bodies)} ({len(stories)} Reuters stories + {len(copied)} edited copies); "
          f"threshold {dedup.THRESHOLD} estimated Jaccard of {dedup.SHINGLE}-word shingles")
    print(f"{'grouped pairs':<44}{len(pairs):>8}")
    print(f"{'  a story and its edited copy':<44}{len(true_copy_pairs):>8}")
    print(f"{'  two stories, exact resemblance >= threshold':<44}{len(genuine) + len(cross_genuine):>8}")
    print(f"{'  wrongly grouped':<44}{len(pairs) - good:>8}")
    print(f"precision {precision:.3f}   recall (copies found) {recall:.3f}")
    print(f"grouping cost: signatures {1000 * (t1 - t0) / len(bodies):.3f} ms/doc, "
          f"assignment {1000 * (t2 - t1) / len(bodies):.3f} ms/doc; "
          f"{(t2 - t0):.2f} s of a {build:.1f} s build ({100 * (t2 - t0) / build:.1f} %, single core)")
    by_kind = defaultdict(lambda: [0, 0])
    for i, name in enumerate(copied):
        by_kind[EDITS[i % 4]][1] += 1
        if any(story(p[0]) == name and story(p[1]) == name for p in true_copy_pairs):
            by_kind[EDITS[i % 4]][0] += 1
    for kind, (hit, n) in by_kind.items():
        print(f"  recall for {kind:<40} {hit / n:.3f} ({hit}/{n})")
    return 0


EDITS = ["new first sentence, last paragraph dropped", "5% of words replaced, new title",
         "paragraphs reordered", "cut to its first 70%"]


def edit(paras: list[str], kind: int, rnd: random.Random) -> list[str]:
    paras = list(paras)
    if kind == 0:
        first = paras[0].split(". ", 1)
        paras[0] = "In a statement released on Tuesday, officials confirmed the figures. " + (first[1] if len(first) > 1 else "")
        paras = paras[:-1]
    elif kind == 1:
        words = " ".join(paras).split()
        for i in rnd.sample(range(len(words)), max(1, len(words) // 20)):
            words[i] = rnd.choice(["reportedly", "company", "market", "said", "analysts", "shares"])
        paras = [" ".join(words)]
    elif kind == 2:
        head, rest = paras[:1], paras[1:]
        rnd.shuffle(rest)
        paras = rest + head
    else:
        words = " ".join(paras).split()
        paras = [" ".join(words[: int(len(words) * 0.7)])]
    return paras


def exact_resemblance(a: str, b: str) -> float:
    def shingles(t):
        w = re.findall(r"\w+", t.lower())
        return {" ".join(w[i:i + 5]) for i in range(len(w) - 4)}
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


if __name__ == "__main__":
    sys.exit(main())
