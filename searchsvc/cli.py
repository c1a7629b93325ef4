"""The command-line door: ``searchsvc reindex | search | serve | stats | export | publish``.

Each command builds one ``Settings`` (flags over ``SEARCHSVC_*`` variables),
calls one core function, prints, and turns core errors into a one-line
message and exit status 1.
"""
from __future__ import annotations

import functools
import gc
import json
import sys
from pathlib import Path

import click

from searchsvc.config import Settings
from searchsvc.errors import SearchsvcError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def index_option(f):
    return click.option(
        "--index", "index", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Index home folder [default: $SEARCHSVC_INDEX or ./index].",
    )(f)


def core_errors(f):
    """Core errors become ``Error: <message>`` and exit 1, never a traceback; a closed output pipe ends quietly."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            result = f(*args, **kwargs)
            sys.stdout.flush()  # here, not at exit: a closed pipe is then ours to handle
            return result
        except BrokenPipeError:
            _quiet_exit()
        except SearchsvcError as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:  # bad SEARCHSVC_* values
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: still one line, never a traceback
            raise click.ClickException(f"unexpected {type(exc).__name__}: {exc}") from None
    return wrapper


def _quiet_exit() -> None:
    """The reader of our output went away (``searchsvc search … | head``): stop, status 0, nothing on stderr.

    stdout goes to /dev/null first, so that flushing it at exit does not fail again.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def make_settings(**overrides) -> Settings:
    return Settings.from_env(**overrides)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="searchsvc")
def cli():
    """Full-text search for news articles."""


@cli.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--full", is_flag=True, help="Build a new index beside the live one and swap it in.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes that clean files [default: one per core].")
@click.option("--source", "source_name", default=None, metavar="NAME",
              help="The publication SOURCES hold: the source of every page that names none (remembered; \"\" forgets it).")
@click.option("--watch", is_flag=True,
              help="Stay running: catch up, then commit new, changed and deleted files as they happen.")
@index_option
@core_errors
def reindex(sources, full, workers, source_name, watch, index):
    """Index article files (HTML, .txt, JSON Lines) from SOURCES (files or folders).

    With no SOURCES: the sources this index was last built from, or else the
    bundled sample corpus. Unchanged files are skipped; changed ones updated;
    files gone from a re-scanned source removed. --full rebuilds everything,
    the index's other sources too (`searchsvc sources --remove` drops one).
    With --watch it stays running and commits each change within a second
    (Ctrl-C or SIGTERM stops it; its next start catches up with what changed
    meanwhile).

    Example: searchsvc reindex articles/ --source "Riverside Times" --index /srv/ix
    """
    from searchsvc.indexer import reindex as run_reindex

    settings = make_settings(index=index, workers=workers)
    if watch:
        if full:
            raise click.UsageError("--watch catches up incrementally; run `reindex --full` on its own first")
        _watch(settings, sources, source_name)
        return
    report = run_reindex(settings, sources or None, full=full, progress=_progress_bar, source_name=source_name)
    if report.problems:
        click.echo("\n".join(map(str, report.problems)), err=True)  # one write: thousands are named again each run
    click.echo(report.summary())
    gc.freeze()  # the process ends here: its teardown need not collect every module's objects (25 ms of 0.5 s)


def _watch(settings: Settings, sources, source_name: str | None) -> None:
    """``reindex --watch`` until Ctrl-C or SIGTERM: one line per commit on stdout, problems on stderr."""
    import signal
    import threading

    from searchsvc.watch import watch

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    watch(settings, sources or None, say=lambda line: click.echo(line),
          warn=lambda line: click.echo(line, err=True), stop=stop, source_name=source_name)


def _progress_bar(total: int):
    """A bar on a terminal; None elsewhere (and tqdm is not even imported: a small reindex is mostly start-up).

    It names its phase (cleaning, writing, committing, done) and stays on the screen at 100 % when done.
    """
    if not sys.stderr.isatty() or total < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="cleaning", file=sys.stderr, leave=True, dynamic_ncols=True)


@cli.command()
@click.option("--remove", "remove", default=None, metavar="SOURCE",
              help="Take this source out of the index (its articles; the files stay where they are).")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@index_option
