"""Crashes, concurrency and damage: real SIGKILLs of ``searchsvc reindex``, real servers, real truncation.

The corpus changes from state A (indexed) to state B, then a reindex of B
is killed with SIGKILL at a chosen moment: while files are being cleaned,
while segments are being written, and right after the new table of
contents appears (the swap). The reindex stops itself there (``PAUSES``)
and the index folder is checked to show that phase before the kill. Whatever the moment,
the index serves exactly A or exactly B (never a mix, never an error), the
next plain ``reindex`` completes without waiting on a lock and serves
exactly B, and no debris generation is left behind.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import HANG_GUARD, LiveServer, page, processes, run_cli, searchsvc_command, write

pytestmark = pytest.mark.slow

# 70 pages: enough files for the reindex to clean (and write) in worker processes
PAGES_A = [f"pages/p{i:03d}.html" for i in range(70)]
RECORDS_A = [f"r{i:03d}" for i in range(150)]
PAGES_B = PAGES_A[5:] + [f"pages/new{i:02d}.html" for i in range(6)]
RECORDS_B = RECORDS_A[20:] + [f"r{i:03d}" for i in range(300, 320)]
WORDS = random.Random(5).sample(
    ["".join(random.Random(n).choices("bcdfghjklmnpqrstvwz", k=3)) + v
     for n, v in enumerate(["a", "e", "i", "o", "u"] * 1200)], 3000)
NEW_WORD = "zeppelinfield"  # only in state B's new documents


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env.update(extra)
    return env


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, k=n))


def write_state(src: Path, state: str) -> set[str]:
    """Make ``src`` hold corpus state A or B; the document ids it holds."""
    pages, records = (PAGES_A, RECORDS_A) if state == "A" else (PAGES_B, RECORDS_B)
    if src.exists():
        shutil.rmtree(src)
    for rel in pages:
        rng = random.Random(rel)
        extra = f" The {NEW_WORD} opened." if "new" in rel else ""
        write(src / rel, page(f"Story {rel} {text(rng, 4)}", "\n\n".join(text(rng, 70) for _ in range(4)) + extra,
                              date=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                              source=f"Paper {rng.randint(1, 5)}"))
    lines = []
    for rid in records:
        rng = random.Random(rid)
        extra = f" The {NEW_WORD} opened." if int(rid[1:]) >= 300 else ""
        lines.append(json.dumps({"id": rid, "title": f"Record {rid} {text(rng, 3)}", "body": text(rng, 90) + extra,
                                 "published": f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}))
    write(src / "feed.jsonl", "\n".join(lines) + "\n")
    return set(pages) | set(records)


def served_ids(index: Path) -> set[str]:
    """Every document id a freshly started reader (``searchsvc search --json``) sees; it must not fail."""
    r = run_cli("search", "", "--json", "--limit", "1000", "--index", index)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    ids = {h["id"] for h in data["hits"]}
    assert data["total"] == len(ids)
    return ids


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*"))


def live_generation(index: Path) -> str:
    return (index / "CURRENT").read_text().split()[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    """An index of state A (copied for each test) and the source folder's ids for A and B."""
    root = tmp_path_factory.mktemp("crash")
    ids_a = write_state(root / "src", "A")
    r = run_cli("reindex", root / "src", "--index", root / "index-a", env=clean_env())
    assert r.returncode == 0, r.stderr
    assert served_ids(root / "index-a") == ids_a
    ids_b = write_state(root / "src", "B")
    return {"root": root, "index": root / "index-a", "A": ids_a, "B": ids_b}


@pytest.fixture()
def crash_index(template, tmp_path) -> tuple[Path, Path]:
    """(a fresh copy of the state-A index, the source folder, now in state B; tests only read it)."""
    index = tmp_path / "index"
    shutil.copytree(template["index"], index)
    return index, template["root"] / "src"


# A reindex stops itself (SIGSTOP, in its main process only) at the moment a phase is under way; the test
# then kills it there: the moment is chosen by the code's own progress, never by timing, so a busy machine
# cannot make the test miss it. Each pause sits where its phase's files show (see the predicates below).
PAUSE_PRELUDE = """
import os, signal, multiprocessing.connection as connection
from searchsvc import indexer, segment, store
from whoosh import writing
main = os.getpid()
def stop():
    if os.getpid() == main:
        os.kill(main, signal.SIGSTOP)
def before(owner, name, once=True):
    real = getattr(owner, name)
    done = []
    def wrapper(*args, **kwargs):
        if not (once and done):
            done.append(1)
            stop()
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)
"""
PAUSES = {
    # full: workers started and cleaning, nothing decided or written; or (few files) the first file cleaned here
    ("cleaning", False): "before(connection, 'wait'); before(indexer, '_read_one')",
    # incremental: the update's writer is open and the first cleaned document is going in
    ("cleaning", True): "before(segment.BulkSegmentWriter, 'add_document')",
    # segments written, no table of contents committed
    ("writing", False): "before(writing.SegmentWriter, '_commit_toc')",
    ("writing", True): "before(writing.SegmentWriter, '_commit_toc')",
    # the new table of contents is on disk, CURRENT not yet switched
    ("swap", False): "before(store.IndexHome, 'publish')",
    ("swap", True): "before(store.IndexHome, 'publish')",
}


