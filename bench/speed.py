"""Speed and scale: searchsvc against Datasette + SQLite FTS5, built and served in the same run.

    python bench/speed.py                 # 1k, 5k, 21k and ~216k pages (about an hour on 2 shared cores)
    python bench/speed.py --skip-200k     # 1k, 5k, 21k
    python bench/speed.py --quick         # 1k and 5k only (a few minutes)
    python bench/speed.py --sizes 21k --json-out figures.json
    python bench/speed.py --table-from small.json large.json   # one table from separate runs
    python bench/speed.py --sizes 2m --skip-freshness   # ~2M pages, searchsvc alone (hours; ~25 GB of disk)

Corpus: the Reuters-21578 stories as one HTML page each
(``../shared/tools/reuters_to_html.py``, 21,577 pages); the first 1,000 and
5,000 of them (in file-name order); and a large corpus made from the same
stories: every story under 10 ids (``v0``..``v9``), each variant with its body
paragraphs shuffled (seeded), 215,770 pages in 216 folders; and the capacity
corpus made the same way with 93 variants per story, 2,006,661 pages. Everything is
generated into a temporary folder (``--workdir`` to choose), never the repo.
The peer runs at the sizes of ``--peer-sizes`` (default: all but 2m, where its
build alone takes about half an hour); the 2m size also leaves out the
near-duplicate grouping figure (it holds every body in memory at once).

The peer, built by this script (``--peer-index``) in its own process: the same
pages cleaned with BeautifulSoup + lxml (the <title>, the <article>'s
paragraphs) into an SQLite FTS5 table (``tokenize='porter unicode61'``),
incrementally by file size + mtime like ours; served by ``datasette serve``
with a canned query (``snippet()``, ``bm25()`` ordering, 10 rows).

Figures, for both: full build; a no-op reindex; picking up 100 changed files;
p50/p95 latency over HTTP of distinct queries (one client, after a warm-up
with other queries); throughput of 8 concurrent clients on queries not asked
before and on a Zipf (s=1) stream drawn from 3,000 queries (measured after an
unmeasured stream of the same distribution: a server that has been up a while); peak RSS
(PSS summed over the process tree) of the server and of the reindex; size on disk.
Then the capacity rows: each size's figures side by side and a power law
fitted to p95 against pages (least squares on the logarithms), with the size
at which it reaches 100 ms (extrapolated past the largest size measured).
Queries are words from the stories' titles (1-4 words of one title, in order)
and two-word title phrases in quotes. Ours is asked ``/api/search?q=`` (10
hits with snippets, exact total, facets); the peer its canned query.

Without ../shared or the bench extras (datasette, beautifulsoup4) this prints
why and exits 0.
"""
from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import random
import re
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONVERTER = SHARED / "tools" / "reuters_to_html.py"
REUTERS = SHARED / "data" / "reuters21578"
SIZES = {"1k": 1_000, "5k": 5_000, "21k": None, "200k": "x10", "2m": "x93"}
DEFAULT_SIZES = ["1k", "5k", "21k", "200k"]  # 2m on its own: --sizes 2m
PEER_SIZES = "1k,5k,21k,200k"
GROUPING_MAX_PAGES = 300_000  # grouping_seconds holds every body in memory
P95_LINE_MS = 100.0  # the capacity question: up to what size is p95 under this
CHANGED = 100
CLIENTS = 8
MARKER = "zqxbenchmarker"
TITLE_STOP = set(
    "the and for with from that this into over after about says said will its are was were has have "
    "not but than new pct mln dlrs billion year".split()
)
TARGETS = {
    "full build s": 1.0,
    "no-op reindex s": None,
    "100 changed s": None,
    "p50 ms": 1.25,
    "p95 ms": 1.5,
    "unseen qps": 0.5,
    "zipf qps": 1.0,
}


# --- the peer: BeautifulSoup + lxml into SQLite FTS5 ------------------------------

PEER_SQL = (
    "select id, title, snippet(pages, 2, '<mark>', '</mark>', '…', 24) as snippet, "
    "bm25(pages) as score from pages where pages match :q order by bm25(pages) limit 10"
)