@core_errors
def sources(remove, as_json, index):
    """List the index's sources (the folders and files given to reindex) with their files and articles.

    Example: searchsvc sources --remove ~/archive/old-site --index /srv/ix
    """
    from searchsvc.indexer import remove_source, source_folders

    settings = make_settings(index=index)
    if remove is not None:
        report = remove_source(settings, remove)
        click.echo(f"removed {remove}: {report.removed} documents; {report.documents} documents left "
                   f"in {report.seconds:.2f}s")
        return
    folders = source_folders(settings)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in folders], ensure_ascii=False))
        return
    if not folders:
        click.echo("no sources")
    for f in folders:
        name = f" ({f.name})" if f.name else ""
        skipped = f", {f.skipped} skipped" if f.skipped else ""
        click.echo(f"{f.path}{name}: {f.files} file{'s' if f.files != 1 else ''}, "
                   f"{f.documents} document{'s' if f.documents != 1 else ''}{skipped}")


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--limit", type=click.IntRange(1, None), default=None,
              help="Results per page [default: 10; 1000 per query with --batch].")
@click.option("--page", type=click.IntRange(1, None), default=1, show_default=True, help="Page, from 1.")
@click.option("--sort", type=click.Choice(["relevance", "date", "recent"]), default="relevance", show_default=True,
              help="relevance; date (newest first); recent (relevance blended with age).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--from", "date_from", default=None, help="Published on or after (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Published on or before (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly the API's JSON response.")
@click.option("--all", "every", is_flag=True, help="Stream every hit as JSON Lines (follows the cursor to the end).")
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="Show each group of near-duplicate articles once.")
@click.option("--explain", is_flag=True, help="Say which query words matched where, under each hit (or in the JSON).")
@click.option("--batch", type=click.File("r", encoding="utf-8"), default=None,
              help="Run every 'qid<TAB>text' line of this file ('-' for stdin).")
@click.option("--format", "fmt", type=click.Choice(["trec", "json"]), default="trec", show_default=True,
              help="Output of --batch: a TREC run or JSON Lines.")
@index_option
@core_errors
def search(query, limit, page, sort, sources, date_from, date_to, as_json, every, collapse, explain, batch, fmt,
           index):
    """Search the index and print the results.

    Example: searchsvc search "port strike" --sort date --limit 5
    """
    from searchsvc.search import SearchIndex, request_from_params, search as run_search

    settings = make_settings(index=index)
    settings = settings.replace(max_per_page=max(settings.max_per_page, limit or 0))  # --limit is the operator's
    ix = SearchIndex(settings)
    if batch is not None:
        _run_batch(ix, batch, limit or 1000, fmt)
        return
    params = {"q": [query], "page": [str(page)], "sort": [sort], "source": list(sources),
              "collapse": [str(collapse)], "explain": [str(explain)]}
    params["per_page"] = [str(limit or settings.per_page)]
    if date_from:
        params["from"] = [date_from]
    if date_to:
        params["to"] = [date_to]
    req = request_from_params(params, settings)
    if every:
        _stream_all(ix, req)
        return
    result = run_search(ix, req)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    _print_results(result, explain)


def _stream_all(ix, req) -> None:
    """Every hit, one JSON object a line, page after page through the cursor."""
    from dataclasses import replace

    from searchsvc.search import search as run_search

    req = replace(req, per_page=max(req.per_page, 100), page=1)
    while True:
        result = run_search(ix, req)
        for hit in result.hits:
            sys.stdout.write(json.dumps(hit.to_dict(), ensure_ascii=False) + "\n")
        if not result.next:
            return
        req = replace(req, after=result.next)


def _run_batch(ix, lines, limit: int, fmt: str) -> None:
    from searchsvc.search import SearchRequest, search as run_search

    out = sys.stdout
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        qid, sep, text = line.partition("\t")
        if not sep:
            raise click.ClickException(f"line {lineno} of the batch file is not 'qid<TAB>text'")
        req = SearchRequest(q=text, per_page=limit, with_snippets=False, with_facets=False)
        result = run_search(ix, req)
        if fmt == "json":
            out.write(json.dumps({"qid": qid, **result.to_dict()}, ensure_ascii=False) + "\n")
            continue
        for rank, hit in enumerate(result.hits, 1):
            out.write(f"{qid} Q0 {hit.id} {rank} {hit.score:.4f} searchsvc\n")


