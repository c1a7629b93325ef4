"""The real servers on loopback: `searchsvc serve` (waitress) and `gunicorn wsgi:app`."""
from __future__ import annotations

import contextlib
import http.client
import os
import socket
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import HANG_GUARD, REPO, LiveServer, free_port, page, processes, run_cli, wait_until_responds, write


def test_serve_answers_page_and_api(live_server):
    status, headers, body = live_server.get("/search?q=strike")
    assert status == 200 and b"<mark>" in body
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    status, data = live_server.json("/api/search?q=strike")
    assert status == 200 and data["total"] >= 1
    status, data = live_server.json("/api/search?page=-1")
    assert status == 400 and data["error"]["code"] == "bad_page"
    assert live_server.get("/")[2].count(b'name="q"') == 1


def test_running_server_picks_up_new_and_updated_index(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    write(src / "a.html", page("Gull colony counted", "Volunteers counted the gull colony."))
    assert run_cli("reindex", src, "--index", ix).returncode == 0
    server = LiveServer(ix)
    try:
        assert server.json("/api/search?q=gull")[1]["total"] == 1
        write(src / "b.html", page("Gull chicks hatch", "The first gull chicks hatched."))
        (src / "a.html").unlink()
        assert run_cli("reindex", "--index", ix).returncode == 0       # incremental
        data = server.json("/api/search?q=gull")[1]
        assert [h["id"] for h in data["hits"]] == ["b.html"]
        write(src / "c.html", page("Gull ban", "Feeding gulls on the promenade is banned from Monday, the council said."))
        assert run_cli("reindex", "--full", "--index", ix).returncode == 0  # swapped generation
        assert server.json("/api/search?q=gull")[1]["total"] == 2
    finally:
        server.stop()


def test_serve_without_index_answers_503_then_serves_once_built(tmp_path):
    server = LiveServer(tmp_path / "ix")
    try:
        status, data = server.json("/api/health")
        assert status == 503 and data["status"] == "unavailable"
        write(tmp_path / "src/a.html", page("Harbour lights", "New harbour lights were installed."))
        assert run_cli("reindex", tmp_path / "src", "--index", tmp_path / "ix").returncode == 0
        assert server.json("/api/health") == (200, {"status": "ok", "documents": 1})
    finally:
        server.stop()


def test_gunicorn_serves_wsgi_app(sample_settings):
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable))
    assert gunicorn, "gunicorn is in the test extra"
    port = free_port()
    env = {**os.environ, "SEARCHSVC_INDEX": str(sample_settings.index)}
    proc = subprocess.Popen([gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_responds(f"http://127.0.0.1:{port}/api/health", proc=proc)
        import json
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=HANG_GUARD) as r:
            assert json.loads(r.read())["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def server_processes(parent: int, expected: int, timeout: float = HANG_GUARD) -> list[int]:
    """The pids of ``searchsvc serve``'s worker processes (children of ``parent``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [pid for pid, fields in processes() if int(fields[1]) == parent]
        if len(found) == expected or time.monotonic() > deadline:
            return sorted(found)
        time.sleep(0.1)


def wait_until_serving(pids: list[int]) -> None:
    """Until each process waits in its server's loop (its main thread blocked in select/poll, having counted its
    connections): a process still warming its index accepts nothing yet, so its share would go to the others."""
    def serving(pid: int) -> bool:
        try:
            waiting_in = Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            return False
        return "poll" in waiting_in or "select" in waiting_in

    deadline = time.monotonic() + HANG_GUARD
    while not all(serving(pid) for pid in pids):
        assert time.monotonic() < deadline, "a server process never started serving"
        time.sleep(0.05)


def connections_held(pids: list[int], port: int) -> list[int]:
    """How many established TCP connections on ``port`` each process holds (from /proc)."""
    ours = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                ours.add(f"socket:[{parts[9]}]")
    held = []
    for pid in pids:
        links = []
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                links.append(os.readlink(fd))
            except OSError:
                pass
        held.append(sum(link in ours for link in links))
    return held


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_server_holding_over_a_thousand_files_keeps_answering(sample_settings, processes):
    """A large index holds files per segment and per thread (2M articles: over a thousand): with descriptors
    past 1,024, select() failed and every server process died, resetting its connections. The server is
    handed 1,100 open files, so its own sockets come after them."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    every_low = tuple(fd for fd in map(int, os.listdir("/proc/self/fd")) if 2 < fd <= max(held))  # no gap below
    try:
        server = LiveServer(sample_settings.index, "--processes", processes, pass_fds=every_low)
    finally:
        for fd in held:
            os.close(fd)
    try:
        for _ in range(3):
            status, body = server.json("/api/search?q=harbor")
            assert status == 200 and body["total"] > 0
        assert "stopped" not in server.log()
    finally:
        server.stop()


def test_processes_share_keep_alive_connections_evenly(sample_settings):
    """Keep-alive clients stay with the process that accepted them: eight must not land seven on one."""
    server = LiveServer(sample_settings.index, "--processes", "2", "--threads", "4")
    clients = []
    try:
        pids = server_processes(server.proc.pid, 2)
        assert len(pids) == 2
        wait_until_serving(pids)
        for expected in ([4, 4], [8, 8]):
            for _ in range(8):
                client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD)
                client.request("GET", "/api/health")
                response = client.getresponse()
                response.read()
                assert response.status == 200
                clients.append(client)
            assert connections_held(pids, server.port) == expected
    finally:
        for client in clients:
            client.close()
        server.stop()


