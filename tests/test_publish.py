"""`searchsvc publish DEST`: read replicas served from copies of one index, switched atomically.

Two index homes, a live `searchsvc serve` on each (loopback): a reindex of
the source and a publish make a new article visible on both; a publish
killed with SIGKILL while it copies changes nothing the replica serves, and
the next publish completes it.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import LiveServer, page, run_cli, searchsvc_command, write

pytestmark = pytest.mark.slow

WORDS = [f"{c}{v}{d}" for c in "bdfgklmnprstvz" for v in "aeiou" for d in "nrst"]


def write_corpus(src: Path, n: int) -> None:
    for i in range(n):
        rng = random.Random(i)
        body = "\n\n".join(" ".join(rng.choices(WORDS, k=80)) for _ in range(5))
        write(src / f"d{i // 100}/story{i:04d}.html", page(f"Story {i} {' '.join(rng.choices(WORDS, k=3))}", body,
                                                           date=f"2024-01-{i % 28 + 1:02d}", source="Wire"))


def reindexed(src: Path, index: Path, *flags) -> None:
    r = run_cli("reindex", src, "--index", index, *flags, env={"SEARCHSVC_WORKERS": "1"})
    assert r.returncode == 0, r.stderr


def published(index: Path, dest: Path) -> str:
    r = run_cli("publish", dest, "--index", index)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.strip()


def ids_for(server: LiveServer, q: str) -> set[str]:
    status, data = server.json(f"/api/search?per_page=100&q={q}")
    assert status == 200, data
    return {h["id"] for h in data["hits"]}


def live_generation(home: Path) -> str:
    return (home / "CURRENT").read_text().split()[0]


@pytest.fixture()
def homes(tmp_path):
    """(source folder, source index home, replica home): the source indexed and published once."""
    src, primary, replica = tmp_path / "src", tmp_path / "primary", tmp_path / "replica"
    write_corpus(src, 300)
    reindexed(src, primary)
    assert published(primary, replica).startswith(f"published to {replica}")
    return src, primary, replica


def test_reindex_and_publish_make_a_new_article_visible_on_both_servers(homes):
    src, primary, replica = homes
    (primary / ".cursor-key").write_bytes(b"a key another engineer keeps in the index home")
    servers = [LiveServer(primary), LiveServer(replica)]
    try:
        assert [ids_for(s, "story") and s.json("/api/health")[1]["documents"] for s in servers] == [300, 300]
        write(src / "new/heron.html", page("Heron returns to the marsh", "A grey heron nested in the marsh again."))
        reindexed(src, primary)
        assert [ids_for(s, "heron") for s in servers] == [{"new/heron.html"}, set()]

        summary = published(primary, replica)
        copied, total = (int(x) for x in summary.split("copied ")[1].split(" files")[0].split(" of "))
        assert 0 < copied < total  # the unchanged segment was linked, not transferred
        assert [ids_for(s, "heron") for s in servers] == [{"new/heron.html"}, {"new/heron.html"}]
        assert (replica / ".cursor-key").read_bytes() == (primary / ".cursor-key").read_bytes()
        assert len(list(replica.glob("gen-*"))) == 1  # the replaced generation is gone, as in the source
        assert published(primary, replica) == f"{replica} already serves this commit; nothing to publish"

        (src / "new/heron.html").unlink()
        reindexed(src, primary, "--full")  # a new generation: every file is new
        published(primary, replica)
        assert [ids_for(s, "heron") for s in servers] == [set(), set()]
        assert [s.json("/api/health")[1]["documents"] for s in servers] == [300, 300]
    finally:
        for s in servers:
            s.stop()


def new_generation_with_a_file(replica: Path, live: str) -> bool:
    """A publish is copying: a generation folder beside the live one holds a file."""
    for gen in replica.glob("gen-*"):
        if gen.name != live:
            try:
                if os.listdir(gen):
                    return True
            except OSError:
                pass
    return False


def test_publish_killed_while_copying_changes_nothing_visible(homes):
    src, primary, replica = homes
    server = LiveServer(replica)
    try:
        killed = False
        for attempt in range(5):  # the moment is found by watching; a very fast copy may finish first
            write(src / f"new/heron{attempt}.html", page("Heron returns", "A grey heron nested in the marsh."))
            reindexed(src, primary, "--full")  # a new generation: the publish copies every file
            live = live_generation(replica)
            before = (ids_for(server, "story"), ids_for(server, "heron"), server.json("/api/health")[1])
            proc = subprocess.Popen(searchsvc_command("publish", replica, "--index", primary),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if new_generation_with_a_file(replica, live):
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.0005)
            proc.wait(timeout=60)
            if proc.returncode == -signal.SIGKILL:
                killed = True
                break
            assert proc.returncode == 0
        assert killed, "every publish finished before its copy could be caught"

        assert live_generation(replica) == live
        assert (ids_for(server, "story"), ids_for(server, "heron"), server.json("/api/health")[1]) == before
        assert f"new/heron{attempt}.html" not in before[1]
        r = run_cli("search", "heron", "--json", "--limit", "100", "--index", replica)  # a fresh reader too
        assert r.returncode == 0 and {h["id"] for h in json.loads(r.stdout)["hits"]} == before[1], r.stderr

        published(primary, replica)  # the next publish completes and clears the half-copied folder
        assert ids_for(server, "heron") == {f"new/heron{i}.html" for i in range(attempt + 1)}
        assert [p.name for p in replica.glob("gen-*")] == [live_generation(replica)]
    finally:
        server.stop()


def test_publish_refuses_its_own_index_and_a_missing_one(homes, tmp_path):
    _, primary, replica = homes
    r = run_cli("publish", primary, "--index", primary)
    assert r.returncode == 1 and "is the index being published" in r.stderr
    r = run_cli("publish", replica, "--index", tmp_path / "none")
    assert r.returncode == 1 and r.stderr.startswith("Error: no index at") and "Traceback" not in r.stderr
