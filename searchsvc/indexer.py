"""Reindexing: from source files to the live Whoosh index, incrementally or in full.

Incremental: a manifest of (size, mtime) per file, kept beside the index,
decides what to read before any parse, so an unchanged corpus costs a scan
of directory entries. Changed files are re-cleaned and updated, files gone
from a re-scanned source are removed. ``full`` builds a new generation beside
the live one and swaps it in atomically (see ``store``), each of the
``workers`` processes cleaning and writing a slice. Segments are written by
``segment.BulkSegmentWriter`` (Whoosh's file format, faster), always under
the index lock.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from whoosh import index as whoosh_index
from whoosh.index import LockError

from searchsvc import dedup, schema
from searchsvc.config import Settings
from searchsvc.errors import IndexBusy, SourceError
from searchsvc.sources import Document, Problem, SkipFile, SourceFile, read_documents, scan
from searchsvc.store import IndexHome, Manifest, MappedStorage

EPOCH = datetime(1970, 1, 1)
Progress = Callable[[int], object]  # called with the number of files to read; returns an object with update(n)


@dataclass
class ReindexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    full: bool = False
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)
    kept_sources: list[str] = field(default_factory=list)  # a full rebuild's other sources, rebuilt too

    def summary(self) -> str:
        kind = "full rebuild" if self.full else "reindex"
        kept = f" (the index's other sources rebuilt too: {', '.join(self.kept_sources)})" if self.kept_sources else ""
        return (
            f"{kind}: added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"skipped {self.skipped}, unchanged {self.unchanged}; {self.documents} documents "
            f"in {self.seconds:.2f}s{kept}"
        )


def bundled_sample() -> Path:
    """The sample corpus shipped inside the package (used when no source was ever given)."""
    return Path(__file__).with_name("sample")  # a folder on disk: the scan walks it


def reindex(
    settings: Settings,
    sources: Iterable[Path | str] | None = None,
    full: bool = False,
    progress: Progress | None = None,
    source_name: str | None = None,
    waiting: Callable[[str], object] | None = None,
) -> ReindexReport:
    """Bring the index at ``settings.index`` up to date with ``sources``.

    ``source_name`` names the publication of ``sources``: remembered with
    them, it is the source of every article whose page names none ("" forgets it).
    A full rebuild keeps the index's other sources (it reads them again too).
    ``waiting(message)``: called once if another reindex holds the lock (see ``IndexHome.reindex_lock``).
    """
    started = time.perf_counter()
    if source_name is not None and not sources:
        raise SourceError("--source names the folders given with it: searchsvc reindex DIR --source NAME")
    with _Bookkeeping() as bookkeeping:
        report = _reindex(settings, sources, full, progress, bookkeeping, source_name, waiting)
    report.skipped = len(report.problems)
    report.seconds = time.perf_counter() - started
    return report


def _reindex(settings, sources, full, progress, bookkeeping, source_name=None, waiting=None) -> ReindexReport:
    home = IndexHome(settings.index)
    home.ensure_writable()
    if not settings.cursor_key:
        home.cursor_key()  # made while the folder is writable: a server that may not write it reads it
    with home.reindex_lock(settings.writer_timeout, waiting, WATCH_NOTE if waiting else ""):
        home.remove_stale_generations()  # debris of a reindex killed before its swap
        live = home.live_dir()
        with _Cleaners(settings, update=live is not None and not full) as cleaners:
            old = Manifest.load(live)
            roots = resolve_sources(sources, old)
            kept = _kept_sources(old, roots) if full and sources else []
            names = _source_names(old, roots, source_name)
            problems: list[Problem] = []
            files = list(cleaners.scan(roots + kept, problems, old))
            bookkeeping.done()
            current = None if full or live is None else _open_current(live)
            report = _apply(home, live, settings, roots + kept, files, old, current, problems, progress, cleaners,
                            names)
            report.kept_sources = [str(k) for k in kept]
            return report


def _kept_sources(old: Manifest, roots: list[Path]) -> list[Path]:
    """The index's other sources, which a full rebuild of ``roots`` reads again rather than drops."""
    given = {str(r) for r in roots}
    kept = [Path(s) for s in old.sources if s not in given]
    missing = [str(k) for k in kept if not k.exists()]
    if missing:
        raise SourceError(f"source not found: {', '.join(missing)} (this index's own; "
                          f"`searchsvc sources --remove {missing[0]}` takes it out of the index)")
    return kept


def _source_names(old: Manifest, roots: list[Path], name: str | None) -> dict[str, str]:
    """Each source folder's publication name: the manifest's, with ``name`` given to ``roots``."""
    names = dict(old.names)
    if name is not None:
        for r in roots:
            if name.strip():
                names[str(r)] = name.strip()
            else:
                names.pop(str(r), None)
    return names


class _Bookkeeping:
    """No cyclic garbage collection while the manifest loads and the sources are scanned; what they made is frozen.

    Both make hundreds of thousands of objects (no cycles among them) that
    live until the reindex ends: every collection would walk them again
    (20 ms of a 0.5 s update of 100 files in 21,577). ``done()`` freezes
    them and collects as before; leaving unfreezes what is left (they
    themselves are freed by reference counting when the reindex returns).
    """

    def __enter__(self) -> "_Bookkeeping":
        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def done(self) -> None:
        gc.freeze()
        if self.enabled:
            gc.enable()

    def __exit__(self, *exc) -> None:
        gc.unfreeze()
        if self.enabled:
            gc.enable()