def _print_results(result, explain: bool = False) -> None:
    import re
    import html as htmlmod

    def plain(snippet: str) -> str:
        bold = click.style("\\1", bold=True) if sys.stdout.isatty() else "\\1"
        return htmlmod.unescape(re.sub(r"<mark>(.*?)</mark>", bold, snippet))

    click.echo(_summary_line(result))
    if result.suggestion and result.corrected:
        click.echo(f"Nothing matched {result.query!r}; showing results for {result.suggestion!r}")
    else:
        if result.relaxed:
            click.echo(f"Nothing matched {result.query!r} as written; showing articles with its words.")
        if result.suggestion:
            click.echo(f"Did you mean: {result.suggestion}")
    if result.tiers_note():
        click.echo(result.tiers_note())
    for n, hit in enumerate(result.hits, result.offset + 1):
        meta = " · ".join(x for x in (hit.source, (hit.published or "")[:10], hit.author) if x)
        click.echo("")
        click.echo(f"{n}. {click.style(hit.title, bold=True) if sys.stdout.isatty() else hit.title}")
        click.echo(f"   {hit.id}" + (f"  [{meta}]" if meta else ""))
        if hit.snippet:
            click.echo(f"   {plain(hit.snippet)}")
        if explain and hit.explain is not None:
            click.echo(f"   why: {_why(hit.explain)}")


def _summary_line(result) -> str:
    """Where this page is and what is counted, as on the page: "11–20 of 35 stories (38 articles)"."""
    stories = result.total != result.articles
    counted = f"{result.total:,} {result.counted_noun()}" + (f" ({result.articles:,} articles)" if stories else "")
    shown = f"{result.offset + 1:,}–{result.offset + len(result.hits):,} of " if result.hits else ""
    return f"{shown}{counted} (page {result.page} of {max(result.pages, 1)}, {result.took_ms:.0f} ms)"


def _why(explain: dict) -> str:
    """Which words matched where, in a line: ``strike in title, body (another form)``."""
    by_word: dict[str, list[str]] = {}
    for m in explain.get("matched", []):
        how = {"stem": " (another form)", "correction": " (corrected)"}.get(m["via"], "")
        by_word.setdefault(m["term"], []).append(m["field"] + how)
    return "; ".join(f"{word} in {', '.join(places)}" for word, places in by_word.items()) or "no query word in the text"


@cli.command()
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: 8000].")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Server threads [default: 8].")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Server processes sharing the port, each with --threads threads [default: one per core]. "
                   "Python runs one thread at a time per process: more processes use more cores.")
@click.option("--pin-cores/--no-pin-cores", default=None,
              help="Each server process keeps to a core of its own, when there are no more processes than cores "
                   "[default: on].")
@click.option("--quiet", is_flag=True, help="No access log (one line per request on stderr, on by default).")
@index_option
@core_errors
def serve(host, port, threads, processes, pin_cores, quiet, index):
    """Serve the search page and the JSON API with a production WSGI server (waitress).

    By default one process per core, each with its own searchers and cache
    (memory grows with the processes: see the README's Operations).

    Example: searchsvc serve --port 8080
    """
    import waitress

    from searchsvc.store import IndexHome
    from searchsvc.web import create_app

    settings = make_settings(index=index, host=host, port=port, threads=threads, processes=processes,
                             pin_cores=pin_cores, access_log=False if quiet else None)
    home = IndexHome(settings.index)
    if home.live_dir() is None:
        click.echo(f"warning: no index at {settings.index} yet; run `searchsvc reindex` "
                   "(the server answers 503 until then)", err=True)
    else:
        home.open_index()  # a damaged index: a clear error now, not on the first request
    if settings.processes > 1:
        _serve_in_processes(settings, create_app)
        return
    app = create_app(settings)
    try:  # the port first: a busy or bad one is an error before anything says "Serving"
        server = waitress.create_server(_logged(app, settings), host=settings.host, port=settings.port,
                                        threads=settings.threads, ident="searchsvc", asyncore_use_poll=True)
    except (OSError, OverflowError, ValueError) as exc:
        raise click.ClickException(_cannot_listen(settings, exc)) from None
    _with_our_channels(server)
    _warmed(app)
    port = getattr(server, "effective_port", settings.port)
    click.echo(f"Serving {settings.index} on http://{settings.host}:{port}", err=True)
    server.run()


