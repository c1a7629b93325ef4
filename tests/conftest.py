"""Shared fixtures: real on-disk indexes, the real Flask app, the real CLI and server."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings

from searchsvc.config import Settings
from searchsvc.indexer import bundled_sample, reindex
from searchsvc.search import SearchIndex, SearchRequest, search
from searchsvc.web import create_app

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"


# The suite must pass on a busy machine (a laptop doing other things, a shared CI box): every wait below is
# a guard against a hang, never a measure of speed. Nothing sleeps and then asserts; waits end on the event
# they wait for, and their limits are minutes. Hypothesis never fails a test for being slow.
HANG_GUARD = 300  # seconds: long enough for any step of the suite under load, short enough to end a hang
hypothesis_settings.register_profile("suite", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
hypothesis_settings.load_profile("suite")


def make_settings(index: Path, **kw) -> Settings:
    """Test settings: workers=1 (no forking inside pytest); a second reindex waits for the lock as long as
    a guard against a hang (tests of the busy case pass a short wait themselves)."""
    kw.setdefault("workers", 1)
    kw.setdefault("writer_timeout", float(HANG_GUARD))
    return Settings.from_env({}, index=index, **kw)


def drop_postings_arrays(index: Path) -> int:
    """Make ``index`` like one written before postings.py: its segments' posting lists are then decoded
    from Whoosh's blocks. How many files were removed."""
    found = list(Path(index).rglob("*.arr"))
    for path in found:
        path.unlink()
    return len(found)


def drop_stored_documents(index: Path) -> int:
    """Make ``index`` like one written before stored.py: its hits' stored fields are then read through
    Whoosh's stored column. How many files were removed."""
    found = list(Path(index).rglob("*.sto"))
    for path in found:
        path.unlink()
    return len(found)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def page(title: str, body: str, *, date: str | None = None, source: str | None = None,
         author: str | None = None, extra_head: str = "") -> str:
    """A small news page with the usual boilerplate around one article."""
    head = f"<title>{title}{' | ' + source if source else ''}</title>"
    if date:
        head += f'<meta property="article:published_time" content="{date}">'
    if source:
        head += f'<meta property="og:site_name" content="{source}">'
    if author:
        head += f'<meta name="author" content="{author}">'
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{head}{extra_head}</head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        f"<main><article><h1>{title}</h1>{paras}</article></main>"
        "<footer>Contact us. Terms of use. All rights reserved.</footer></body></html>"
    )


def search_ids(index: SearchIndex, q: str, **kw) -> list[str]:
    return [h.id for h in search(index, SearchRequest(q=q, **kw)).hits]


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return bundled_sample()


@pytest.fixture(scope="session")
def expectations(sample_dir) -> dict:
    return json.loads((HERE / "sample_expectations.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory, sample_dir) -> Settings:
    """A real index of the bundled sample corpus, built once per session (read-only in tests)."""
    settings = make_settings(tmp_path_factory.mktemp("sample") / "index")
    report = reindex(settings, [sample_dir])
    assert report.documents >= 30, report.summary()
    return settings


@pytest.fixture(scope="session")
def sample_index(sample_settings) -> SearchIndex:
    index = SearchIndex(sample_settings)
    yield index
    index.close()


@pytest.fixture()
def app(sample_settings):
    app = create_app(sample_settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["searchsvc"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def tmp_settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "index")


def searchsvc_command(*args, tuned: dict | None = None, prelude: str = "") -> list[str]:
    """``python -m searchsvc ARGS``; with ``tuned``, indexer thresholds set first (e.g. ``{"POOL_FROM": 1}``),
    so a small corpus takes the path a large one would; ``prelude``: Python run before the command (a test's
    instrument, e.g. the process stopping itself at a chosen moment)."""
    if not tuned and not prelude:
        return [sys.executable, "-m", "searchsvc", *map(str, args)]
    settings = "; ".join(f"indexer.{name} = {value!r}" for name, value in (tuned or {}).items())
    program = (f"{prelude}\nfrom searchsvc import indexer; {settings or 'pass'}\n"
               "from searchsvc.cli import cli; cli(prog_name='searchsvc')")
    return [sys.executable, "-c", program, *map(str, args)]


def run_cli(*args, env: dict | None = None, input: str | None = None, timeout: float = HANG_GUARD,
            cwd: Path | None = None, tuned: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m searchsvc ARGS`` in a subprocess, as a person would run it (``tuned``: see ``searchsvc_command``)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    full_env.update(env or {})
    return subprocess.run(
        searchsvc_command(*args, tuned=tuned),
        capture_output=True, text=True, env=full_env, input=input, timeout=timeout, cwd=cwd,
    )


def processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command name: state, ppid, pgrp, ...) of every process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        yield int(stat.parent.name), fields


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_responds(url: str, timeout: float = HANG_GUARD, proc: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers (any status), ``proc`` (the server) exits, or ``timeout`` seconds (a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except urllib.error.HTTPError:
            return  # it answered (e.g. 503 while there is no index)
        except OSError:  # not listening yet
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


class LiveServer:
    """``searchsvc serve`` on a free loopback port; its stderr (the access log) goes to a file, ``log()``."""

    def __init__(self, index: Path, *extra, env: dict | None = None, pass_fds: tuple[int, ...] = ()):
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}, **(env or {})}
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searchsvc", "serve", "--index", str(index), "--port", str(self.port), *extra],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env, pass_fds=pass_fds,
        )
        try:
            wait_until_responds(self.url + "/api/health", proc=self.proc)
        except (TimeoutError, RuntimeError):
            self.stop()
            raise

    def get(self, path: str, timeout: float = HANG_GUARD):
        """(status, headers, body bytes) of a GET, errors included."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str):
        status, _, body = self.get(path)
        return status, json.loads(body)

    def log(self) -> str:
        """What the server wrote on stderr so far."""
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="session")
def live_server(sample_settings):
    """``searchsvc serve`` on a free loopback port, over the sample index."""
    server = LiveServer(sample_settings.index)
    yield server
    server.stop()