class _Cleaners:
    """The processes that clean an update's changed files.

    When the index holds ``EARLY_FROM`` files or more, one starts as soon
    as the scan meets the first changed file: it imports the HTML stack and
    cleans while this process finishes the scan, opens the index and
    writes (100 changed files in 21,577: 0.56 s -> 0.47 s end to end, the
    median of eight runs each). A smaller scan hides nothing, and then
    fewer files are cleaned here. An update of ``POOL_FROM`` files or more
    gets ``workers`` of them.
    """

    def __init__(self, settings: Settings, update: bool):
        self.workers = settings.workers
        self.update = update and settings.workers > 1
        self.pool = None
        self.size = 0

    def __enter__(self) -> "_Cleaners":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def scan(self, roots: list[Path], problems: list[Problem], old: Manifest) -> Iterator[SourceFile]:
        """``sources.scan``; the early cleaner starts at the first file the manifest does not describe."""
        files = scan(roots, problems)
        if self.update and len(old.files) + len(old.skipped) >= EARLY_FROM:
            for f in files:
                yield f
                if not (_same(old.files.get(f.path), f) or _same(old.skipped.get(f.path), f)):
                    self._start(1)
                    break
        yield from files

    def pool_for(self, changed: int):
        """The pool to clean ``changed`` files in, or None: in this process."""
        if changed >= POOL_FROM and self.workers > 1 and self.size < self.workers:
            self.stop()
            self._start(self.workers)
        return self.pool if changed else None

    def _start(self, n: int) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(n, _cleaner_ready)
        self.size = n

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool, self.size = None, 0


def _cleaner_ready() -> None:
    """A cleaner's start: collection back on (forked while the scan had it off), the HTML stack imported.

    (A pool worker closes its copy of the task pipe's writing end: when this
    process dies, even by SIGKILL, the worker reads EOF and exits.)
    """
    gc.enable()
    import searchsvc.clean  # noqa: F401


def _apply(home, live, settings, roots, files, old, current, problems, progress, cleaners, names) -> ReindexReport:
    renamed = {r for r in set(names) | set(old.names) if names.get(r) != old.names.get(r)}
    diff = _diff(files, old, renamed) if current is not None else None
    if diff is not None and _rebuild_instead(diff, old, roots):
        current[1].close()
        current = None
    report = ReindexReport(full=current is None, problems=problems)
    if current is None:
        cleaners.stop()  # a full build has workers of its own
        _build_generation(home, settings, roots, files, report, progress, names, old)
    else:
        ix, searcher = current
        with searcher:
            _update_generation(home, live, ix, searcher, old, settings, roots, files, diff, report, progress,
                               cleaners, names)
    return report


WATCH_NOTE = ", reindex --watch"  # after the pid in the lock file: what another reindex says it waits for


def resolve_sources(sources, manifest: Manifest) -> list[Path]:
    roots = [Path(s).expanduser().absolute() for s in (sources or ())]
    if not roots:
        roots = [Path(s) for s in manifest.sources] or [bundled_sample()]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise SourceError(f"source not found: {', '.join(missing)}")
    return roots


LARGE_UPDATE_FILES = 20_000  # changed files an update takes at most (its new postings stay in memory until commit)


def _rebuild_instead(diff: _Diff, old: Manifest, roots: list[Path]) -> bool:
    """Whether to rebuild in full rather than update: more than ``LARGE_UPDATE_FILES`` files changed.

    An update holds all its new postings in memory until it commits (about
    100 bytes each: 20,000 news pages, some 160 MB); a full build writes a
    segment per ``segment_postings()`` and uses every core. Only when every
    source the index was built from is scanned again: a full build reads
    only the sources it is given.
    """
    if not set(old.sources) <= {str(r) for r in roots}:
        return False
    return len(diff.changed) > LARGE_UPDATE_FILES


@dataclass
class _Diff:
    """The scanned files against the manifest."""

    changed: list[SourceFile] = field(default_factory=list)  # new, or a size or mtime the manifest does not hold
    unchanged: int = 0
    named_again: list[Problem] = field(default_factory=list)  # held no article last time, unchanged since


def _diff(files: list[SourceFile], old: Manifest, renamed: set[str] = frozenset()) -> _Diff:
    """``renamed``: source folders whose publication name changed (their files are read again)."""
    diff = _Diff()
    known, skipped = old.files, old.skipped
    for f in files:
        if f.root in renamed:
            diff.changed.append(f)
            continue
        if _same(known.get(f.path), f):
            diff.unchanged += 1
            continue
        skip = skipped.get(f.path)
        if _same(skip, f):
            diff.named_again.append(Problem(f.path, skip[2]))  # named again, not read again
        else:
            diff.changed.append(f)
    return diff


def _same(entry: list | None, f: SourceFile) -> bool:
    """Whether a manifest entry ([size, mtime_ns, ...]) describes ``f`` as it is now."""
    return bool(entry) and entry[0] == f.size and entry[1] == f.mtime_ns


def _open_current(gen: Path):
    """(index, searcher) of the live generation if it can be updated in place (every segment opens), else None."""
    try:
        ix = MappedStorage(str(gen)).open_index()
        if not schema.is_current(ix.schema):
            return None
        return ix, ix.searcher()
    except Exception:
        return None