def _cannot_listen(settings: Settings, exc: Exception) -> str:
    import os

    errno = getattr(exc, "errno", None)
    return f"cannot listen on {settings.host}:{settings.port}: {os.strerror(errno) if errno else exc}"


def _logged(app, settings: Settings):
    """``app`` with the access log on stderr, unless turned off (``--quiet``)."""
    from searchsvc.web import with_access_log

    return with_access_log(app) if settings.access_log else app


def _with_our_channels(server) -> None:
    """``server``'s connections made by ``_channel_class``: see there."""
    channel = _channel_class()
    servers = [server] if hasattr(server, "channel_class") else list(server.map.values())  # one per address
    for each in servers:
        if hasattr(each, "channel_class"):
            each.channel_class = channel


def _channel_class():
    """Waitress's connection, with two changes.

    - Responses waitress writes itself (its 400s for requests it cannot
      parse, 431s, a 500 when the app fails) carry the app's security
      headers too.
    - While a request's task runs, the server's loop does not wait to send
      its output. The task's thread sends what it writes as it writes it
      (waitress's ``send_bytes`` is 1) and wakes the loop when it ends, for
      whatever the client could not take yet. Waitress's own loop counted
      the connection as writable as soon as output was pending and, finding
      it locked by the task, polled again at once: with four clients, 150
      turns of the loop a request, holding the interpreter's lock while the
      task waited for it (bench/serve_compare.py's unseen-query throughput).
      Past the high watermark the task waits for the loop, which then sends
      as before.
    """
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    from searchsvc.web import SECURITY_HEADERS

    class SecureErrorTask(ErrorTask):
        def execute(self):
            self.response_headers.extend(SECURITY_HEADERS.items())
            super().execute()

    class Channel(HTTPChannel):
        error_task_class = SecureErrorTask

        def writable(self):
            if (self.requests and not (self.will_close or self.close_when_flushed)
                    and self.total_outbufs_len <= self.adj.outbuf_high_watermark):
                return False
            return super().writable()

    return Channel


def _warmed(app):
    """``app`` after its index has loaded the frequent words' postings (``Settings.warm_postings``), and the
    highlighter its lemma dictionary."""
    from searchsvc.highlight import lemmas

    app.extensions["searchsvc"].warm()
    lemmas("searches")
    return app


def _serve_in_processes(settings: Settings, create_app) -> None:
    """``settings.processes`` waitress servers accepting from one socket, bound here before forking.

    Python runs one thread at a time per process, so a search server uses
    more than one core only with more processes. Each builds its own app
    (its own searchers and result cache). A process that dies is replaced;
    SIGTERM or Ctrl-C stops them all. Connections are shared out evenly
    (``_accepting_evenly``).
    """
    import os
    import signal
    import socket
    import time
    from multiprocessing.sharedctypes import RawArray

    import waitress

    try:
        family, _, _, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.create_server(address, family=family, backlog=1024)
    except (OSError, OverflowError) as exc:
        raise click.ClickException(_cannot_listen(settings, exc)) from None
    port = sock.getsockname()[1]
    click.echo(f"Serving {settings.index} on http://{settings.host}:{port} "
               f"({settings.processes} processes × {settings.threads} threads)", err=True)

    cores = _cores_to_pin(settings)
    # each process's open connections and when it last counted them, in memory the processes share
    connections, counted = RawArray("i", settings.processes), RawArray("d", settings.processes)

    def child(slot: int) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        status = 0
        try:
            if cores is not None:
                os.sched_setaffinity(0, {cores[slot]})
            app = create_app(settings)
            server = waitress.create_server(_logged(app, settings), sockets=[sock], threads=settings.threads,
                                            ident="searchsvc", asyncore_use_poll=True)
            _with_our_channels(server)
            # warmed after its threads started, as one process is: a request taken before they first wait
            # counted as queued ("Task queue depth is 1" on stderr, once a process per core is the default)
            _warmed(app)
            server.readable = _accepting_evenly(server, slot, connections, counted)
            server.run()
        except BaseException as exc:
            status = 1
            if not isinstance(exc, KeyboardInterrupt):  # a process that dies says why (the parent starts another)
                import traceback

                click.echo(f"server process {os.getpid()} stopped:\n{traceback.format_exc()}", err=True)
        finally:
            os._exit(status)

    children: dict[int, tuple[float, int]] = {}

    def spawn(slot: int) -> None:
        connections[slot], counted[slot] = 0, 0.0
        pid = os.fork()
        if pid == 0:
            child(slot)
        children[pid] = (time.monotonic(), slot)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from searchsvc.highlight import lemmas

    lemmas("searches")  # the lemma dictionary loaded once, before forking: the processes share its pages
    failed = False
    for slot in range(settings.processes):
        spawn(slot)
    while children:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        started, slot = children.pop(pid, (None, None))
        if started is None or stopping:
            continue
        if time.monotonic() - started < 2.0:  # dying at start: replacing it would only loop
            failed = True
            stop(signal.SIGTERM, None)
        else:
            spawn(slot)
    sock.close()
    if failed:
        raise click.ClickException("a server process stopped right after starting")