def start_reindex(src: Path, index: Path, *flags: str, early_cleaner: bool = False, pause: str | None = None,
                  **env) -> subprocess.Popen:
    """``searchsvc reindex`` in its own process group, its output in files (workers may outlive it).

    ``early_cleaner``: an update's cleaner process starts whatever the index's size (it waits for 2,000 files).
    ``pause``: the phase at which the reindex stops itself (``PAUSES``), for ``kill_at``.
    """
    out = tempfile.TemporaryFile("w+")
    prelude = PAUSE_PRELUDE + PAUSES[pause, "--full" not in flags] if pause else ""
    proc = subprocess.Popen(
        searchsvc_command("reindex", src, "--index", index, *flags, tuned={"EARLY_FROM": 1} if early_cleaner else None,
                          prelude=prelude),
        stdout=out, stderr=subprocess.STDOUT, text=True, env=clean_env(**env), start_new_session=True,
    )
    proc.output_file = out
    return proc


def finish(proc: subprocess.Popen) -> str:
    """Wait for ``proc`` (bounded), stop anything it left behind; its output."""
    try:
        proc.wait(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_leftovers(proc)
        proc.output_file.seek(0)
        output = proc.output_file.read()
        proc.output_file.close()
    return output


def kill_leftovers(proc: subprocess.Popen) -> None:
    """Any worker the killed reindex forked: stop it too, so nothing outlives the test."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (from /proc)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            pass
    return False


def live_group_members(pgid: int) -> list[int]:
    """Processes (zombies aside) still in process group ``pgid``."""
    return [pid for pid, fields in processes() if int(fields[2]) == pgid and fields[0] != "Z"]


def new_files(folder: Path, before: set[str], suffixes: tuple[str, ...]) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [n for n in names if n not in before and n.endswith(suffixes)]


def other_generations(index: Path, live: str) -> list[Path]:
    return [index / n for n in generations(index) if n != live]


def toc_numbers(folder: Path) -> list[int]:
    return [int(n[len("_MAIN_"):-len(".toc")]) for n in new_files(folder, set(), (".toc",)) if n.startswith("_MAIN_")]


# phase -> is it happening? (given the index, the live generation's name and its files before the run)
def cleaning(index, live, before):
    """Full: the new generation exists, nothing committed and no part's segment written yet (at most the
    writer's own open files: the workers are cleaning). Incremental: the writer is open."""
    if before is None:
        return any(not any(toc_numbers(g)) and len(new_files(g, set(), (".trm",))) <= 1
                   and not new_files(g, set(), (".col", ".seg"))
                   for g in other_generations(index, live) if toc_numbers(g))
    return bool(new_files(index / live, before, (".trm", ".pst")))


def writing(index, live, before):
    """Segment files are being written (a part's postings, columns, a compound segment), nothing committed."""
    if before is None:
        return any((len(new_files(g, set(), (".trm",))) >= 2 or new_files(g, set(), (".col", ".seg")))
                   and not any(toc_numbers(g)) for g in other_generations(index, live))
    return bool(new_files(index / live, before, (".col", ".seg")))


def swapping(index, live, before):
    """The new table of contents is on disk: the commit is done, the switch may or may not be."""
    if before is None:
        return any(any(toc_numbers(g)) for g in other_generations(index, live))
    return bool(new_files(index / live, before, (".toc",)))


PHASES = {"cleaning": cleaning, "writing": writing, "swap": swapping}


def kill_at(proc: subprocess.Popen, index: Path, phase: str, incremental: bool, before: set | None) -> None:
    """SIGKILL ``proc`` (started with ``pause=phase``) where it stopped itself, once ``phase`` shows in the
    index folder. ``before``: the live generation's files before the run (incremental)."""
    deadline = time.monotonic() + HANG_GUARD
    try:
        while process_state(proc.pid) != "T":
            assert proc.poll() is None, f"the reindex ended before {phase}"
            assert time.monotonic() < deadline, f"the reindex never reached {phase}"
            time.sleep(0.01)
        live = live_generation(index)
        assert PHASES[phase](index, live, before if incremental else None), (
            f"stopped, but {phase} does not show: {[(g.name, sorted(os.listdir(g))) for g in index.glob('gen-*')]}")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # stopped or not: killed here, never left waiting
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def process_state(pid: int) -> str | None:
    """R, S, T (stopped), Z...: the state field of /proc/PID/stat, or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
@pytest.mark.parametrize("phase", list(PHASES))
def test_sigkill_at_any_moment_leaves_a_whole_index_and_the_next_reindex_recovers(
        template, crash_index, phase, incremental):
    index, src = crash_index
    old_live = live_generation(index)
    before = set(os.listdir(index / old_live))
    proc = start_reindex(src, index, *(() if incremental else ("--full",)), pause=phase)
    try:
        kill_at(proc, index, phase, incremental, before)
    finally:
        finish(proc)

    after_kill = served_ids(index)
    if phase == "cleaning" or (phase == "writing" and not incremental):
        assert after_kill == template["A"]  # nothing was committed: exactly as before
        assert live_generation(index) == old_live
    else:
        assert after_kill in (template["A"], template["B"])  # one whole state, never a mix

    # the next plain reindex: no stale lock (short wait), completes, serves exactly B, no debris
    r = run_cli("reindex", "--index", index, env=clean_env(SEARCHSVC_WRITER_TIMEOUT="3"))
    assert r.returncode == 0, r.stderr
    assert "another reindex" not in r.stderr
    assert served_ids(index) == template["B"]
    assert generations(index) == [live_generation(index)]
    stats = run_cli("stats", "--json", "--index", index)
    assert stats.returncode == 0 and json.loads(stats.stdout)["documents"] == len(template["B"])


@pytest.mark.parametrize("mode", ["full", "incremental", "update-cleaner"])
def test_killed_reindex_leaves_no_lock_and_no_workers_behind(template, crash_index, mode):
    """Kill only the parent (as the OOM killer would) while its workers clean: the lock dies with it
    at once, and the workers notice and exit by themselves."""
    index, src = crash_index
    incremental = mode != "full"
    before = set(os.listdir(index / live_generation(index)))
    proc = start_reindex(src, index, "--workers", "2", *(() if incremental else ("--full",)),
                         early_cleaner=mode == "update-cleaner", pause="cleaning")
    try:
        kill_at(proc, index, "cleaning", incremental, before)
        r = run_cli("reindex", "--index", index, env=clean_env(SEARCHSVC_WRITER_TIMEOUT="0.5"))
        assert r.returncode == 0, r.stderr
        assert served_ids(index) == template["B"]
        deadline = time.monotonic() + HANG_GUARD  # they go as soon as they read EOF; this ends a hang
        while live_group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_group_members(proc.pid) == [], (
            "workers of the killed reindex are still running: a worker blocked on its pipe never sees EOF "
            "while it still holds the parent's end of that pipe (close it in the child, or watch os.getppid())")
    finally:
        finish(proc)


def test_second_reindex_waits_or_exits_with_a_clear_message(template, crash_index):
    index, src = crash_index
    first = start_reindex(src, index, "--full")
    try:
        lock = index / ".reindex.lock"
        deadline = time.monotonic() + HANG_GUARD
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "the first reindex never took the lock"
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGSTOP)  # hold it, lock and all, while the others try
        try:
            impatient = run_cli("reindex", "--index", index, env=clean_env(SEARCHSVC_WRITER_TIMEOUT="0.5"))
            assert impatient.returncode == 1
            assert impatient.stderr.strip().splitlines() == [
                f"Error: another reindex (pid {first.pid}) is running on {index}; "
                "waited 0.5s, try again when it has finished"]
            patient = start_reindex(src, index, SEARCHSVC_WRITER_TIMEOUT=str(HANG_GUARD))
            try:
                deadline = time.monotonic() + HANG_GUARD
                while not holds_open(patient.pid, lock):  # it has reached the lock and is trying it
                    assert patient.poll() is None and time.monotonic() < deadline, finish(patient)
                    time.sleep(0.01)
                assert patient.poll() is None  # still waiting for the lock (the first one is stopped)
                assert lock.read_text().strip() == str(first.pid)
            finally:
                os.kill(first.pid, signal.SIGCONT)
            output = finish(patient)
            assert patient.returncode == 0, output
        finally:
            os.kill(first.pid, signal.SIGCONT)
        output = finish(first)
        assert first.returncode == 0, output
    finally:
        kill_leftovers(first)
    assert served_ids(index) == template["B"]
    assert generations(index) == [live_generation(index)]


class Hammer:
    """Client threads searching a live server until stopped; every answer is recorded."""

    QUERIES = ["", NEW_WORD, "story", "record", "a*", '"story pages"', "paper -record", "title:story"]

    def __init__(self, server: LiveServer, clients: int = 4):
        self.server = server
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.answers = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)]

    def run(self, n: int) -> None:
        i = n
        while not self.stop.is_set():
            q = self.QUERIES[i % len(self.QUERIES)]
            i += 1
            try:
                status, _, body = self.server.get("/api/search?per_page=5&q=" + urllib.parse.quote(q))
            except OSError as exc:  # no answer at all (the server's wait is a hang guard): a failure too
                status, body = None, repr(exc).encode()
            with self.lock:
                self.answers += 1
                if status != 200:
                    self.failures.append(f"{status} for {q!r}: {body[:200]!r}")

    def more_answers(self, n: int) -> None:
        """Until ``n`` more answers have come back (the clients keep asking)."""
        with self.lock:
            target = self.answers + n
        deadline = time.monotonic() + HANG_GUARD
        while True:
            with self.lock:
                if self.answers >= target:
                    return
            assert time.monotonic() < deadline and any(t.is_alive() for t in self.threads), "the clients stopped"
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=HANG_GUARD)


@pytest.mark.parametrize("flags", [(), ("--full",)], ids=["incremental", "full"])
def test_searches_during_a_reindex_never_fail_and_then_see_the_new_documents(template, crash_index, flags):
    index, src = crash_index
    server = LiveServer(index)
    try:
        status, before = server.json("/api/search?q=" + NEW_WORD)
        assert status == 200 and before["total"] == 0
        with Hammer(server) as hammer:
            proc = start_reindex(src, index, *flags)
            output = finish(proc)
            hammer.more_answers(2 * len(hammer.threads))  # a few more rounds against the new index
        assert proc.returncode == 0, output
        assert hammer.failures == [], hammer.failures[:5]
        assert hammer.answers > 0
        status, after = server.json("/api/search?per_page=100&q=" + NEW_WORD)
        new_ids = {i for i in template["B"] - template["A"]}
        assert status == 200 and {h["id"] for h in after["hits"]} == new_ids
        status, health = server.json("/api/health")
        assert status == 200 and health["documents"] == len(template["B"])
    finally:
        server.stop()


def damage(index: Path, what: str) -> None:
    gen = index / live_generation(index)
    if what == "toc":
        target = max(gen.glob("_*.toc"))
        size = target.stat().st_size // 2
    else:
        target = max((p for p in gen.iterdir() if p.suffix in (".seg", ".trm", ".pst")), key=lambda p: p.stat().st_size)
        size = 0 if what == "segment emptied" else target.stat().st_size // 2
    os.truncate(target, size)


@pytest.mark.parametrize("what", ["segment halved", "segment emptied", "toc"])
def test_damaged_index_gives_one_clear_line_and_reindex_full_rebuilds(template, crash_index, what):
    index, src = crash_index
    damage(index, what)
    for args in (["search", "harbour"], ["stats", "--json"], ["serve", "--port", "0"]):
        r = run_cli(*args, "--index", index)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, r.stderr)
        assert "reindex --full" in lines[0] and "Traceback" not in r.stderr
    r = run_cli("reindex", "--full", "--index", index, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert served_ids(index) == template["B"]


def test_running_server_answers_503_json_for_a_damaged_new_generation(template, crash_index):
    """A server already running when a damaged index is published answers with JSON errors, then recovers."""
    index, src = crash_index
    server = LiveServer(index)
    try:
        broken = index.parent / "broken"
        shutil.copytree(index, broken)
        damage(broken, "segment halved")
        gen = broken / live_generation(broken)
        target = index / (gen.name + "-broken")
        shutil.copytree(gen, target)
        (index / "CURRENT").write_text(f"{target.name}\n1\n")
        status, body = server.json("/api/search?q=story")
        assert status == 503 and body["error"]["code"] == "index_unavailable"
        assert "reindex --full" in body["error"]["message"]
        status, _, page_body = server.get("/search?q=story")
        assert status == 503 and b"Traceback" not in page_body
        r = run_cli("reindex", "--full", "--index", index, env=clean_env())
        assert r.returncode == 0, r.stderr
        status, body = server.json("/api/search?per_page=100&q=" + NEW_WORD)
        assert status == 200 and body["total"] == len(template["B"] - template["A"])
    finally:
        server.stop()