def _build_generation(home, settings, roots, files, report, progress, names=None, old=None) -> None:
    """A new generation from ``files``: each worker cleans a contiguous run of them and writes its own segments.

    Cleaning and writing both cost CPU, so both run in the
    ``settings.workers`` processes (``_worker_claims`` says who cleans what).
    Duplicate ids and near-duplicate groups
    depend on every document before them, so the workers report each
    document's id and signature, this process decides in file order (batch
    after batch, worker after worker), and each worker writes the documents it
    is told to keep as the decisions arrive (``segment.BulkSegmentWriter``;
    a new segment past ``segment_postings()``). This process holds the index
    lock and commits the workers' segments in one table of contents.
    """
    gen = home.new_generation_dir()
    ix = whoosh_index.create_in(str(gen), schema.build_schema())
    manifest = Manifest(sources=[str(r) for r in roots], names=dict(names or {}))
    seen: set[str] = set()
    grouper = dedup.Grouper(at_once=True)
    bar = progress(len(files)) if progress else None

    def decide(part: list[tuple[SourceFile, list | None, list[Problem]]]) -> list[str | None]:
        """Each cleaned document's group, or None for a duplicate id (kept: the first, in file order)."""
        groups = []
        for f, docs, problems in part:
            report.problems.extend(problems)
            if docs is None:
                if problems:
                    manifest.skipped[f.path] = [f.size, f.mtime_ns, problems[0].reason, f.root]
                continue
            ids = []
            for doc_id, signature in docs:
                if doc_id in seen:
                    report.problems.append(Problem(f"{f.rel} ({doc_id})", "duplicate document id, kept the first"))
                    groups.append(None)
                    continue
                seen.add(doc_id)
                groups.append(grouper.assign(doc_id, signature))
                ids.append(doc_id)
            report.added += len(ids)
            manifest.files[f.path] = [f.size, f.mtime_ns, ids, f.root]
        return groups

    def decided() -> None:
        """Every document decided: the manifest is whole, saved while the segments are still being written
        (the generation is not live until it is published; 0.4 s at 216k)."""
        if old is not None:  # what the new generation no longer holds (files gone since, now unreadable, ...)
            report.removed = len({i for entry in old.files.values() for i in entry[2]} - seen)
        manifest.save(gen)

    writer = ix.writer()  # holds the lock; the segments come from the parts
    try:
        if settings.workers > 1 and len(files) >= PARALLEL_FROM:
            segments = _build_in_workers(gen, files, settings, decide, bar, manifest.names, decided)
        else:
            segments = _build_in_process(gen, files, settings, decide, bar, manifest.names, decided)
        _phase(bar, "committing")
        writer._close_segment()
        writer._commit_toc(segments)  # as whoosh.multiproc.MpWriter(multisegment=True) does
        writer._finish()
        _phase(bar, "done")
    except BaseException:
        writer.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    report.documents = whoosh_index.open_dir(str(gen)).doc_count()
    home.publish(gen)
    home.remove_stale_generations()


PARALLEL_FROM = 64      # fewer files are cleaned and written in this process (full build)
POOL_FROM = 400         # changed files from which an update is cleaned by ``workers`` processes
EARLY_FROM = 2000       # indexed files from which a cleaner starts during the scan (it hides the import)
PART_BATCH = 32         # files a worker claims at a time and reports in one message
DECISIONS_AT_ONCE = 1024  # documents' decisions per message to a worker (its receiving thread waits for
                          # the GIL at each: with one per batch, the main process spent 10 s of a 216k
                          # build blocked on full pipes, and the workers' reports waited on it)
SEPARATE_FILES_FROM = 1000  # a segment from this many source files is written as separate files
SEGMENT_POSTINGS = 16_000_000      # postings a worker holds in memory at most (about 100 bytes each) before it
SEGMENT_POSTINGS_LEAST = 4_000_000  # writes a segment; between these, as many as a quarter of the machine's
SEGMENT_MEMORY_SHARE = 4            # memory holds with every core writing (segment_postings)
POSTING_BYTES = 100


def segment_postings() -> int:
    """Postings a full build's worker holds before it writes a segment.

    Fewer, larger segments answer faster: a query looks each of its words
    up in every segment. At 215,770 pages, two segments instead of six took
    a fresh query's p50 from 3.5-3.7 to 2.8 ms and p95 from 10.1-10.6 to
    6.8 ms in one process. The bound is the build's memory: with a worker per core,
    together a quarter of the machine's, each between 4 and 16 million
    postings (0.4 to 1.6 GB).
    """
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not a system that says
        memory = 0
    fits = memory // SEGMENT_MEMORY_SHARE // (os.cpu_count() or 1) // POSTING_BYTES
    return min(SEGMENT_POSTINGS, max(SEGMENT_POSTINGS_LEAST, fits))


def _slices(files: list[SourceFile], n: int) -> list[list[SourceFile]]:
    """``files`` in ``n`` contiguous slices of about equal bytes (contiguous keeps file order = slice order)."""
    if n <= 1 or len(files) < 2:
        return [files] if files else []
    total = sum(f.size for f in files) or 1
    out, current, acc = [], [], 0
    for f in files:
        current.append(f)
        acc += f.size
        if acc >= total * (len(out) + 1) / n and len(out) < n - 1:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


