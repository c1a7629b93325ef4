"""Reindexing: from source files to the live Whoosh index, incrementally or in full.

Incremental: a manifest of (size, mtime) per file, kept beside the index,
decides what to read before any parse, so an unchanged corpus costs a scan
of directory entries. Changed files are re-cleaned and updated, files gone
from a re-scanned source are removed. ``full`` builds a new generation beside
the live one and swaps it in atomically (see ``store``). Cleaning runs in
``workers`` processes; one writer, holding the index lock, writes.
"""
from __future__ import annotations

import multiprocessing
import time
from datetime import datetime
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator

from whoosh import index as whoosh_index
from whoosh.index import LockError

from searchsvc import dedup, schema
from searchsvc.config import Settings
from searchsvc.errors import IndexBusy, IndexUnavailable, SourceError
from searchsvc.sources import Document, Problem, SkipFile, SourceFile, read_documents, scan
from searchsvc.store import IndexHome, Manifest

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

    def summary(self) -> str:
        kind = "full rebuild" if self.full else "reindex"
        return (
            f"{kind}: added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"skipped {self.skipped}, unchanged {self.unchanged}; {self.documents} documents "
            f"in {self.seconds:.2f}s"
        )


def bundled_sample() -> Path:
    """The sample corpus shipped inside the package (used when no source was ever given)."""
    return Path(str(resources.files("searchsvc").joinpath("sample")))