@pytest.mark.parametrize("processes, flags", [
    ("2", ()),                    # one per core or fewer (on two cores or more): a core each
    ("2", ("--no-pin-cores",)),   # left to the system
    (str(len(os.sched_getaffinity(0)) + 1), ()),  # more processes than cores: left to the system
])
def test_server_processes_keep_to_a_core_each_when_there_are_cores_enough(sample_settings, processes, flags):
    allowed = os.sched_getaffinity(0)
    server = LiveServer(sample_settings.index, "--processes", processes, "--threads", "2", *flags)
    try:
        pids = server_processes(server.proc.pid, int(processes))
        assert len(pids) == int(processes)
        wait_until_serving(pids)
        cores = [os.sched_getaffinity(pid) for pid in pids]
        if not flags and int(processes) <= len(allowed):
            assert all(len(c) == 1 for c in cores) and len(set().union(*cores)) == len(pids)
            assert set().union(*cores) <= allowed
        else:
            assert cores == [allowed] * len(pids)
        status, body = server.json("/api/search?q=harbor")
        assert status == 200 and body["total"] > 0
    finally:
        server.stop()


# --- waitress's connections as serve makes them ----------------------------------------------

MIB = 1024 * 1024


class BlockingApp:
    """A WSGI app that writes ``first`` bytes, says so, and waits for ``release`` before its last bytes."""

    def __init__(self, first: int):
        self.first = first
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(self.first + 4))])
        yield b"x" * self.first
        self.reached.set()
        self.release.wait(HANG_GUARD)
        yield b"done"


@contextlib.contextmanager
def served(app):
    """``app`` behind waitress with serve's connections (``cli._with_our_channels``), in this process."""
    import waitress

    from searchsvc.cli import _with_our_channels

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, asyncore_use_poll=True)
    _with_our_channels(server)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(HANG_GUARD)


