"""Publishing the live index to another index home: read replicas.

``publish(settings, dest)`` copies the live commit of ``settings.index`` into
a new generation folder of the index home ``dest`` and then switches
``dest``'s ``CURRENT`` to it in one atomic rename, as a full rebuild does:
servers on ``dest`` go on answering from the generation they have until the
switch, and switch on their next request after it. A publish killed at any
moment (even ``kill -9``) leaves ``dest`` serving what it served before; the
half-copied folder is removed by the next publish.

Only files ``dest`` lacks are transferred: segment files never change once
written (a commit adds new ones; deletions live in the table of contents),
so a file of the same name, size and modification time in ``dest``'s live
generation is the same file, and is hard-linked into the new folder rather
than copied. An incremental update of the source costs its new segments, a
table of contents and the manifest.

The source is read under its reindex lock only while the commit's files are
opened (milliseconds): the copy reads from those open files, so a reindex
that commits meanwhile (and deletes merged segments) cannot change what is
copied. ``dest`` is written under its own reindex lock, so two publishes (or
a publish and a reindex) into one home take turns. Files kept in the index
home itself (beside ``CURRENT``; e.g. a key that signs cursors) are carried
too, so replicas accept each other's cursors.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh.index import TOC

from searchsvc.config import Settings
from searchsvc.errors import SourceError
from searchsvc.store import INDEX_NAME, IndexHome, MANIFEST, home_files, journal_path

CHUNK = 1 << 20  # bytes copied per read


@dataclass
class PublishReport:
    generation: str = ""
    copied: int = 0          # files transferred
    copied_bytes: int = 0
    linked: int = 0          # files dest already had (hard-linked, not transferred)
    seconds: float = 0.0
    up_to_date: bool = False

    def summary(self, dest: Path) -> str:
        if self.up_to_date:
            return f"{dest} already serves this commit; nothing to publish"
        return (f"published to {dest} ({self.generation}): copied {self.copied} of {self.copied + self.linked} "
                f"files ({self.copied_bytes / 2**20:.1f} MiB), {self.linked} already there, in {self.seconds:.2f}s")


@dataclass
class _File:
    name: str
    size: int
    mtime_ns: int
    fd: int


def publish(settings: Settings, dest: Path | str) -> PublishReport:
    """Copy the live commit of ``settings.index`` into the index home ``dest`` and switch to it there."""
    started = time.perf_counter()
    source, target = IndexHome(settings.index), IndexHome(dest)
    if target.path.resolve() == source.path.resolve():
        raise SourceError(f"{dest} is the index being published; name another index home")
    source.open_index()  # a clear error for a missing or damaged index, before anything is written
    target.ensure_writable()
    files, carried = _open_snapshot(source, settings.writer_timeout)
    try:
        with target.reindex_lock(settings.writer_timeout):
            report = _write_generation(target, files)
            _carry_home_files(source, target, carried)
            if not report.up_to_date:
                target.publish(target.path / report.generation)  # the one atomic step
                target.remove_stale_generations()
    finally:
        for f in files:
            os.close(f.fd)
    report.seconds = time.perf_counter() - started
    return report


def _open_snapshot(home: IndexHome, timeout: float) -> tuple[list[_File], list[str]]:
    """The live commit's files, opened under the source's lock (the table of contents last), and the home's files."""
    with home.reindex_lock(timeout):
        gen = home.live_dir()
        if gen is None:
            raise SourceError(f"no index at {home.path} to publish")
        toc = TOC.read(_storage(gen), INDEX_NAME)
        prefixes = tuple(segment.segment_id() + "." for segment in toc.segments)
        names = sorted(n for n in os.listdir(gen) if n.startswith(prefixes))
        names += [n for n in (MANIFEST, journal_path(gen).name) if (gen / n).exists()]
        names.append(TOC._filename(INDEX_NAME, toc.generation))  # written last: it names the others
        files = []
        try:
            for name in names:
                fd = os.open(gen / name, os.O_RDONLY)
                st = os.fstat(fd)
                files.append(_File(name, st.st_size, st.st_mtime_ns, fd))
        except OSError:
            for f in files:
                os.close(f.fd)
            raise
        return files, home_files(home.path)


def _storage(gen: Path):
    from whoosh.filedb.filestore import FileStorage

    return FileStorage(str(gen))


def _write_generation(target: IndexHome, files: list[_File]) -> PublishReport:
    """A new generation folder in ``target`` holding ``files``: linked where its live generation has them, else copied."""
    report = PublishReport()
    live = target.live_dir()
    have = {}
    if live is not None:
        for name in os.listdir(live):
            try:
                st = os.stat(live / name)
            except OSError:
                continue
            have[name] = (st.st_size, st.st_mtime_ns)
    if all(have.get(f.name) == (f.size, f.mtime_ns) for f in files):
        report.up_to_date, report.generation = True, live.name
        return report
    target.remove_stale_generations()  # a publish killed earlier left its folder
    gen = target.new_generation_dir()
    report.generation = gen.name
    for f in files:
        if have.get(f.name) == (f.size, f.mtime_ns) and _linked(live / f.name, gen / f.name):
            report.linked += 1
            continue
        _copy(f, gen / f.name)
        report.copied += 1
        report.copied_bytes += f.size
    _fsync_dir(gen)
    return report


def _linked(existing: Path, new: Path) -> bool:
    try:
        os.link(existing, new)
        return True
    except OSError:  # a file system without hard links: copy instead
        return False


def _copy(f: _File, to: Path) -> None:
    """Copy an open file whole (from its start), durably, keeping its modification time."""
    with open(to, "wb") as out:
        offset = 0
        while offset < f.size:
            chunk = os.pread(f.fd, min(CHUNK, f.size - offset), offset)
            if not chunk:
                raise SourceError(f"{f.name} ended early while it was copied")
            out.write(chunk)
            offset += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.utime(to, ns=(f.mtime_ns, f.mtime_ns))


def _carry_home_files(source: IndexHome, target: IndexHome, names: list[str]) -> None:
    """The source home's own files (e.g. a cursor-signing key), replaced atomically in ``target`` where they differ."""
    from searchsvc.store import write_bytes_atomically

    for name in names:
        try:
            data = (source.path / name).read_bytes()
        except OSError:
            continue
        try:
            same = (target.path / name).read_bytes() == data
        except OSError:
            same = False
        if not same:
            write_bytes_atomically(target.path / name, data, mode=os.stat(source.path / name).st_mode & 0o777)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
