"""The real CLI in subprocesses: exit codes, summaries, the same answers as the API."""
from __future__ import annotations

import json
import re

import pytest

from searchsvc.indexer import bundled_sample

from conftest import HANG_GUARD, page, run_cli, write


@pytest.fixture()
def src(tmp_path):
    write(tmp_path / "src/a.html", page("Ferry strike", "Ferry crews walked out over pay.", date="2024-02-02", source="Coast Post"))
    write(tmp_path / "src/b.txt", "Bridge closed\n\nThe old bridge closed for repairs.\n")
    write(tmp_path / "src/bad.html", "")
    return tmp_path / "src"


def test_reindex_search_stats_roundtrip(src, tmp_path):
    ix = tmp_path / "ix"
    first = run_cli("reindex", src, "--index", ix)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1].startswith("full rebuild: added 2, updated 0, removed 0, skipped 1")
    assert "bad.html: empty file" in first.stderr and "Traceback" not in first.stderr

    again = run_cli("reindex", "--index", ix)
    # nothing re-read but bad.html, which is tried again and named again
    assert again.returncode == 0 and "added 0, updated 0, removed 0, skipped 1, unchanged 2" in again.stdout

    found = run_cli("search", "strikes", "--index", ix)
    assert found.returncode == 0 and "Ferry strike" in found.stdout and found.stdout.startswith("1–1 of 1 article ")

    stats = json.loads(run_cli("stats", "--json", "--index", ix).stdout)
    assert stats["documents"] == 2 and stats["sources"] == ["Coast Post"]
    assert "documents:    2" in run_cli("stats", "--index", ix).stdout


def test_index_from_environment(src, tmp_path):
    ix = tmp_path / "env-ix"
    assert run_cli("reindex", src, env={"SEARCHSVC_INDEX": str(ix)}).returncode == 0
    assert (ix / "CURRENT").exists()
    out = run_cli("search", "bridge", "--json", env={"SEARCHSVC_INDEX": str(ix)})
    assert json.loads(out.stdout)["total"] == 1


def test_search_json_equals_the_api(app, sample_settings):
    cli = json.loads(run_cli("search", "council budget", "--json", "--limit", "5", "--index", sample_settings.index).stdout)
    api = app.test_client().get("/api/search?q=council budget&per_page=5").get_json()
    for data in (cli, api):
        data.pop("took_ms")
    assert cli == api


def test_batch_trec_uses_the_same_ranking(sample_settings, tmp_path, app):
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tcouncil budget\n2\twhat happened at the port? (strike)\n", encoding="utf-8")
    out = run_cli("search", "--batch", queries, "--format", "trec", "--limit", "5", "--index", sample_settings.index)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert all(len(parts) == 6 and parts[1] == "Q0" and parts[5] == "searchsvc" for parts in lines)
    for qid, q in (("1", "council budget"), ("2", "what happened at the port? (strike)")):
        run = [parts[2] for parts in lines if parts[0] == qid]
        assert [int(p[3]) for p in lines if p[0] == qid] == list(range(1, len(run) + 1))
        api = app.test_client().get("/api/search", query_string={"q": q, "per_page": 5}).get_json()
        assert run == [h["id"] for h in api["hits"]]


def test_batch_json(sample_settings):
    out = run_cli("search", "--batch", "-", "--format", "json", "--index", sample_settings.index, input="q1\theat wave\n")
    record = json.loads(out.stdout)
    assert record["qid"] == "q1" and record["total"] >= 1


@pytest.mark.parametrize("args, message", [
    (("reindex", "/definitely/not/here"), "Error: source not found: /definitely/not/here"),
    (("search", "x"), "Error: no index at"),
    (("stats",), "Error: no index at"),
])
def test_errors_are_one_line_exit_1(tmp_path, args, message):
    out = run_cli(*args, "--index", tmp_path / "ix")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(message) and len(out.stderr.strip().splitlines()) == 1


def test_unwritable_index_folder(tmp_path, src):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = run_cli("reindex", src, "--index", blocker / "ix")
    assert out.returncode == 1 and out.stderr.startswith("Error: index folder") and "Traceback" not in out.stderr


def test_no_source_ever_given_indexes_the_sample(tmp_path):
    out = run_cli("reindex", "--index", tmp_path / "ix")
    assert out.returncode == 0, out.stderr
    assert re.search(r"added (\d+), .* skipped 0", out.stdout) and int(re.search(r"added (\d+)", out.stdout)[1]) >= 30
    stats = json.loads(run_cli("stats", "--json", "--index", tmp_path / "ix").stdout)
    assert stats["source_paths"] == [str(bundled_sample())]


# --- output into a closed pipe, the summary line, explanations, corrections ---------------------