def peer_clean(data: bytes) -> tuple[str, str]:
    """(title, body) of one page: BeautifulSoup over lxml, <title> and the <article>'s paragraphs."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    article = soup.find("article") or soup.body or soup
    body = "\n".join(p.get_text(" ", strip=True) for p in article.find_all("p")) or article.get_text(" ", strip=True)
    return title, body


def peer_index(src: Path, db: Path) -> dict:
    """Build or update the peer's database from ``src``: only files whose size or mtime changed are read."""
    fresh = not db.exists()
    con = sqlite3.connect(db)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=normal")
    if fresh:
        con.execute("create virtual table pages using fts5(id unindexed, title, body, tokenize='porter unicode61')")
        con.execute("create table files (path text primary key, size int, mtime int, rowid_ int)")
    known = {p: (s, m, r) for p, s, m, r in con.execute("select path, size, mtime, rowid_ from files")}
    seen, added, updated = set(), 0, 0
    with con:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(".html"):
                    continue
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                seen.add(path)
                before = known.get(path)
                if before and before[0] == st.st_size and before[1] == st.st_mtime_ns:
                    continue
                with open(path, "rb") as fh:
                    title, body = peer_clean(fh.read())
                if before:
                    con.execute("delete from pages where rowid = ?", (before[2],))
                    updated += 1
                else:
                    added += 1
                rowid = con.execute("insert into pages (id, title, body) values (?, ?, ?)",
                                    (os.path.relpath(path, src), title, body)).lastrowid
                con.execute("insert or replace into files values (?, ?, ?, ?)", (path, st.st_size, st.st_mtime_ns, rowid))
        gone = [p for p in known if p not in seen]
        for p in gone:
            con.execute("delete from pages where rowid = ?", (known[p][2],))
            con.execute("delete from files where path = ?", (p,))
    if fresh:
        con.execute("insert into pages(pages) values('optimize')")
        con.commit()
    count = con.execute("select count(*) from pages").fetchone()[0]
    con.close()
    return {"added": added, "updated": updated, "removed": len(gone), "documents": count}


def peer_metadata(path: Path) -> Path:
    meta = {"databases": {"peer": {"queries": {"search": {"sql": PEER_SQL, "title": "Search"}}}}}
    path.write_text(json.dumps(meta), "utf-8")
    return path


# --- corpora ---------------------------------------------------------------------

def make_corpora(work: Path, names: list[str]) -> dict[str, Path]:
    full = work / "corpus-21k"
    t = time.perf_counter()
    subprocess.run([sys.executable, str(CONVERTER), "--quiet", str(full)], check=True)
    print(f"corpus: {len(os.listdir(full))} pages from Reuters-21578 in {time.perf_counter() - t:.1f}s", flush=True)
    pages = sorted(os.listdir(full))
    out = {}
    for name in names:
        n = SIZES[name]
        if n is None:
            out[name] = full
        elif isinstance(n, str):
            out[name] = make_large(full, pages, work / f"corpus-{name}", int(n[1:]))
        else:
            sub = work / f"corpus-{name}"
            sub.mkdir()
            for p in pages[:n]:
                shutil.copy2(full / p, sub / p)
            out[name] = sub
    return out


PARA = re.compile(r"<p>.*?</p>\n", re.S)