def slow_client(port: int) -> socket.socket:
    """A connection that asks for / and reads nothing yet, with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(HANG_GUARD)
    sock.connect(("127.0.0.1", int(port)))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return sock


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"done"):
        chunk = sock.recv(MIB)
        assert chunk, "the server closed the connection before the whole response"
        data += chunk
    return data


def test_while_a_request_runs_the_loop_leaves_its_output_to_the_task():
    """Output the client cannot take yet, while its task still runs: waitress's loop counted the connection as
    writable, found the output locked by the task and polled again at once (150 turns a request with four
    clients, holding the interpreter's lock meanwhile). The task sends its own writes; the loop sends the rest
    once it ends."""
    app = BlockingApp(12 * MIB)  # more than the two sockets' buffers, under waitress's 16 MiB high watermark
    with served(app) as server:
        sock = slow_client(server.effective_port)
        try:
            assert app.reached.wait(HANG_GUARD)
            (channel,) = [c for c in list(server._map.values()) if hasattr(c, "requests")]
            assert channel.requests and 0 < channel.total_outbufs_len <= channel.adj.outbuf_high_watermark
            assert not channel.writable()
            app.release.set()
            body = read_response(sock)
        finally:
            sock.close()
    assert body.endswith(b"x" * 1000 + b"done") and body.count(b"x") == 12 * MIB


def test_output_past_the_high_watermark_is_sent_by_the_loop_while_the_task_waits():
    """Past waitress's high watermark the task waits until the loop has sent enough: the loop must still send."""
    app = BlockingApp(40 * MIB)
    app.release.set()
    with served(app) as server:
        sock = slow_client(server.effective_port)
        try:
            body = read_response(sock)
        finally:
            sock.close()
    assert body.count(b"x") == 40 * MIB


# --- cursors across processes and replicas ---------------------------------------------------

def cursor_pages(start: LiveServer, then: LiveServer, query: str = "/api/search?q=&per_page=2") -> list[str]:
    """Every id, the first page from ``start`` and every following page from ``then``."""
    status, data = start.json(query)
    ids = [h["id"] for h in data["hits"]]
    while data["next"]:
        status, data = then.json("/api/search?after=" + data["next"])
        assert status == 200, data
        ids += [h["id"] for h in data["hits"]]
    return ids


def test_servers_on_one_index_home_accept_each_others_cursors(sample_settings, live_server):
    other = LiveServer(sample_settings.index)
    try:
        everything = [h["id"] for h in live_server.json("/api/search?q=&per_page=100")[1]["hits"]]
        assert cursor_pages(live_server, other) == everything
        assert cursor_pages(other, live_server) == everything
    finally:
        other.stop()
    key = sample_settings.index / "cursor.key"
    assert key.stat().st_mode & 0o777 == 0o600  # a secret: readable by the service's user only


def test_a_cursor_from_the_command_line_continues_on_the_server(sample_settings, live_server):
    out = run_cli("search", "", "--json", "--limit", "2", "--index", sample_settings.index)
    first = __import__("json").loads(out.stdout)
    status, data = live_server.json("/api/search?after=" + first["next"])
    assert status == 200 and data["hits"] and data["hits"][0]["id"] not in {h["id"] for h in first["hits"]}


def test_a_published_replica_accepts_the_primarys_cursors(tmp_path, sample_dir):
    """``searchsvc publish`` carries the index home's cursor key with the index: no setting needed."""
    primary, replica = tmp_path / "primary", tmp_path / "replica"
    assert run_cli("reindex", sample_dir, "--index", primary).returncode == 0
    assert run_cli("publish", replica, "--index", primary).returncode == 0
    assert (replica / "cursor.key").read_bytes() == (primary / "cursor.key").read_bytes()
    assert (replica / "cursor.key").stat().st_mode & 0o777 == 0o600
    a, b = LiveServer(primary), LiveServer(replica)
    try:
        assert cursor_pages(a, b) == cursor_pages(b, a) == cursor_pages(a, a)
    finally:
        a.stop()
        b.stop()


def test_replicas_share_cursors_through_the_key_setting_and_only_through_it(tmp_path, sample_dir):
    homes = [tmp_path / "a", tmp_path / "b"]
    for home in homes:
        assert run_cli("reindex", sample_dir, "--index", home).returncode == 0
    assert (homes[0] / "cursor.key").read_text() != (homes[1] / "cursor.key").read_text()  # each made its own
    shared = {"SEARCHSVC_CURSOR_KEY": "a secret the replicas share"}
    a, b = LiveServer(homes[0], env=shared), LiveServer(homes[1], env=shared)
    try:
        assert cursor_pages(a, b) == cursor_pages(a, a)  # the setting's key, not the folders'
    finally:
        b.stop()
    b = LiveServer(homes[1])  # its own key (made in its home): another replica's cursor is refused
    try:
        first = a.json("/api/search?q=&per_page=2")[1]
        status, data = b.json("/api/search?after=" + first["next"])
        assert status == 400 and data["error"]["code"] == "bad_after"
    finally:
        a.stop()
        b.stop()


def test_serve_without_flags_uses_one_process_per_core(sample_settings):
    """A newcomer's server is the fast one: with no flags, one waitress process per core."""
    cores = len(os.sched_getaffinity(0))
    server = LiveServer(sample_settings.index)
    try:
        expected = cores if cores > 1 else 0  # one core: a single process, nothing forked
        assert len(server_processes(server.proc.pid, expected)) == expected
        assert server.json("/api/search?q=strike")[1]["total"] >= 1
    finally:
        server.stop()
    help_text = run_cli("serve", "--help").stdout
    assert "one per core" in help_text


def test_serve_on_a_busy_port_fails_in_one_line_before_saying_serving(sample_settings):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for extra in ([], ["--processes", "2"]):
            out = run_cli("serve", "--port", port, "--index", sample_settings.index, *extra)
            assert out.returncode == 1 and out.stdout == ""
            assert out.stderr.splitlines() == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_serve_refuses_a_port_out_of_range(sample_settings):
    out = run_cli("serve", "--index", sample_settings.index, env={"SEARCHSVC_PORT": "99999"})
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == ["Error: SEARCHSVC_PORT must be between 0 and 65535, not 99999"]


def test_serve_logs_each_request_unless_quiet(sample_settings):
    import re

    loud = LiveServer(sample_settings.index)
    quiet = LiveServer(sample_settings.index, "--quiet")
    try:
        for server in (loud, quiet):
            assert server.get("/search?q=ferry")[0] == 200
            assert server.get("/api/search?page=0")[0] == 400
        deadline = time.monotonic() + 30
        while loud.log().count(" ms\n") < 3 and time.monotonic() < deadline:  # written as each answer is sent
            time.sleep(0.05)
        lines = [line for line in loud.log().splitlines() if not line.startswith(("Serving", "warning"))]
        line = r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ 127\.0\.0\.1 GET %s %d \d+\.\d ms"
        assert any(re.fullmatch(line % (re.escape("/search?q=ferry"), 200), x) for x in lines), lines
        assert any(re.fullmatch(line % (re.escape("/api/search?page=0"), 400), x) for x in lines), lines
        assert [x for x in quiet.log().splitlines() if not x.startswith("Serving")] == []
    finally:
        loud.stop()
        quiet.stop()