class _Claims:
    """The batches of files one worker cleans: its own slice in order, or its end of a slice shared with another.

    Two workers sharing a slice take batches from its two ends, the first
    forward from the front, the second backward from the back, until they
    meet: each ends up with a contiguous run of files (file order = their
    order), and they finish cleaning together however the cost per byte
    varies along the files (with fixed halves of equal bytes, one waited
    5 s of a 216k build for the other: the second half's decisions wait
    for the whole first half's).
    """

    def __init__(self, files: list[SourceFile], ends=None, backward: bool = False, batch: int = PART_BATCH):
        self.files, self.ends, self.backward, self.batch = files, ends, backward, batch

    def batches(self) -> Iterator[list[SourceFile]]:
        """The next batch, while any is left: contiguous, in file order within each batch."""
        if self.ends is None:
            for i in range(0, len(self.files), self.batch):
                yield self.files[i:i + self.batch]
            return
        while True:
            with self.ends.get_lock():
                low, high = self.ends[0], self.ends[1]
                if low >= high:
                    return
                if self.backward:
                    low = self.ends[1] = max(low, high - self.batch)
                else:
                    high = self.ends[0] = min(high, low + self.batch)
            yield self.files[low:high]


def _worker_claims(files: list[SourceFile], n: int, ctx) -> list[_Claims]:
    """What each of up to ``n`` workers cleans, in file order: slices of about equal bytes per worker, two
    workers sharing each two slices' files from their two ends (an odd worker out cleans its own slice)."""
    parts = _slices(files, n)
    claims = []
    for i in range(0, len(parts), 2):
        if i + 1 == len(parts):
            claims.append(_Claims(parts[i]))
            continue
        shared = parts[i] + parts[i + 1]
        ends = ctx.Array("q", [0, len(shared)])
        claims.extend([_Claims(shared, ends), _Claims(shared, ends, backward=True)])
    return claims