def reindex(
    settings: Settings,
    sources: Iterable[Path | str] | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> ReindexReport:
    """Bring the index at ``settings.index`` up to date with ``sources``."""
    started = time.perf_counter()
    home = IndexHome(settings.index)
    home.ensure_writable()
    with home.reindex_lock(settings.writer_timeout):
        home.remove_stale_generations()  # debris of a reindex killed before its swap
        live = home.live_dir()
        old = Manifest.load(live)
        roots = _resolve_sources(sources, old)
        rebuild = full or live is None or not _opens(live)
        report = ReindexReport(full=rebuild)
        files = list(scan(roots, report.problems))
        if rebuild:
            _build_generation(home, settings, roots, files, report, progress)
        else:
            _update_generation(home, live, old, settings, roots, files, report, progress)
    report.skipped = len(report.problems)
    report.seconds = time.perf_counter() - started
    return report


def _resolve_sources(sources, manifest: Manifest) -> list[Path]:
    roots = [Path(s).expanduser().absolute() for s in (sources or ())]
    if not roots:
        roots = [Path(s) for s in manifest.sources] or [bundled_sample()]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise SourceError(f"source not found: {', '.join(missing)}")
    return roots


def _opens(gen: Path) -> bool:
    """Whether the live generation can be updated in place (else: a full rebuild)."""
    try:
        ix = whoosh_index.open_dir(str(gen))
        ix.doc_count()
        return schema.is_current(ix.schema)
    except Exception:
        return False


def _build_generation(home, settings, roots, files, report, progress) -> None:
    gen = home.new_generation_dir()
    ix = whoosh_index.create_in(str(gen), schema.build_schema())
    manifest = Manifest(sources=[str(r) for r in roots])
    seen: set[str] = set()
    grouper = dedup.Grouper()
    writer = ix.writer(limitmb=256)
    try:
        for f, docs in _cleaned(files, settings, report, progress):
            ids = []
            for doc in docs:
                if doc.id in seen:
                    report.problems.append(Problem(f"{f.rel} ({doc.id})", "duplicate document id, kept the first"))
                    continue
                seen.add(doc.id)
                writer.add_document(**_fields(doc, grouper.assign(doc.id, doc.signature)))
                ids.append(doc.id)
            report.added += len(ids)
            manifest.files[f.path] = [f.size, f.mtime_ns, ids, f.root]
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    manifest.save(gen)
    report.documents = ix.doc_count()
    home.publish(gen)
    home.remove_stale_generations()


def _update_generation(home, live, old: Manifest, settings, roots, files, report, progress) -> None:
    manifest = Manifest(sources=_merge_sources(old.sources, roots), files=dict(old.files))
    scanned_roots = {str(r) for r in roots}
    current = {f.path: f for f in files}
    changed = []
    for f in files:
        before = old.files.get(f.path)
        if before and before[0] == f.size and before[1] == f.mtime_ns:
            report.unchanged += 1
        else:
            changed.append(f)
    gone = [p for p, entry in old.files.items() if entry[3] in scanned_roots and p not in current]
    if not changed and not gone:
        report.documents = _doc_count(live)
        return
    known_ids = {i for entry in old.files.values() for i in entry[2]}
    ix = whoosh_index.open_dir(str(live))
    try:
        writer = ix.writer(timeout=settings.writer_timeout)
    except LockError:
        raise IndexBusy(f"the index at {home.path} is locked by another writer") from None
    grouper = dedup.Grouper(lookup=_index_lookup(ix.searcher()))
    try:
        for path in gone:
            for doc_id in manifest.files.pop(path)[2]:
                writer.delete_by_term(schema.ID, doc_id)
                report.removed += 1
        for f, docs in _cleaned(changed, settings, report, progress):
            new_ids = [d.id for d in docs]
            for doc in docs:
                writer.update_document(**_fields(doc, grouper.assign(doc.id, doc.signature)))
                if doc.id in known_ids:
                    report.updated += 1
                else:
                    report.added += 1
            before = old.files.get(f.path)
            for stale in set(before[2] if before else ()) - set(new_ids):
                writer.delete_by_term(schema.ID, stale)
                report.removed += 1
            manifest.files[f.path] = [f.size, f.mtime_ns, new_ids, f.root]
        # a changed file that now fails to read keeps its last good documents and its
        # old manifest entry, so it is named again (and retried) on the next reindex
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    # announce before saving the manifest: a crash in between leaves the files to be
    # read again (harmless), never a commit that running servers are not told about
    home.publish(live)
    manifest.save(live)
    report.documents = _doc_count(live)


def _merge_sources(old: list[str], roots: list[Path]) -> list[str]:
    merged = list(old)
    for r in roots:
        if str(r) not in merged:
            merged.append(str(r))
    return merged


def _doc_count(gen: Path) -> int:
    return whoosh_index.open_dir(str(gen)).doc_count()


def _cleaned(files: list[SourceFile], settings: Settings, report: ReindexReport, progress):
    """(file, documents) for each readable file, cleaned in ``settings.workers`` processes."""
    bar = progress(len(files)) if progress else None
    jobs = [(f, settings.max_file_bytes) for f in files]
    if settings.workers > 1 and len(files) >= 64:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(settings.workers) as pool:
            yield from _collect(pool.imap(_read_one, jobs, chunksize=16), report, bar)
    else:
        yield from _collect(map(_read_one, jobs), report, bar)
    if bar is not None:
        bar.close()


def _collect(results, report, bar) -> Iterator[tuple[SourceFile, list[Document]]]:
    for f, docs, problems in results:
        report.problems.extend(problems)
        if bar is not None:
            bar.update(1)
        if docs is not None:
            yield f, docs


def _read_one(job) -> tuple[SourceFile, list[Document] | None, list[Problem]]:
    f, max_bytes = job
    try:
        docs, problems = read_documents(f, max_bytes)
        for doc in docs:
            doc.signature = dedup.signature(doc.body)
        return f, docs, problems
    except SkipFile as exc:
        return f, None, [Problem(f.path, str(exc))]
    except OSError as exc:
        return f, None, [Problem(f.path, exc.strerror or str(exc))]
    except RecursionError:
        return f, None, [Problem(f.path, "markup nested too deeply to read")]
    except Exception as exc:  # one bad file never stops a reindex
        return f, None, [Problem(f.path, f"could not be read ({type(exc).__name__}: {exc})")]


def _index_lookup(searcher) -> dedup.Lookup:
    """Near-duplicate candidates among the documents already in the live index."""
    from whoosh import query as wq

    def lookup(keys, own_id):
        q = wq.Or([wq.Term(schema.DUPKEYS, k) for k in keys])
        for hit in searcher.search(q, limit=64, scored=False):
            stored = hit.fields()
            if stored[schema.ID] != own_id and stored.get(schema.SKETCH):
                yield stored[schema.SKETCH], stored.get(schema.GROUP) or stored[schema.ID]
    return lookup


def _fields(doc: Document, group: str) -> dict:
    sig = doc.signature or dedup.EMPTY
    fields = {
        schema.ID: doc.id,
        schema.TITLE: doc.title,
        schema.CONTENT: f"{doc.title}\n\n{doc.body}",
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
    if published is None:
        return schema.UNDATED
    return int((published - EPOCH).total_seconds())


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