def _cores_to_pin(settings: Settings) -> list[int] | None:
    """The core each server process keeps to (by slot), or None: the system places them.

    A process that stays on one core finds a request's data (the Python
    objects of its searchers, the index pages it touched) still in that
    core's caches, and its waitress threads hand requests over on the same
    core: at 21k articles a fresh query's answer took 0.2-0.46 ms less of
    2.8 ms in three rounds of four (bench/serve_compare.py). Only with no
    more processes than cores: more would share cores the system could
    otherwise balance.
    """
    import os

    if not settings.pin_cores or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except OSError:
        return None
    return allowed[:settings.processes] if settings.processes <= len(allowed) else None


def _accepting_evenly(server, slot: int, connections, counted, stale: float = 2.0):
    """The listening socket's ``readable`` for process ``slot``: accept only while no live process holds fewer
    connections.

    Keep-alive connections stay with the process that accepted them, and
    every idle process races for each new one: eight clients could land
    seven on one process and one on the other (measured), leaving a core
    idle. Each process counts its own connections each time round its
    loop (at least once a second); a count older than ``stale`` seconds is
    a process that is not answering, and is left out.
    """
    import time

    readable = server.readable

    def balanced() -> bool:
        now = time.monotonic()  # the system's clock: the same in every process
        connections[slot], counted[slot] = len(server._map), now
        if not readable():  # waitress's own: upkeep and the connection limit
            return False
        live = [n for n, at in zip(connections, counted) if now - at < stale]
        return connections[slot] <= min(live)

    return balanced


@cli.command()
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@index_option
@core_errors
def export(out, index):
    """Write every article as it was cleaned to OUT, in the JSON Lines form `reindex` reads ('-': stdout).

    Fields: id, title, text, url, published, author, source, topics and group
    (the near-duplicate group). `searchsvc reindex OUT` builds the same index
    again; any other search engine can be fed the same file.

    Example: searchsvc export articles.jsonl --index /srv/ix
    """
    from searchsvc.export import export as run_export

    report = run_export(make_settings(index=index), out)
    click.echo(report.summary(), err=True)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@index_option
@core_errors
def publish(dest, index):
    """Copy the live index into the index home DEST (a replica) and switch DEST to it atomically.

    Only files DEST lacks are transferred; servers on DEST keep answering
    from what they have until the switch. A publish killed at any moment
    leaves DEST serving what it served before.

    Example: searchsvc publish /mnt/replica1/index --index /srv/ix
    """
    from searchsvc.publish import publish as run_publish

    report = run_publish(make_settings(index=index), dest)
    click.echo(report.summary(dest))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@index_option
@core_errors
def stats(as_json, index):
    """Documents, sources, last reindex and size on disk.

    Example: searchsvc stats --json
    """
    from searchsvc.indexer import index_stats

    figures = index_stats(make_settings(index=index))
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    click.echo(f"index:        {figures['index']}")
    click.echo(f"documents:    {figures['documents']}")
    click.echo(f"files:        {figures['files']}")
    click.echo(f"sources:      {', '.join(figures['sources']) or '-'}")
    click.echo(f"source paths: {', '.join(figures['source_paths']) or '-'}")
    click.echo(f"last reindex: {figures['last_reindex'] or '-'}")
    click.echo(f"size on disk: {figures['size_bytes'] / 1024:.0f} KiB")