class _Part:
    """One worker's files of a full build: clean them, then write the documents kept, in order, as they are decided."""

    def __init__(self, gen: Path, claims: _Claims, max_bytes: int, names: dict[str, str] | None = None):
        self.gen, self.claims, self.max_bytes, self.names = gen, claims, max_bytes, names or {}
        self.docs: deque[Document] = deque()  # cleaned, not yet decided
        self.cleaned_files = 0
        self.writer = None
        self.segments: list = []
        self.budget = segment_postings()

    def clean(self) -> Iterator[list[tuple[SourceFile, list | None, list[Problem]]]]:
        """Batch after batch as claimed, [(file, [(id, signature)] or None, problems)] per file in file order.

        A backward part's batches come last first; its documents are
        queued for writing in file order once it has cleaned them all.
        """
        batches = []
        for files in self.claims.batches():
            docs, cleaned = [], []
            for f in files:
                f, found, problems = _read_one((f, self.max_bytes, self.names.get(f.root)))
                if found is not None:
                    docs.extend(found)
                    found = [(d.id, d.signature) for d in found]
                cleaned.append((f, found, problems))
            self.cleaned_files += len(files)
            if self.claims.backward:
                batches.append(docs)
            else:
                self.docs.extend(docs)
            yield cleaned
        for docs in reversed(batches):
            self.docs.extend(docs)

    @staticmethod
    @contextmanager
    def writing():
        """While writing: no cyclic garbage collection.

        A segment's postings are millions of long-lived lists that each
        collection would walk again, and the writer makes no reference
        cycles (a fifth of the writing time on Reuters pages).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if enabled:
                gc.enable()

    def write(self, groups: list[str | None]) -> None:
        """Add the next ``len(groups)`` cleaned documents (``None``: a duplicate id, skipped); a new segment past the budget."""
        for group in groups:
            doc = self.docs.popleft()
            if group is None:
                continue
            if self.writer is None:
                self.writer = self._new_writer()
            self.writer.add_document(**_fields(doc, group))
            if self.writer.postings_held >= self.budget:
                self.segments.append(self.writer._finalize_segment())
                self.writer = None

    def finish(self) -> list:
        """The segments written."""
        if self.writer is not None:
            self.segments.append(self.writer._finalize_segment())
            self.writer = None
        return self.segments

    def _new_writer(self):
        from whoosh.codec.whoosh3 import W3Codec

        from searchsvc.segment import BulkSegmentWriter

        # uncompressed posting blocks: a fifth less write time and no inflate per block read
        # at search time, for about a third more bytes on disk. A large segment is not a
        # compound file: Whoosh copies each part of a compound segment into memory when a
        # searcher opens it (the whole index, in every server process); separate files are
        # read from the page cache. Small ones stay a single file (fewer open files).
        return BulkSegmentWriter(whoosh_index.open_dir(str(self.gen)), codec=W3Codec(compression=0),
                                 compound=self.cleaned_files < SEPARATE_FILES_FROM)


def _build_in_process(gen, files, settings, decide, bar, names=None, decided=None) -> list:
    part = _Part(gen, _Claims(files, batch=1), settings.max_file_bytes, names)  # progress file by file
    cleaned = []
    for batch in part.clean():
        cleaned.extend(batch)
        if bar is not None:
            bar.update(len(batch))
    _phase(bar, "writing")
    with part.writing():
        groups = decide(cleaned)
        if decided is not None:
            decided()
        part.write(groups)
        return part.finish()


def _build_in_workers(gen, files, settings, decide, bar, names=None, decided=None) -> list:
    """Workers clean their files (``_worker_claims``); this process decides each batch in file order and the
    workers write. ``decided()`` is called once every document is decided, while the workers write.

    Batches are decided as they arrive, part after part in file order, so
    a forward part is decided by the time its worker has cleaned it, and
    the next worker starts writing as soon as its first batch is decided.
    A backward part's first batch in file order is the last it cleans: it
    is decided once that worker has cleaned all its files. Decisions go
    out ``DECISIONS_AT_ONCE`` at a time (a worker writes only once it has
    cleaned all its files), and each worker takes them off its pipe in a
    thread of its own, so a send from here seldom waits on a worker busy
    cleaning or writing (nor do the other workers' reports on that send).
    """
    from multiprocessing.connection import wait

    import searchsvc.clean  # noqa: F401  the cleaning and writing stacks, imported once here: the workers fork
    import searchsvc.segment  # noqa: F401  with them (each imported them itself: 0.2 CPU s each)

    ctx = multiprocessing.get_context("fork")
    claims = _worker_claims(files, settings.workers, ctx)
    conns, procs = [], []
    for claim in claims:
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_part_worker, daemon=True,
                           args=(_Part(gen, claim, settings.max_file_bytes, names), theirs, conns + [ours]))
        proc.start()
        theirs.close()
        conns.append(ours)
        procs.append(proc)
    try:
        undecided = [deque() for _ in claims]  # batches received, not yet decided (in file order)
        backlog: list[list] = [[] for _ in claims]  # a backward part's batches, last first, until it is cleaned
        cleaned = [False] * len(claims)
        segments: list = [[] for _ in claims]
        deciding = 0  # every part before this one is decided
        outgoing: list = []  # decisions for part ``deciding`` not sent yet
        pending = set(range(len(claims)))
        while pending:
            for conn in wait([conns[i] for i in pending]):
                i = conns.index(conn)
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    raise RuntimeError(f"a reindex worker (pid {procs[i].pid}) stopped unexpectedly") from None
                if kind == "files":
                    (backlog if claims[i].backward else undecided)[i].append(payload)
                    if bar is not None:
                        bar.update(len(payload))
                elif kind == "cleaned":
                    cleaned[i] = True
                    undecided[i].extend(reversed(backlog[i]))
                    backlog[i] = []
                    if all(cleaned):
                        _phase(bar, "writing")
                elif kind == "segments":
                    segments[i] = payload
                    pending.discard(i)
                else:
                    raise RuntimeError(f"a reindex worker failed:\n{payload}")
            while deciding < len(claims):
                while undecided[deciding]:
                    outgoing.extend(decide(undecided[deciding].popleft()))
                    if len(outgoing) >= DECISIONS_AT_ONCE:
                        conns[deciding].send(outgoing)
                        outgoing = []
                if not cleaned[deciding]:
                    break
                if outgoing:
                    conns[deciding].send(outgoing)
                    outgoing = []
                conns[deciding].send(None)  # that was the part's last batch
                deciding += 1
                if deciding == len(claims) and decided is not None:
                    decided()
        for proc in procs:
            proc.join()
        return [segment for part in segments for segment in part]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in conns:
            conn.close()


def _part_worker(part: _Part, conn, parent_ends) -> None:
    """A worker process: clean its files, report them in batches, then write the documents as decisions arrive.

    It first closes its copies of the parent's pipe ends, so that if the parent
    dies (even by SIGKILL) its pipe reports EOF and the worker ends too.
    """
    import queue
    import threading
    import traceback

    for end in parent_ends:
        end.close()
    decisions: queue.SimpleQueue = queue.SimpleQueue()

    def receive():
        while True:
            try:
                groups = conn.recv()
            except (EOFError, OSError):
                decisions.put(EOFError)
                return
            decisions.put(groups)
            if groups is None:
                return

    threading.Thread(target=receive, daemon=True).start()
    try:
        for batch in part.clean():
            conn.send(("files", batch))
        conn.send(("cleaned", None))
        with part.writing():
            while (groups := decisions.get()) is not None:
                if groups is EOFError:
                    raise EOFError("the reindex process is gone")
                part.write(groups)
            segments = part.finish()
        conn.send(("segments", segments))
    except BaseException:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass  # the parent is gone
    finally:
        conn.close()


def _update_generation(home, live, ix, searcher, old: Manifest, settings, roots, files, diff: _Diff, report,
                       progress, cleaners: _Cleaners, names=None) -> None:
    """Apply the changed and removed files to the live generation ``ix``; ``searcher`` reads the commit being updated."""
    scanned_roots = {str(r) for r in roots}
    current = {f.path: f for f in files}
    manifest = Manifest(sources=_merge_sources(old.sources, roots), files=dict(old.files), skipped={
        p: e for p, e in old.skipped.items() if e[3] not in scanned_roots or p in current},
        names=dict(old.names if names is None else names))
    report.unchanged = diff.unchanged
    report.problems.extend(diff.named_again)
    gone = [p for p, entry in old.files.items() if entry[3] in scanned_roots and p not in current]
    if not diff.changed and not gone:
        report.documents = searcher.doc_count()
        return
    known_ids = {i for entry in old.files.values() for i in entry[2]}
    commit_changes(home, live, ix, searcher, manifest, settings, diff.changed, gone, report, progress,
                   cleaners.pool_for(len(diff.changed)), known_ids.__contains__)
    manifest.save(live)


@dataclass
class Committed:
    """What one commit changed in the manifest (None: an entry gone): a journal line's worth."""

    files: dict[str, list | None]
    skipped: dict[str, list | None]
    added_ids: set[str]
    removed_ids: set[str]


def commit_changes(home, live, ix, searcher, manifest: Manifest, settings, changed: list[SourceFile],
                   gone: list[str], report: ReindexReport, progress=None, pool=None, known=None,
                   mergetype=None, lookup_columns: dict | None = None) -> Committed:
    """Index ``changed`` files and remove ``gone`` ones (paths) in one commit to the live generation ``ix``.

    ``searcher`` reads the commit being updated; ``manifest`` is updated in
    place (the caller saves it, whole or as a journal line, after this
    returns: a crash in between leaves files to be read again, never a commit
    that running servers are not told about). ``known(id)``: whether an id
    is in the index (an update rather than an addition, for the report).
    ``mergetype``: Whoosh's merge policy at commit (default ``tiered_merges``).
    ``lookup_columns``: near-duplicate lookup columns kept between commits (``_index_lookup``).
    """
    from whoosh.codec.whoosh3 import W3Codec

    from searchsvc.segment import BulkSegmentWriter

    known = known or (lambda doc_id: False)
    try:
        # a segment of its own, merged at commit with segments of its size class once enough gathered (tiered_merges)
        writer = BulkSegmentWriter(ix, lock=True, timeout=settings.writer_timeout, codec=W3Codec(compression=0))
    except LockError:
        raise IndexBusy(f"the index at {home.path} is locked by another writer") from None
    grouper = dedup.Grouper(lookup=_index_lookup(searcher, lookup_columns))
    # ids whose committed copies go: deleted at the end with one searcher (Whoosh's
    # update_document/delete_by_term open one per call); the writer's own additions
    # are not in the committed segments, so deleting after adding is the same as before
    doomed: set[str] = set()
    done = Committed({}, {}, set(), set())
    failed: list[tuple[SourceFile, list[Problem]]] = []
    try:
        for path in gone:
            entry = manifest.files.pop(path, None)
            done.files[path] = None
            if manifest.skipped.pop(path, None) is not None:
                done.skipped[path] = None
            for doc_id in entry[2] if entry else ():
                doomed.add(doc_id)
                report.removed += 1
        for f, docs in _cleaned(changed, settings, report, progress, failed, pool, manifest.names):
            if manifest.skipped.pop(f.path, None) is not None:
                done.skipped[f.path] = None
            new_ids = [d.id for d in docs]
            for doc in docs:
                writer.add_document(**_fields(doc, grouper.assign(doc.id, doc.signature)))
                doomed.add(doc.id)
                if known(doc.id):
                    report.updated += 1
                else:
                    report.added += 1
            before = manifest.files.get(f.path)
            for stale in set(before[2] if before else ()) - set(new_ids):
                doomed.add(stale)
                report.removed += 1
            manifest.files[f.path] = done.files[f.path] = [f.size, f.mtime_ns, new_ids, f.root]
            done.added_ids.update(new_ids)
        # a changed file that now fails to read keeps its last good documents and its
        # old manifest entry, so it is named again (and retried) on the next reindex;
        # one that never had any is remembered as skipped until it changes
        for f, problems in failed:
            if f.path not in manifest.files and problems:
                manifest.skipped[f.path] = done.skipped[f.path] = [f.size, f.mtime_ns, problems[0].reason, f.root]
        _delete_ids(writer, doomed, searcher)
        writer.commit(mergetype=mergetype or tiered_merges)
    except BaseException:
        writer.cancel()
        raise
    done.removed_ids = doomed - done.added_ids
    # announce before the manifest is saved: a crash in between leaves the files to be
    # read again (harmless), never a commit that running servers are not told about
    home.publish(live)
    report.documents = sum(segment.doc_count() for segment in ix._segments())  # the new table of contents
    return done


MERGE_FANOUT = 10        # segments of one size class merge into one once this many have gathered
MERGE_SMALLEST = 1_000   # size class 0: segments of up to this many articles; each class above, ten times larger
MERGE_BUDGET = 20_000    # articles one incremental commit may merge at most...
MERGE_SHARE = 20         # ...or this share of the index (a twentieth), when that is more


def tiered_merges(writer, segments):
    """An incremental commit's merge policy: the segments still wanted (Whoosh's ``mergetype`` protocol).

    Segments of one size class (up to ``MERGE_SMALLEST`` articles, then ten
    times more per class) merge into the commit's new segment once
    ``MERGE_FANOUT`` of them have gathered, the smallest class first, one
    class a commit, and only while the class holds at most
    ``merge_budget`` articles: a commit's merging is bounded by the size of
    the index, the number of segments (one more term lookup each per query
    word) grows with the logarithm of what was added since the last full
    build, and a full build's segments (each as large as a worker's
    memory allows, together most of the index) are left to the next full
    build.

    Whoosh's default, MERGE_SMALL, counts segments against a Fibonacci
    number regardless of their share of the index: after a full build of
    2 million articles (42 segments) it had the next reindex of a single
    changed file merge 27 of them, 1.2 million articles, for minutes.
    """
    from whoosh.reading import SegmentReader

    classes: dict[int, list] = {}
    for segment in segments:
        classes.setdefault(_size_class(segment.doc_count_all()), []).append(segment)
    budget = merge_budget(sum(segment.doc_count_all() for segment in segments))
    for size_class in sorted(classes):
        group = classes[size_class]
        if len(group) < MERGE_FANOUT:
            continue
        if sum(segment.doc_count_all() for segment in group) > budget:
            break  # the classes above are larger still
        for segment in group:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
        return [segment for segment in segments if segment not in group]
    return list(segments)


def merge_budget(articles: int) -> int:
    """The most articles one incremental commit merges in an index of ``articles``."""
    return max(MERGE_BUDGET, articles // MERGE_SHARE)


def _size_class(articles: int) -> int:
    size_class, bound = 0, MERGE_SMALLEST
    while articles > bound:
        size_class, bound = size_class + 1, bound * 10
    return size_class


def _delete_ids(writer, ids: set[str], searcher, chunk: int = 1024) -> None:
    """Delete the committed documents with these ids, through ``searcher`` (of the commit the writer started from)."""
    if not ids:
        return
    from whoosh import query as wq

    ordered = sorted(ids)
    for i in range(0, len(ordered), chunk):
        terms = [wq.Term(schema.ID, doc_id) for doc_id in ordered[i:i + chunk]]
        writer.delete_by_query(wq.Or(terms), searcher=searcher)


def _merge_sources(old: list[str], roots: list[Path]) -> list[str]:
    merged = list(old)
    for r in roots:
        if str(r) not in merged:
            merged.append(str(r))
    return merged


def _cleaned(files: list[SourceFile], settings: Settings, report: ReindexReport, progress, failed=None, pool=None,
             names=None):
    """(file, documents) for each readable file, cleaned in ``pool`` if given.

    Files that yield nothing go to ``failed`` (a list) with their problems.
    """
    bar = progress(len(files)) if progress else None
    names = names or {}
    jobs = [(f, settings.max_file_bytes, names.get(f.root)) for f in files]
    if pool is not None:
        chunk = max(1, min(16, len(jobs) // (8 * settings.workers)))  # small ones early: writing starts sooner
        yield from _collect(pool.imap(_read_one, jobs, chunksize=chunk), report, bar, failed)
    else:
        yield from _collect(map(_read_one, jobs), report, bar, failed)
    _phase(bar, "done")
    if bar is not None:
        bar.close()


def _phase(bar, name: str) -> None:
    """Say on the progress bar what the reindex is doing now (cleaning, writing, committing, done)."""
    if bar is not None and hasattr(bar, "set_description"):
        bar.set_description(name)


def _collect(results, report, bar, failed) -> Iterator[tuple[SourceFile, list[Document]]]:
    for f, docs, problems in results:
        report.problems.extend(problems)
        if bar is not None:
            bar.update(1)
        if docs is not None:
            yield f, docs
        elif failed is not None:
            failed.append((f, problems))


def _read_one(job) -> tuple[SourceFile, list[Document] | None, list[Problem]]:
    """One file's documents; ``job`` is (file, max bytes, the source folder's publication name or None)."""
    f, max_bytes, source_name = job
    try:
        docs, problems = read_documents(f, max_bytes)
        for doc in docs:
            doc.signature = dedup.signature(doc.body)
            if source_name and not doc.source:
                doc.source = source_name
        return f, docs, problems
    except SkipFile as exc:
        return f, None, [Problem(f.path, str(exc))]
    except OSError as exc:
        return f, None, [Problem(f.path, exc.strerror or str(exc))]
    except RecursionError:
        return f, None, [Problem(f.path, "markup nested too deeply to read")]
    except Exception as exc:  # one bad file never stops a reindex
        return f, None, [Problem(f.path, f"could not be read ({type(exc).__name__}: {exc})")]


def _index_lookup(searcher, kept: dict | None = None) -> dedup.Lookup:
    """Near-duplicate candidates among the documents already in the live index (``dedup.likeliest`` of them).

    The documents sharing a key come from the key's postings (read only for
    the keys ``likeliest`` asks for), their sketches and groups from
    columns: no stored document (body and all) is decompressed to compare a
    sketch. ``kept``: column readers by segment id, kept from one commit to
    the next (a watcher's: a column reader reads its whole offset table
    when made, 14 ms a commit at 21k).
    """
    from searchsvc.segment import term_postings

    readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
    columns: dict[int, tuple] = {}  # a column reader reads its whole offset table when made: once per segment
    if kept is not None:
        ids = {_segment_id(r) for r in readers}
        for gone in [k for k in kept if k not in ids]:
            del kept[gone]

    def segment_columns(i: int) -> tuple:
        key = _segment_id(readers[i]) if kept is not None else None
        if key is not None and key in kept:
            return kept[key]
        if key is None:
            found = tuple(readers[i].column_reader(name) for name in (schema.ID, schema.SKETCH, schema.GROUP))
        else:  # over files of their own: they outlive this searcher
            found = kept[key] = tuple(_own_column(readers[i], name) for name in (schema.ID, schema.SKETCH, schema.GROUP))
        return found

    def documents(found):
        """(segment, docnum) of the live documents in a key's posting readers."""
        def read():
            for i, m in found:
                deleted = readers[i].is_deleted
                yield from ((i, docnum) for docnum in m.all_ids() if not deleted(docnum))
        return read

    def lookup(keys, own_id):
        keyed = []
        for key in keys:
            tbytes, found, count = key.encode("utf-8"), [], 0
            for i, reader in enumerate(readers):
                m, df = term_postings(reader, schema.DUPKEYS, tbytes)  # one term-table lookup
                if m is not None:
                    found.append((i, m))
                    count += df
            if found:
                keyed.append((count, documents(found)))
        for i, docnum in dedup.likeliest(keyed, dedup.CANDIDATES + 1):  # one more: the document's own old copy
            if i not in columns:
                columns[i] = segment_columns(i)
            ids, sketches, groups = columns[i]
            sketch, doc_id = sketches[docnum], _text(ids[docnum])
            if sketch and doc_id != own_id:
                yield sketch, _text(groups[docnum]) or doc_id
    return lookup


def _segment_id(reader) -> str | None:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else None


def _own_column(reader, name: str):
    """A column reader of ``reader``'s segment over a file opened for it alone."""
    from whoosh.codec.whoosh3 import W3Codec

    segment, storage = reader.segment(), reader.storage()
    filename = W3Codec.column_filename(segment, name)
    return reader.schema[name].column_type.reader(storage.open_file(filename), 0, storage.file_length(filename),
                                                  segment.doc_count_all())


def _content(doc: Document) -> str:
    """The ranking's field: title and body; a brief that is only its headline (its body is the title) counts it
    once, as an article with a body does (twice, it outranked articles on the same words: bench/relevance.py's
    title-only collections)."""
    if doc.body.strip() == doc.title.strip():
        return doc.body
    return f"{doc.title}\n\n{doc.body}"


def _fields(doc: Document, group: str) -> dict:
    sig = doc.signature or dedup.EMPTY
    fields = {
        schema.ID: doc.id,
        schema.TITLE: doc.title,
        schema.CONTENT: _content(doc),
        schema.BODY: doc.body,
        schema.URL: doc.url or "",
        schema.AUTHOR: doc.author or "",
        schema.SOURCE: doc.source or "",
        schema.TOPICS: ",".join(doc.topics),
        schema.GROUP: group,
    }
    if not sig.empty:
        fields[schema.DUPKEYS] = " ".join(sig.keys)
        fields[schema.SKETCH] = sig.sketch
    if doc.published is not None:
        fields[schema.PUBLISHED] = doc.published
        fields[schema.YEAR] = str(doc.published.year)
    fields[schema.DATEKEY] = _datekey(doc.published)
    return fields


def _datekey(published) -> int:
    """Whole seconds since 1970, rounded down (the second a listing shows, before 1970 too)."""
    if published is None:
        return schema.UNDATED
    return (published - EPOCH) // timedelta(seconds=1)


@dataclass
class SourceFolder:
    """One source of the index (a folder or file given to ``reindex``), as the manifest records it."""

    path: str
    name: str | None      # the publication named with ``--source``
    files: int
    documents: int
    skipped: int

    def to_dict(self) -> dict:
        return {"path": self.path, "name": self.name, "files": self.files, "documents": self.documents,
                "skipped": self.skipped}


def source_folders(settings: Settings) -> list[SourceFolder]:
    """The index's sources with what each holds."""
    home = IndexHome(settings.index)
    home.open_index().close()  # no index: the usual one-line error
    manifest = Manifest.load(home.live_dir())
    folders = {s: SourceFolder(s, manifest.names.get(s), 0, 0, 0) for s in manifest.sources}
    for entry in manifest.files.values():
        folder = folders.get(entry[3])
        if folder is not None:
            folder.files += 1
            folder.documents += len(entry[2])
    for entry in manifest.skipped.values():
        if entry[3] in folders:
            folders[entry[3]].skipped += 1
    return list(folders.values())


def remove_source(settings: Settings, source: Path | str) -> ReindexReport:
    """Take one source (as ``source_folders`` lists it) out of the index: its articles are deleted, the
    manifest forgets it, and later reindexes no longer scan it. The folder itself is left alone."""
    started = time.perf_counter()
    home = IndexHome(settings.index)
    home.ensure_writable()
    with home.reindex_lock(settings.writer_timeout):
        live = home.live_dir()
        manifest = Manifest.load(live)
        wanted = _listed_source(manifest, source)
        current = _open_current(live) if live is not None else None
        if current is None:
            raise SourceError(f"the index at {home.path} cannot be updated in place: rebuild it with "
                              "`searchsvc reindex --full`")
        ix, searcher = current
        doomed = {i for p, entry in manifest.files.items() if entry[3] == wanted for i in entry[2]}
        from whoosh.codec.whoosh3 import W3Codec

        from searchsvc.segment import BulkSegmentWriter

        with searcher:
            try:
                writer = BulkSegmentWriter(ix, lock=True, timeout=settings.writer_timeout,
                                           codec=W3Codec(compression=0))
            except LockError:
                raise IndexBusy(f"the index at {home.path} is locked by another writer") from None
            try:
                _delete_ids(writer, doomed, searcher)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
        manifest.sources = [s for s in manifest.sources if s != wanted]
        manifest.files = {p: e for p, e in manifest.files.items() if e[3] != wanted}
        manifest.skipped = {p: e for p, e in manifest.skipped.items() if e[3] != wanted}
        manifest.names.pop(wanted, None)
        home.publish(live)
        manifest.save(live)
        report = ReindexReport(removed=len(doomed))
        report.documents = sum(segment.doc_count() for segment in ix._segments())
    report.seconds = time.perf_counter() - started
    return report


def _listed_source(manifest: Manifest, source: Path | str) -> str:
    """The manifest's own spelling of ``source`` (as listed, or any path to the same folder)."""
    if str(source) in manifest.sources:
        return str(source)
    resolved = str(Path(source).expanduser().absolute())
    if resolved in manifest.sources:
        return resolved
    listed = ", ".join(manifest.sources) or "none"
    raise SourceError(f"{source} is not a source of this index (its sources: {listed})")


def index_stats(settings: Settings) -> dict:
    """Documents, sources, last reindex and size on disk of the live index."""
    home = IndexHome(settings.index)
    ix = home.open_index()
    manifest = Manifest.load(home.live_dir())
    with ix.searcher() as s:
        sources = sorted(_text(v) for v in s.lexicon(schema.SOURCE) if v)
        documents = s.doc_count()
    return {
        "index": str(home.path.absolute()),
        "documents": documents,
        "sources": sources,
        "source_paths": manifest.sources,
        "files": len(manifest.files),
        "last_reindex": manifest.last_reindex,
        "size_bytes": home.size_on_disk(),
    }


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
