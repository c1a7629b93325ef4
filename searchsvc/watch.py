"""Watching the sources: ``searchsvc reindex --watch`` keeps the index fresh within a second.

The watcher starts the file watching (watchfiles: the operating system's
change notifications, inotify on Linux), then catches up exactly as
``reindex SOURCES`` would (the manifest says what changed while nobody
watched: a killed watcher loses nothing), then commits each batch of
changes as it comes: new, changed and deleted files, through the same
incremental path as ``reindex`` (``indexer.commit_changes``: the same
cleaning, near-duplicate grouping and manifest).

What a commit costs, and what keeps it small (21,577 Reuters pages):
- the manifest is not rewritten whole (30 ms here, ten times that at 216k):
  each commit appends a journal line (``Manifest.record``), and the whole
  manifest is saved when the watcher is idle or the journal grows large;
- a watcher's commit merges only segments of up to ``MERGE_DOCS``
  articles (the policy of ``reindex``, ``indexer.tiered_merges``, may merge
  a few thousand); when the folder is quiet and segments have piled up, it
  runs that policy;
- the index, the manifest and the set of indexed ids stay open between
  commits; they are read again only when another reindex committed.

The index's reindex lock is taken per commit (milliseconds), so a
``reindex`` or ``publish`` run by hand waits at most a commit; when another
reindex holds it (a full rebuild, say), the watcher says so once and waits.
One watcher per index home (``IndexHome.watch_lock``).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from searchsvc.config import Settings
from searchsvc.indexer import (WATCH_NOTE, ReindexReport, _open_current, _same, commit_changes, reindex,
                               resolve_sources)
from searchsvc.sources import Problem, SourceFile, scan_within
from searchsvc.store import IndexHome, Manifest, journal_path

DEBOUNCE_MS = 500      # longest a batch of changes is gathered before it is committed
STEP_MS = 30           # a batch is taken once no change has come for this long
IDLE_MS = 1000         # no change for this long: the watcher tidies up (manifest, merges)
COMMIT_EVERY = 0.25    # seconds from one commit's start to the next one's at least: what comes meanwhile
                       # joins the next batch (each commit costs every server process a new searcher)
BATCH_FILES = 1000     # files per commit (a larger batch: several commits)
MERGE_DOCS = 1000      # a watcher's commit merges only segments of at most this many articles
IDLE_MERGE_FROM = 12   # segments from which an idle watcher runs the usual merge
JOURNAL_BYTES = 8 << 20  # the manifest is saved whole when its journal grows past this

Say = Callable[[str], object]


def watch(settings: Settings, sources: Iterable[Path | str] | None, say: Say, warn: Say,
          stop: threading.Event | None = None, source_name: str | None = None) -> None:
    """Catch up with ``sources``, then commit their changes as they happen, until ``stop`` is set (or Ctrl-C).

    ``source_name``: as ``reindex``'s (the publication of ``sources``, remembered in the manifest).
    """
    import watchfiles

    home = IndexHome(settings.index)
    home.ensure_writable()
    with home.watch_lock():
        roots = resolve_sources(sources, Manifest.load(home.live_dir()))
        changes = watchfiles.watch(
            *roots, watch_filter=watchfiles.DefaultFilter(ignore_paths=[str(home.path.absolute())]),
            debounce=DEBOUNCE_MS, step=STEP_MS, rust_timeout=IDLE_MS, yield_on_timeout=True,
            stop_event=stop, raise_interrupt=False)
        early = next(changes, None)  # watching from here on: what changes during the catch-up is seen
        report = reindex(settings, roots, source_name=source_name, waiting=warn)
        _name_problems(report, warn)
        say(f"caught up: {report.summary()}")
        watcher = _Watcher(settings, home, roots, say, warn)
        say(f"watching {', '.join(map(str, roots))} for {settings.index} (Ctrl-C stops)")
        try:
            if early:
                watcher.apply(early)
            for batch in changes:
                if batch:
                    watcher.apply(batch)
                else:
                    watcher.idle()
        finally:
            watcher.close()


def _name_problems(report: ReindexReport, warn: Say) -> None:
    if report.problems:
        warn("\n".join(map(str, report.problems)))


class _Watcher:
    """The open index and its manifest between commits; read again when another reindex has committed."""

    def __init__(self, settings: Settings, home: IndexHome, roots: list[Path], say: Say, warn: Say):
        self.settings, self.home, self.say, self.warn = settings, home, say, warn
        self.roots = sorted((str(r) for r in roots), key=len, reverse=True)  # the innermost root first
        self.stamp = None
        self.ix = None
        self.journal = 0  # bytes in the manifest's journal
        self.last_commit = 0.0
        self.lookup_columns: dict = {}  # near-duplicate lookup columns by segment, kept between commits
        self.merge_declined = 0  # segments when an idle merge last merged nothing

    def close(self) -> None:
        self.ix = None

    def _sync(self) -> None:
        """Under the lock: read the index and manifest again if a commit not ours came since."""
        stamp = self.home.stamp()
        if self.ix is not None and stamp == self.stamp:
            return
        self.live = self.home.live_dir()
        opened = _open_current(self.live) if self.live is not None else None
        if opened is None:
            raise RuntimeError(f"the index at {self.home.path} cannot be updated; run `searchsvc reindex`")
        self.ix, searcher = opened
        searcher.close()
        self.manifest = Manifest.load(self.live)
        self.known = {i for entry in self.manifest.files.values() for i in entry[2]}
        self.stamp = stamp
        path = journal_path(self.live)
        self.journal = path.stat().st_size if path.exists() else 0

    def _locked(self):
        return self.home.reindex_lock(float("inf"), self.warn, WATCH_NOTE)

    def apply(self, batch: set) -> None:
        paths = {path for _, path in batch}
        time.sleep(max(0.0, self.last_commit + COMMIT_EVERY - time.monotonic()))
        self.last_commit = time.monotonic()
        with self._locked():
            self._sync()
            changed, gone, problems = self._resolve(paths)
            for i in range(0, max(len(changed), 1), BATCH_FILES):
                part = changed[i:i + BATCH_FILES]
                if part or gone:
                    self._commit(part, gone, problems)
                gone, problems = [], []

    def _resolve(self, paths: set[str]) -> tuple[list[SourceFile], list[str], list[Problem]]:
        """(changed files, paths gone from the manifest, problems) for the paths the watcher reported."""
        files, skipped = self.manifest.files, self.manifest.skipped
        found: dict[str, SourceFile] = {}
        gone: list[str] = []
        problems: list[Problem] = []
        for path in sorted(paths):
            root = self._root_of(path)
            if root is None:
                continue
            if os.path.lexists(path):
                for f in scan_within(root, path, problems):
                    found[f.path] = f
            elif path in files or path in skipped:
                gone.append(path)
            else:  # a folder deleted or moved away: everything indexed under it
                inside = path + os.sep
                gone.extend(p for p in list(files) + list(skipped) if p.startswith(inside))
        changed = [f for f in found.values() if not (_same(files.get(f.path), f) or _same(skipped.get(f.path), f))]
        gone = [p for p in dict.fromkeys(gone) if p not in found]
        problems = [p for p in problems if os.path.lexists(p.name)]  # vanished meanwhile: the next event says gone
        return changed, gone, problems

    def _root_of(self, path: str) -> str | None:
        for root in self.roots:
            if path == root or path.startswith(root + os.sep):
                return root
        return None

    def _commit(self, changed: list[SourceFile], gone: list[str], problems: list[Problem]) -> None:
        started = time.perf_counter()
        report = ReindexReport(problems=problems)
        with self.ix.searcher() as searcher:
            done = commit_changes(self.home, self.live, self.ix, searcher, self.manifest, self.settings, changed,
                                  gone, report, known=self.known.__contains__, mergetype=small_merges,
                                  lookup_columns=self.lookup_columns)
        self.known -= done.removed_ids
        self.known |= done.added_ids
        self.journal = self.manifest.record(self.live, done.files, done.skipped)
        if self.journal > JOURNAL_BYTES:
            self._save_manifest()
        self.stamp = self.home.stamp()
        report.skipped = len(report.problems)
        report.seconds = time.perf_counter() - started
        _name_problems(report, self.warn)
        self.say(f"{time.strftime('%H:%M:%S')} added {report.added}, updated {report.updated}, "
                 f"removed {report.removed}, skipped {report.skipped}; {report.documents} documents "
                 f"in {report.seconds:.2f}s")

    def _save_manifest(self) -> None:
        self.manifest.save(self.live)
        self.journal = 0

    def idle(self) -> None:
        """Nothing changed for a while: save the manifest whole, and merge segments if many have piled up."""
        if self.ix is None or (not self.journal and not self._merge_due()):
            return
        with self._locked():
            self._sync()
            if self.journal:
                self._save_manifest()
            if self._merge_due():
                self._merge()
                self.merge_declined = len(self.ix._segments())  # the same count again: the policy said no
            self.stamp = self.home.stamp()

    def _merge_due(self) -> bool:
        count = len(self.ix._segments())
        return count >= IDLE_MERGE_FROM and count != self.merge_declined

    def _merge(self) -> None:
        from whoosh.codec.whoosh3 import W3Codec

        from searchsvc.indexer import tiered_merges
        from searchsvc.segment import BulkSegmentWriter

        before = len(self.ix._segments())
        writer = BulkSegmentWriter(self.ix, lock=True, timeout=self.settings.writer_timeout,
                                   codec=W3Codec(compression=0))
        try:
            writer.commit(mergetype=tiered_merges)
        except BaseException:
            writer.cancel()
            raise
        if len(self.ix._segments()) != before:
            self.home.publish(self.live)  # servers switch to the merged segments


def small_merges(writer, segments):
    """Whoosh's MERGE_SMALL among the segments of at most ``MERGE_DOCS`` articles; larger ones are left as they are.

    A commit of a few files then costs milliseconds of merging, never the
    seconds of merging thousands of articles; those merge when the watcher
    is idle (``IDLE_MERGE_FROM``) or at a plain ``reindex``.
    """
    from whoosh.writing import MERGE_SMALL

    small = [s for s in segments if s.doc_count_all() <= MERGE_DOCS]
    large = [s for s in segments if s.doc_count_all() > MERGE_DOCS]
    return large + list(MERGE_SMALL(writer, small))