def make_large(full: Path, pages: list[str], out: Path, variants: int) -> Path:
    """Every story under ``variants`` ids, each with its body paragraphs shuffled (seeded)."""
    t = time.perf_counter()
    rng = random.Random(200)
    out.mkdir()
    folders = {}
    for i, name in enumerate(pages):
        text = (full / name).read_text("utf-8")
        paras = PARA.findall(text)
        head = text.find(paras[0]) if paras else -1
        for v in range(variants):
            folder = folders.setdefault((i // 100), out / f"d{i // 100:03d}")
            folder.mkdir(exist_ok=True)
            if paras and v:
                shuffled = paras[:]
                rng.shuffle(shuffled)
                tail = text[head + sum(map(len, paras)):]
                body = text[:head] + "".join(shuffled) + tail
            else:
                body = text
            (folder / name.replace(".html", f"-v{v}.html")).write_text(body, "utf-8")
    count = sum(len(os.listdir(f)) for f in folders.values())
    print(f"corpus: {count} pages ({variants} shuffled variants per story) in {time.perf_counter() - t:.1f}s",
          flush=True)
    return out


def all_pages(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*.html"))


def change_files(src: Path, n: int, rng: random.Random) -> list[Path]:
    """Rewrite ``n`` pages: one more paragraph holding MARKER (size and mtime change)."""
    chosen = rng.sample(all_pages(src), n)
    for p in chosen:
        text = p.read_text("utf-8")
        text = text.replace("</article>", f"<p>The {MARKER} desk added this paragraph today.</p>\n</article>", 1)
        p.write_text(text, "utf-8")
    return chosen


# --- queries ----------------------------------------------------------------------

TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def title_words(src: Path) -> list[list[str]]:
    out = []
    for p in sorted(src.glob("*.html")):
        m = TITLE.search(p.read_text("utf-8"))
        if not m:
            continue
        words = [w for w in re.findall(r"[a-z]{3,}", m.group(1).lower()) if w not in TITLE_STOP]
        if words:
            out.append(words)
    return out


def make_queries(titles: list[list[str]], n: int, rng: random.Random, taken: set[str]) -> list[str]:
    """``n`` distinct queries not in ``taken``: 1-4 words of one title, in order, or a quoted 2-word phrase."""
    out = []
    while len(out) < n:
        words = rng.choice(titles)
        if rng.random() < 0.2 and len(words) >= 2:
            i = rng.randrange(len(words) - 1)
            q = f'"{words[i]} {words[i + 1]}"'
        else:
            k = min(len(words), rng.choice((1, 2, 3, 4)))
            picks = sorted(rng.sample(range(len(words)), k))
            q = " ".join(words[i] for i in picks)
        if q not in taken:
            taken.add(q)
            out.append(q)
    return out


def zipf_stream(vocabulary: list[str], n: int, rng: random.Random) -> list[str]:
    weights = [1 / (k + 1) for k in range(len(vocabulary))]
    return rng.choices(vocabulary, weights=weights, k=n)


# --- processes: time and peak RSS of a process tree -------------------------------

def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants: the sum of their PSS (a page shared by
    k processes, e.g. a forked server's or the mapped index files, counts 1/k in each), else of RSS."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            try:
                with open(f"/proc/{p}/smaps_rollup") as fh:
                    total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) * 1024
            except (OSError, StopIteration):
                with open(f"/proc/{p}/status") as fh:
                    total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, StopIteration):  # gone, or a zombie without memory figures
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._halt = threading.Event()

    def run(self):
        started = time.monotonic()
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            # reading PSS walks page tables under the process's memory lock: five times a second
            # at first, then twice a second (a long build grows slowly). Twenty times a second
            # slowed our 21k build by 5-15% (its workers allocate while they are read).
            self._halt.wait(self.every if time.monotonic() - started < 5 else max(self.every, 0.5))

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def timed(cmd: list[str], env=None) -> tuple[float, int, float]:
    """(seconds, peak RSS of the process tree, CPU seconds of the tree) of one command, which must succeed.

    CPU seconds (user + system, workers included) do not depend on what else the
    machine runs meanwhile; wall seconds do.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        sampler = RssSampler(proc.pid)
        sampler.start()
        proc.wait()
        seconds = time.perf_counter() - t
        peak = sampler.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: " + " / ".join(tail))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, peak, cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size + sum(
            p.stat().st_size for p in path.parent.glob(path.name + "-*") if p.is_file())
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- engines -----------------------------------------------------------------------

def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}


@dataclass
class Engine:
    name: str
    work: Path
    processes: int = 0

    def build(self, src: Path):
        raise NotImplementedError

    def update(self, src: Path):
        raise NotImplementedError


class Ours(Engine):
    @property
    def index(self) -> Path:
        return self.work / "ours-index"

    def reindex_cmd(self, src: Path | None) -> list[str]:
        cmd = [sys.executable, "-m", "searchsvc", "reindex", "--index", str(self.index)]
        return cmd + ([str(src)] if src else [])

    def build(self, src):
        return timed(self.reindex_cmd(src), clean_env())

    def update(self, src):
        return timed(self.reindex_cmd(None), clean_env())

    def size(self) -> int:
        return dir_size(self.index)

    def server_cmd(self, port: int) -> list[str]:
        cmd = [sys.executable, "-m", "searchsvc", "serve", "--index", str(self.index), "--port", str(port)]
        return cmd + (["--processes", str(self.processes)] if self.processes else [])

    def path(self, q: str) -> str:
        return "/api/search?" + urllib.parse.urlencode({"q": q})

    def count(self, body: bytes) -> int:
        return json.loads(body)["total"]


class Peer(Engine):
    @property
    def db(self) -> Path:
        return self.work / "peer.db"

    def build(self, src):
        return timed([sys.executable, __file__, "--peer-index", str(src), str(self.db)])

    def update(self, src):
        return self.build(src)

    def size(self) -> int:
        return dir_size(self.db)

    def server_cmd(self, port: int) -> list[str]:
        meta = peer_metadata(self.work / "peer-metadata.json")
        datasette = Path(sys.executable).with_name("datasette")
        return [str(datasette), "serve", str(self.db), "--port", str(port), "--metadata", str(meta),
                "--setting", "sql_time_limit_ms", "10000"]

    def path(self, q: str) -> str:
        return "/peer/search.json?" + urllib.parse.urlencode({"q": q, "_shape": "array"})

    def count(self, body: bytes) -> int:
        return len(json.loads(body))


class Server:
    def __init__(self, engine: Engine):
        self.port = free_port()
        self.engine = engine
        self.proc = subprocess.Popen(engine.server_cmd(self.port), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=clean_env())
        self.sampler = RssSampler(self.proc.pid, every=0.1)
        self.sampler.start()
        deadline = time.monotonic() + 900  # a 2M-page index loads its most frequent words first
        while True:
            try:
                self.get(engine.path("reuters"))
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{engine.name} server did not start")
                time.sleep(0.2)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> bytes:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{self.engine.name}: {path} answered {resp.status}: {body[:200]!r}")
            return body
        finally:
            if own:
                conn.close()

    def stop(self) -> int:
        peak = self.sampler.stop()
        terminate(self.proc, 15)
        return peak


def terminate(proc: subprocess.Popen, patience: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``patience`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=patience)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def deep_cursor(server: Server, word: str, page: int = 1000) -> tuple[float, float, int]:
    """(ms of the first cursor page, ms of page ``page`` (or the last), its number) for a common word.

    Pages are reached by following ``next`` from the first page, as a client would.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    data = json.loads(server.get("/api/search?" + urllib.parse.urlencode({"q": word, "per_page": 10}), conn))
    first_ms, n, ms = 0.0, 1, 0.0
    while data["next"] and n < page:
        t = time.perf_counter()
        data = json.loads(server.get("/api/search?" + urllib.parse.urlencode({"after": data["next"]}), conn))
        ms = (time.perf_counter() - t) * 1000
        n += 1
        if n == 2:
            first_ms = ms
    conn.close()
    return first_ms, ms, n


def grouping_seconds(index: Path) -> float:
    """CPU seconds near-duplicate grouping takes on the index's cleaned texts (signatures + assignment)."""
    from searchsvc import dedup
    from searchsvc.store import IndexHome

    ix = IndexHome(index).open_index()
    with ix.searcher() as s:
        bodies = [(d["id"], d.get("body") or "") for d in s.all_stored_fields()]
    t = time.process_time()
    grouper = dedup.Grouper()
    for doc_id, body in bodies:
        grouper.assign(doc_id, dedup.signature(body))
    return time.process_time() - t


def latencies(server: Server, queries: list[str]) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    out = []
    for q in queries:
        t = time.perf_counter()
        server.get(server.engine.path(q), conn)
        out.append((time.perf_counter() - t) * 1000)
    conn.close()
    return out


def throughput(server: Server, queries: list[str], clients: int = CLIENTS) -> float:
    """Requests per second of ``clients`` threads, each with its own keep-alive connection."""
    lock = threading.Lock()
    todo = iter(queries)
    errors = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            while True:
                with lock:
                    q = next(todo, None)
                if q is None:
                    return
                server.get(server.engine.path(q), conn)
        except Exception as exc:  # reported after the run
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return len(queries) / (time.perf_counter() - t)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- freshness: a file written to a watched folder, found by a running server -------

FRESH_FILES = 200
FRESH_EVERY = 0.1  # seconds between two files
POLL_EVERY = 0.02  # seconds between two rounds of searches for the files not found yet (the figures' resolution)


class WatchProcess:
    """``searchsvc reindex --watch`` (sources: the index's own), its stdout lines collected."""

    def __init__(self, index: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "searchsvc", "reindex", "--watch", "--index", str(index)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env())
        self.lines: list[str] = []
        self.committed: list[float] = []  # when each commit's line arrived (perf_counter)

        def read():
            for line in self.proc.stdout:
                if re.match(r"\d\d:\d\d:\d\d added", line):
                    self.committed.append(time.perf_counter())
                self.lines.append(line.rstrip())

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 600
        while not any(line.startswith("watching ") for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the watcher did not start: " + " / ".join(self.lines[-3:]))
            time.sleep(0.05)

    def commits(self) -> int:
        return len(self.committed)

    def last_commit_before(self, moment: float) -> float | None:
        earlier = [t for t in self.committed if t <= moment]
        return earlier[-1] if earlier else None

    def stop(self) -> None:
        terminate(self.proc, 60)
        self.reader.join(timeout=10)
        self.proc.stdout.close()


def freshness(engine: "Ours", src: Path, queries: list[str], n: int = FRESH_FILES) -> dict:
    """Seconds from a file's close to the first search that finds it, over ``n`` files written one per
    FRESH_EVERY s into a folder ``reindex --watch`` watches, against a running ``serve``; meanwhile one client
    asks ``queries`` in turn (latency under commits). Files and their articles are removed afterwards."""
    template = next(iter(sorted(src.glob("*.html"))), None) or next(iter(all_pages(src)))
    text = template.read_text("utf-8")
    folder = src / "fresh-bench"
    folder.mkdir()
    load_before = os.getloadavg()
    server = Server(engine)
    watcher = WatchProcess(engine.index)
    closed: dict[int, float] = {}
    waits: dict[int, float] = {}
    lat: list[float] = []
    pickups: list[float] = []  # from the commit's line to the search that found the file
    done = threading.Event()

    def writer():
        start = time.perf_counter()
        for i in range(n):
            body = text.replace("</article>", f"<p>The zqfresh{i:03d}x desk filed this today.</p>\n</article>", 1)
            with open(folder / f"fresh{i:03d}.html", "w", encoding="utf-8") as fh:
                fh.write(body)
            closed[i] = time.perf_counter()
            time.sleep(max(0.0, start + (i + 1) * FRESH_EVERY - time.perf_counter()))

    def poller():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while len(waits) < n:
            pending = [i for i in list(closed) if i not in waits]
            for i in pending:
                if engine.count(server.get(engine.path(f"zqfresh{i:03d}x"), conn)) > 0:
                    now = time.perf_counter()
                    waits[i] = now - closed[i]
                    committed = watcher.last_commit_before(now)
                    if committed is not None and committed > closed[i]:
                        pickups.append(now - committed)
            time.sleep(POLL_EVERY)
        conn.close()

    def asker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        k = 0
        while not done.is_set():
            t = time.perf_counter()
            server.get(engine.path(queries[k % len(queries)]), conn)
            lat.append((time.perf_counter() - t) * 1000)
            k += 1
            time.sleep(0.01)
        conn.close()

    threads = [threading.Thread(target=f) for f in (writer, poller, asker)]
    try:
        for th in threads:
            th.start()
        threads[0].join()
        threads[1].join(timeout=600)
        done.set()
        threads[2].join()
        commits = watcher.commits()
        shutil.rmtree(folder)
        deadline = time.monotonic() + 120  # the watcher removes them again
        while engine.count(server.get(engine.path("zqfresh000x"))) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        done.set()
        watcher.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    seconds = sorted(waits.values())
    load_after = os.getloadavg()
    return {"freshness p50 s": statistics.median(seconds), "freshness p95 s": percentile(seconds, 95),
            "freshness max s": seconds[-1], "freshness found": len(seconds), "freshness commits": commits,
            "pickup p50 s": statistics.median(pickups) if pickups else float("nan"),
            "pickup p95 s": percentile(pickups, 95) if pickups else float("nan"),
            "p50 ms during watch": statistics.median(lat), "p95 ms during watch": percentile(lat, 95),
            "load before": load_before[0], "load after": load_after[0]}


def report_freshness(name: str, fig: dict) -> None:
    print(f"searchsvc: freshness over {fig['freshness found']} files ({fig['freshness commits']} commits): "
          f"p50 {fig['freshness p50 s']:.2f} s, p95 {fig['freshness p95 s']:.2f} s, max {fig['freshness max s']:.2f} s "
          f"(commit line to found: p50 {fig['pickup p50 s']:.2f} s, p95 {fig['pickup p95 s']:.2f} s); "
          f"queries meanwhile p50 {fig['p50 ms during watch']:.1f} ms, p95 {fig['p95 ms during watch']:.1f} ms; "
          f"load average {fig['load before']:.1f} before, {fig['load after']:.1f} after", flush=True)


# --- one corpus, both engines ----------------------------------------------------

@dataclass
class QuerySets:
    warm: list[str]
    latency: list[str]
    unseen: list[str]
    zipf_warm: list[str]
    zipf: list[str]


def query_sets(titles, args, rng) -> QuerySets:
    taken: set[str] = set()
    warm = make_queries(titles, 60, rng, taken)
    latency = make_queries(titles, args.queries, rng, taken)
    unseen = make_queries(titles, args.unseen, rng, taken)
    vocabulary = make_queries(titles, args.zipf_vocabulary, rng, taken)
    return QuerySets(warm, latency, unseen, zipf_stream(vocabulary, args.zipf_warmup, rng),
                     zipf_stream(vocabulary, args.zipf_requests, rng))


def run_size(name: str, src: Path, work: Path, args, titles) -> dict:
    pages = len(all_pages(src))
    print(f"\n== {name}: {pages} pages == (load average {os.getloadavg()[0]:.1f}: other jobs on this machine)",
          flush=True)
    engines = [Ours("searchsvc", work, processes=args.processes)]
    if name in args.peer_sizes.split(","):
        engines.append(Peer("datasette+fts5", work))
    figures = {e.name: {"pages": pages} for e in engines}
    for e in engines:
        s, rss, cpu = e.build(src)
        figures[e.name].update({"full build s": s, "full build CPU s": cpu, "reindex peak MiB": rss / 2**20,
                                "index MiB": e.size() / 2**20})
        print(f"{e.name}: full build {s:.1f}s ({cpu:.1f} CPU s), peak {rss / 2**20:.0f} MiB", flush=True)
    for e in engines:
        s, _, _ = e.update(src)
        figures[e.name]["no-op reindex s"] = s
        print(f"{e.name}: no-op reindex {s:.2f}s", flush=True)
    change_files(src, CHANGED, random.Random(len(name)))
    for e in engines:
        s, _, _ = e.update(src)
        figures[e.name]["100 changed s"] = s
        print(f"{e.name}: {CHANGED} changed files {s:.2f}s", flush=True)
    sets = query_sets(titles, args, random.Random(5))
    for e in engines:
        server = Server(e)
        try:
            found = e.count(server.get(e.path(MARKER)))
            if found < min(CHANGED, 10):
                raise RuntimeError(f"{e.name} does not find the changed files ({found} hits for {MARKER})")
            latencies(server, sets.warm)
            lat = latencies(server, sets.latency)
            unseen = throughput(server, sets.unseen)
            throughput(server, sets.zipf_warm)  # the stream's steady state: a server that has been up a while
            zipf = throughput(server, sets.zipf)
            if e.name == "searchsvc":
                first_ms, deep_ms, deep_page = deep_cursor(server, "said")
                figures[e.name].update({"cursor page 2 ms": first_ms, f"cursor page {deep_page} ms": deep_ms})
                print(f"{e.name}: cursor over 'said': page 2 {first_ms:.1f} ms (orders every hit once), "
                      f"page {deep_page} {deep_ms:.1f} ms", flush=True)
        finally:
            peak = server.stop()
        figures[e.name].update({
            "p50 ms": statistics.median(lat), "p95 ms": percentile(lat, 95),
            "unseen qps": unseen, "zipf qps": zipf, "server peak MiB": peak / 2**20,
        })
        print(f"{e.name}: p50 {statistics.median(lat):.1f} ms, p95 {percentile(lat, 95):.1f} ms, "
              f"{unseen:.0f} q/s unseen, {zipf:.0f} q/s zipf, server {peak / 2**20:.0f} MiB "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    if pages <= GROUPING_MAX_PAGES:
        grouping = grouping_seconds(engines[0].index)
        figures["searchsvc"]["grouping CPU s"] = grouping
        print(f"searchsvc: near-duplicate grouping {grouping:.1f} CPU s "
              f"({100 * grouping / figures['searchsvc']['full build CPU s']:.1f}% of the build's CPU)", flush=True)
    if not args.skip_freshness:
        fresh = freshness(engines[0], src, sets.latency)
        figures["searchsvc"].update(fresh)
        report_freshness(name, fresh)
    figures["searchsvc"]["no-op / full"] = figures["searchsvc"]["no-op reindex s"] / figures["searchsvc"]["full build s"]
    figures["searchsvc"]["100 changed / full"] = (
        figures["searchsvc"]["100 changed s"] / figures["searchsvc"]["full build s"])
    return figures


def run_freshness_only(name: str, src: Path, work: Path, args, titles) -> dict:
    """Ours alone: build, latency of the query set on a quiet index, then the same queries during the freshness run."""
    print(f"\n== {name}: {len(all_pages(src))} pages (freshness only) ==", flush=True)
    ours = Ours("searchsvc", work, processes=args.processes)
    s, _, cpu = ours.build(src)
    print(f"searchsvc: full build {s:.1f}s ({cpu:.1f} CPU s)", flush=True)
    sets = query_sets(titles, args, random.Random(5))
    server = Server(ours)
    try:
        latencies(server, sets.warm)
        lat = latencies(server, sets.latency)
    finally:
        server.stop()
    fig = {"p50 ms": statistics.median(lat), "p95 ms": percentile(lat, 95)}
    print(f"searchsvc: p50 {fig['p50 ms']:.1f} ms, p95 {fig['p95 ms']:.1f} ms (no commits)", flush=True)
    fig.update(freshness(ours, src, sets.latency))
    report_freshness(name, fig)
    return {"searchsvc": fig}


FRESHNESS = ["freshness p50 s", "freshness p95 s", "freshness max s", "p50 ms during watch", "p95 ms during watch"]

METRICS = ["full build s", "full build CPU s", "no-op reindex s", "100 changed s", "p50 ms", "p95 ms", "unseen qps", "zipf qps",
           "server peak MiB", "reindex peak MiB", "index MiB"]


def print_table(results: dict) -> None:
    print("\n| corpus | figure | searchsvc | datasette+fts5 | ours/peer | target |")
    print("|---|---|---:|---:|---:|---|")
    for size, fig in results.items():
        ours, peer = fig["searchsvc"], fig.get("datasette+fts5", {})
        print_freshness(size, ours)
        for m in METRICS:
            if m not in ours:
                continue
            if m not in peer:
                print(f"| {size} | {m} | {ours[m]:.2f} | | | (peer not run) |")
                continue
            ratio = ours[m] / peer[m] if peer[m] else float("nan")
            target = TARGETS.get(m)
            if m.endswith("qps"):
                goal = f">= {target}x" if target else ""
            else:
                goal = f"<= {target}x" if target else ""
            if m == "no-op reindex s":
                goal = f"<= 0.05x full (ours: {ours['no-op / full']:.3f}x)"
            if m == "100 changed s":
                goal = f"< 5% of full (ours: {100 * ours['100 changed / full']:.1f}%)"
            if m == "server peak MiB":
                goal = "< 1024 MiB"
            print(f"| {size} | {m} | {ours[m]:.2f} | {peer[m]:.2f} | {ratio:.2f} | {goal} |")
        for m in sorted(k for k in ours if k.startswith("cursor page") or k == "grouping CPU s"):
            note = "no peer: Datasette pages by offset" if m.startswith("cursor") else (
                f"{100 * ours[m] / ours['full build CPU s']:.1f}% of the build's CPU")
            print(f"| {size} | {m} | {ours[m]:.2f} | | | {note} |")
    sizes = list(results)
    if len(sizes) > 1:
        first = sizes[0]
        print(f"\nGrowth from {first} (x):")
        print("| engine | figure | " + " | ".join(sizes) + " |")
        print("|---|---|" + "---:|" * len(sizes))
        for engine in ("searchsvc", "datasette+fts5"):
            if engine not in results[first]:
                continue
            for m in ("full build s", "p50 ms", "p95 ms", "unseen qps", "server peak MiB", "index MiB"):
                base = results[first][engine].get(m)
                if not base:
                    continue
                cells = " | ".join(f"{results[s][engine][m] / base:.2f}" if m in results[s].get(engine, {}) else ""
                                   for s in sizes)
                print(f"| {engine} | {m} | {cells} |")
    print_capacity(results)


CAPACITY = [("full build s", "full build", "{:.0f} s"), ("index MiB", "index on disk", "{:.0f} MiB"),
            ("reindex peak MiB", "reindex memory", "{:.0f} MiB"), ("server peak MiB", "server PSS", "{:.0f} MiB"),
            ("p50 ms", "p50", "{:.1f} ms"), ("p95 ms", "p95", "{:.1f} ms"), ("unseen qps", "unseen q/s", "{:.0f}"),
            ("zipf qps", "Zipf q/s", "{:.0f}")]


def power_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of y = a * x**b, least squares on the logarithms."""
    import math
    xs, ys = [math.log(x) for x, _ in points], [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my - b * mx), b


def print_capacity(results: dict) -> None:
    """searchsvc's figures by size, and where a power law fitted to p95 reaches P95_LINE_MS."""
    rows = {size: fig["searchsvc"] for size, fig in results.items() if "pages" in fig.get("searchsvc", {})}
    if not rows:
        return
    print(f"\nCapacity (searchsvc, {os.cpu_count()} cores, serve --processes as above):")
    print("| pages | " + " | ".join(label for _, label, _ in CAPACITY) + " |")
    print("|---:|" + "---:|" * len(CAPACITY))
    for fig in rows.values():
        cells = " | ".join(form.format(fig[m]) if m in fig else "" for m, _, form in CAPACITY)
        print(f"| {fig['pages']:,} | {cells} |")
    points = [(fig["pages"], fig["p95 ms"]) for fig in rows.values() if fig.get("p95 ms")]
    if len({x for x, _ in points}) < 2:
        return
    a, b = power_fit(points)
    if b <= 0:
        print(f"p95 fit: {a:.3g} * pages^{b:.3f} does not grow; no size where it reaches {P95_LINE_MS:.0f} ms")
        return
    limit = (P95_LINE_MS / a) ** (1 / b)
    beyond = "extrapolated" if limit > max(x for x, _ in points) else "interpolated"
    print(f"p95 fit over {len(points)} sizes: p95 ms = {a:.3g} * pages^{b:.3f}; "
          f"p95 reaches {P95_LINE_MS:.0f} ms at about {limit:,.0f} pages ({beyond})")


def print_freshness(size: str, ours: dict) -> None:
    """The freshness rows (ours only: the peer has no watching reindex)."""
    for m in FRESHNESS:
        if m not in ours:
            continue
        if m.startswith("freshness"):
            note = (f"{'target <= 1 s; ' if m == 'freshness p95 s' else ''}{ours['freshness found']} files, "
                    f"{ours['freshness commits']} commits; load average {ours['load before']:.1f} before")
        else:
            quiet = ours.get(m.split(" during")[0])
            note = f"without commits: {quiet:.2f}" if quiet is not None else ""
        print(f"| {size} | {m} | {ours[m]:.2f} | | | {note} |")


def missing_prerequisites() -> str | None:
    if not CONVERTER.exists() or not REUTERS.exists():
        return f"{CONVERTER} or {REUTERS} is absent (../shared is not here)"
    for module in ("bs4", "lxml", "datasette"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install -e '.[bench]'"
    if not Path(sys.executable).with_name("datasette").exists():
        return "the datasette command is not installed next to this Python: pip install -e '.[bench]'"
    return None


def compile_package() -> None:
    """Write searchsvc's bytecode where it is missing or stale, as pip writes an installed package's (the peer's
    was, at its install): an editable install on a machine with PYTHONDONTWRITEBYTECODE set compiles every
    module at each command's start (0.03-0.05 s of a no-op reindex at 21k)."""
    import compileall

    import searchsvc

    compileall.compile_dir(Path(searchsvc.__file__).parent, quiet=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1k and 5k only")
    ap.add_argument("--skip-200k", action="store_true", help="1k, 5k and 21k")
    ap.add_argument("--sizes", help="comma-separated, from: " + ", ".join(SIZES))
    ap.add_argument("--queries", type=int, default=400, help="distinct queries for the latency figures")
    ap.add_argument("--unseen", type=int, default=800, help="requests of the unseen-queries throughput run")
    ap.add_argument("--zipf-vocabulary", type=int, default=3000)
    ap.add_argument("--zipf-requests", type=int, default=3000, help="requests of the measured Zipf stream")
    ap.add_argument("--zipf-warmup", type=int, default=3000,
                    help="requests of an earlier stream from the same distribution, not measured")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                    help="searchsvc serve --processes (0: leave the flag out)")
    ap.add_argument("--workdir", type=Path, help="where corpora and indexes go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json-out", type=Path, help="also write the figures here as JSON")
    ap.add_argument("--table-from", nargs="+", type=Path, metavar="JSON",
                    help="print the tables from --json-out files of earlier runs (sizes in file order) and exit")
    ap.add_argument("--skip-freshness", action="store_true", help="leave out the reindex --watch freshness run")
    ap.add_argument("--peer-sizes", default=PEER_SIZES,
                    help=f"sizes at which the peer is built and served too (default {PEER_SIZES})")
    ap.add_argument("--freshness-only", action="store_true",
                    help="build searchsvc only and measure freshness and latency (no peer)")
    ap.add_argument("--peer-index", nargs=2, metavar=("SRC", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.table_from:
        merged = {}
        for path in args.table_from:
            merged.update(json.loads(path.read_text("utf-8")))
        print_table({k: merged[k] for k in sorted(merged, key=list(SIZES).index)})
        return 0
    if args.peer_index:
        print(json.dumps(peer_index(Path(args.peer_index[0]), Path(args.peer_index[1]))))
        return 0
    why = missing_prerequisites()
    if why:
        print(f"bench/speed.py skipped: {why}")
        return 0
    compile_package()
    names = (args.sizes.split(",") if args.sizes else
             ["1k", "5k"] if args.quick else ["1k", "5k", "21k"] if args.skip_200k else DEFAULT_SIZES)
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        ap.error(f"unknown size {unknown[0]!r}; choose from {', '.join(SIZES)}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="searchsvc-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}; {os.cpu_count()} cores; python {sys.version.split()[0]}", flush=True)
    results = {}
    try:
        corpora = make_corpora(work, names)
        titles = title_words(work / "corpus-21k")
        for name in names:
            sub = work / f"run-{name}"
            sub.mkdir()
            run = run_freshness_only if args.freshness_only else run_size
            results[name] = run(name, corpora[name], sub, args, titles)
            shutil.rmtree(sub, ignore_errors=True)
            if args.json_out:
                args.json_out.write_text(json.dumps(results, indent=1), "utf-8")
    finally:
        if results:
            print_table(results)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