@pytest.mark.parametrize("args", [("search", ""), ("search", "", "--all"), ("search", "council", "--json"),
                                  ("sources",), ("stats",)])
def test_a_closed_pipe_ends_quietly_with_status_0(sample_settings, args):
    import subprocess

    from conftest import searchsvc_command

    proc = subprocess.Popen(searchsvc_command(*args, "--index", sample_settings.index),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before a line is written: every write fails
    _, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0 and err == b"", err


def test_search_piped_into_head(sample_settings):
    import subprocess
    import sys

    shell = f"set -o pipefail; {sys.executable} -m searchsvc search '' --limit 100 --index {sample_settings.index} | head -n 2"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=HANG_GUARD)
    assert out.returncode == 0 and out.stderr == "" and len(out.stdout.splitlines()) == 2


def test_search_puts_the_ferry_stories_above_ferris_and_joins_cyber_attack(sample_settings):
    ferry = run_cli("search", "ferry", "--index", sample_settings.index)
    assert ferry.returncode == 0, ferry.stderr
    titles = re.findall(r"^\d+\. (.+)$", ferry.stdout, re.MULTILINE)
    earthquake = titles.index("Earthquake shakes southern archipelago, no casualties reported")
    assert titles.index("Northfield Rovers win county cup final on penalties") == len(titles) - 1 > earthquake
    cyber = run_cli("search", "cyber attack", "--index", sample_settings.index)
    assert cyber.returncode == 0, cyber.stderr
    first = re.search(r"^1\. (.+)$", cyber.stdout, re.MULTILINE).group(1)
    assert "cyberattack" in first and "Did you mean" not in cyber.stdout and "cover" not in cyber.stdout


def test_search_says_where_it_is_what_it_counts_and_why(sample_settings):
    out = run_cli("search", "", "--page", "2", "--index", sample_settings.index).stdout
    assert re.match(r"11–20 of 35 stories \(38 articles\) \(page 2 of 4, \d+ ms\)", out)
    why = run_cli("search", "strikes", "--explain", "--limit", "2", "--index", sample_settings.index).stdout
    assert re.search(r"^   why: strikes in .*(title|body)", why, re.M), why
    fixed = run_cli("search", "dockwrkers", "--index", sample_settings.index).stdout
    assert "Nothing matched 'dockwrkers'; showing results for 'dockworkers'" in fixed and "Did you mean" not in fixed
    relaxed = run_cli("search", '"no automation without consent"', "--index", sample_settings.index).stdout
    assert """Nothing matched '"no automation without consent"' as written; showing articles with its words.""" in relaxed
    tiers = run_cli("search", "school drivers pay", "--index", sample_settings.index).stdout
    assert "The first result has all your words; the rest have some of them." in tiers


# --- sources: named, listed, removed; a full rebuild keeps them ----------------------------------

@pytest.fixture()
def two_sources(tmp_path):
    write(tmp_path / "rt/a.html", page("Bridge reopens", "The old bridge reopened after repairs.", date="2024-02-02"))
    write(tmp_path / "rt/b.html", page("Market hall", "The market hall opened.", date="2024-02-03", source="Named Paper"))
    write(tmp_path / "other/c.html", page("Bridge toll", "A toll for the bridge was dropped.", date="2024-03-03"))
    return tmp_path


def test_reindex_source_names_the_pages_that_name_none(two_sources, tmp_path):
    ix = tmp_path / "ix"
    assert run_cli("reindex", two_sources / "rt", "--source", "Riverside Times", "--index", ix).returncode == 0
    assert run_cli("reindex", two_sources / "other", "--index", ix).returncode == 0
    hits = {h["id"]: h["source"] for h in json.loads(run_cli("search", "", "--json", "--index", ix).stdout)["hits"]}
    assert hits == {"a.html": "Riverside Times", "b.html": "Named Paper", "c.html": None}
    # remembered: a later reindex of everything keeps the name; a new name re-reads that folder
    assert run_cli("reindex", "--index", ix).returncode == 0
    renamed = run_cli("reindex", two_sources / "rt", "--source", "The Riverside Times", "--index", ix)
    assert "updated 2" in renamed.stdout
    hits = {h["id"]: h["source"] for h in json.loads(run_cli("search", "", "--json", "--index", ix).stdout)["hits"]}
    assert hits["a.html"] == "The Riverside Times" and hits["b.html"] == "Named Paper"
    listed = run_cli("sources", "--index", ix).stdout.splitlines()
    assert listed == [f"{two_sources / 'rt'} (The Riverside Times): 2 files, 2 documents",
                      f"{two_sources / 'other'}: 1 file, 1 document"]
    assert run_cli("reindex", "--source", "X", "--index", ix).returncode == 1


def test_sources_remove_takes_a_source_out(two_sources, tmp_path):
    ix = tmp_path / "ix"
    run_cli("reindex", two_sources / "rt", "--index", ix)
    run_cli("reindex", two_sources / "other", "--index", ix)
    out = run_cli("sources", "--remove", two_sources / "rt", "--index", ix)
    assert out.returncode == 0 and out.stdout.startswith(f"removed {two_sources / 'rt'}: 2 documents; 1 documents left")
    assert [s["path"] for s in json.loads(run_cli("sources", "--json", "--index", ix).stdout)] == [str(two_sources / "other")]
    assert json.loads(run_cli("search", "", "--json", "--index", ix).stdout)["total"] == 1
    assert "added 0, updated 0, removed 0" in run_cli("reindex", "--index", ix).stdout  # not scanned again
    wrong = run_cli("sources", "--remove", two_sources / "nowhere", "--index", ix)
    assert wrong.returncode == 1 and "is not a source of this index" in wrong.stderr and len(wrong.stderr.splitlines()) == 1


def test_a_full_rebuild_of_one_source_keeps_the_others_and_says_so(two_sources, tmp_path):
    ix = tmp_path / "ix"
    run_cli("reindex", two_sources / "rt", "--index", ix)
    run_cli("reindex", two_sources / "other", "--index", ix)
    (two_sources / "rt/b.html").unlink()
    out = run_cli("reindex", "--full", two_sources / "rt", "--index", ix)
    assert out.returncode == 0, out.stderr
    assert "removed 1," in out.stdout and f"other sources rebuilt too: {two_sources / 'other'}" in out.stdout
    assert {h["id"] for h in json.loads(run_cli("search", "", "--json", "--index", ix).stdout)["hits"]} == {"a.html", "c.html"}


def test_the_progress_bar_names_its_phases_and_ends_at_100(tmp_path, sample_dir):
    """On a terminal (a pseudo-terminal here) the bar says what it does and is left at 100 %."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import termios

    from conftest import searchsvc_command

    for full in (["--full"], []):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
        args = ["reindex", sample_dir, "--index", tmp_path / "ix", *full]
        if not full:  # an update with changed files: a copy of the sample with every file touched
            import shutil
            shutil.copytree(sample_dir, tmp_path / "copy")
            args = ["reindex", tmp_path / "copy", "--index", tmp_path / "ix"]
        proc = subprocess.Popen(searchsvc_command(*args), stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        screen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            screen += chunk
        proc.wait(timeout=HANG_GUARD)
        os.close(master)
        text = screen.decode("utf-8", "replace")
        assert proc.returncode == 0
        assert "cleaning" in text and "done: 100%" in text.rstrip().split("\r")[-1], text[-300:]
        if full:
            assert "writing" in text or "committing" in text


def test_reindex_plain_text_broken_title_and_headline_only_brief(tmp_path):
    """The shapes articles reach us in: site prompts under a .txt story, an unclosed <title>, a wire brief."""
    src, ix = tmp_path / "src", tmp_path / "ix"
    write(src / "ferry.txt", "Ferry fares to rise in spring\nFerry fares to rise in spring\n\n"
          "Fares on the harbour ferry will rise by a tenth in April, the operator said on Monday.\n\n"
          "The operator blamed the price of fuel.\n\n\n"
          "Please let us know if you're having issues with commenting.\n")
    write(src / "barge.html", "<html><head><title>Barge strikes rail bridge</head><body><div><p>A loaded barge "
          "struck the rail bridge over the estuary on Monday, closing the line while engineers inspect it.</p>"
          "</div></body></html>")
    write(src / "brief.html", "<html><body><article><h1>VIACOM INTERNATIONAL INC GETS ANOTHER NEW NATIONAL "
          "AMUSEMENTS BID</h1></article></body></html>")
    write(src / "nothing.html", "<html><body><nav>Home</nav></body></html>")
    out = run_cli("reindex", src, "--index", ix)
    assert out.returncode == 0, out.stderr
    assert "added 3, updated 0, removed 0, skipped 1" in out.stdout
    assert "nothing.html: no article text found" in out.stderr and "Traceback" not in out.stderr

    def hits(query: str) -> list[dict]:
        found = run_cli("search", query, "--json", "--index", ix)
        assert found.returncode == 0, found.stderr
        return json.loads(found.stdout)["hits"]

    assert hits("commenting") == [] and hits('"having issues"') == []
    assert [(h["id"], h["title"]) for h in hits("fuel fares")] == [("ferry.txt", "Ferry fares to rise in spring")]
    assert [(h["id"], h["title"]) for h in hits("estuary engineers")] == [("barge.html", "Barge strikes rail bridge")]
    assert [h["id"] for h in hits("Viacom amusements")] == ["brief.html"]
