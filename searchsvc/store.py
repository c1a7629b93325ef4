"""The index home: where the live index generation lives and how it is swapped.

Layout of ``--index DIR``::

    DIR/CURRENT          name of the live generation + a commit stamp (replaced atomically)
    DIR/gen-*/           one Whoosh index each, with its manifest.json
    DIR/.reindex.lock    held (flock) by the one running reindex
    DIR/cursor.key       the secret that signs cursors (made once, unless a setting gives one)

A full rebuild writes a new ``gen-*`` beside the live one and switches
``CURRENT`` with ``os.replace`` only after its commit, so a search never sees a
half-built index and a crash leaves the old one serving. Incremental updates
commit into the live generation (Whoosh's own commit is atomic: readers keep
the last complete table of contents) and then rewrite ``CURRENT`` so servers
notice. flock locks vanish with their process, so a killed reindex never
leaves a stale lock behind.
"""
from __future__ import annotations

import errno
import fcntl
import json
import mmap
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from searchsvc import schema
from searchsvc.errors import IndexBusy, IndexUnavailable, SourceError

CURRENT = "CURRENT"
LOCK = ".reindex.lock"
CURSOR_KEY = "cursor.key"
MANIFEST = "manifest.json"
GEN_PREFIX = "gen-"

# reindex locks this process holds; a forked worker closes its copies (see below)
_HELD_LOCKS: set[int] = set()


def _drop_inherited_locks() -> None:
    """In a forked child: close the inherited reindex-lock descriptors.

    An flock belongs to the open file, which forked workers share; if they
    kept their copies, a reindex killed with SIGKILL would stay "running"
    until its last worker noticed and exited.
    """
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


@dataclass
class Manifest:
    """What the live generation was built from: enough to skip unchanged files without reading them."""

    sources: list[str] = field(default_factory=list)
    # absolute file path -> [size, mtime_ns, [document ids], source root]
    files: dict[str, list] = field(default_factory=dict)
    last_reindex: str | None = None
    # absolute file path -> [size, mtime_ns, reason, source root]: files that held no article;
    # named again from here, and read again only once their size or mtime changes
    skipped: dict[str, list] = field(default_factory=dict)
    # source root -> the publication it holds (`reindex DIR --source NAME`): the source of pages that name none
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, gen_dir: Path | None) -> "Manifest":
        if gen_dir is None:
            return cls()
        try:
            data = json.loads((gen_dir / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls(data.get("sources", []), data.get("files", {}), data.get("last_reindex"), data.get("skipped", {}),
                   data.get("names", {}))

    def save(self, gen_dir: Path) -> None:
        self.last_reindex = datetime.now(timezone.utc).isoformat(timespec="seconds")
        data = {"sources": self.sources, "files": self.files, "last_reindex": self.last_reindex,
                "skipped": self.skipped, "names": self.names}
        write_atomically(gen_dir / MANIFEST, json.dumps(data, separators=(",", ":")))


class MappedStorage(FileStorage):
    """Whoosh's file storage, with the term tables and stored fields memory-mapped for reading.

    Whoosh reads them a few bytes at a time (seek, read, tell on a file
    object): a term lookup is about a dozen system calls, a hit's stored
    fields or a version's title two, each a few microseconds on these
    machines; from a mapping they are memory reads. The pages are the page
    cache's, shared by every server process. Posting lists and the columns
    that are read whole stay plain files (mapping them would count the
    warmed lists again, as pages).
    Committed segment files never change, so a mapping never goes stale.
    """

    MAPPED = (".trm", "._stored.col", ".title.col")

    def open_file(self, name, **kwargs):
        if name.endswith(self.MAPPED):
            with open(self._fpath(name), "rb") as f:
                if os.fstat(f.fileno()).st_size:  # an empty file cannot be mapped
                    return StructFile(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), name=name, **kwargs)
        return super().open_file(name, **kwargs)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _touch_every_segment(ix) -> None:
    """Read a little of each segment's files (stored fields, terms, postings, columns)."""
    from itertools import islice

    with ix.searcher() as searcher:
        for sub, _ in searcher.leaf_searchers():
            reader = sub.reader()
            if not reader.doc_count_all():
                continue
            reader.stored_fields(0)
            reader.stored_fields(reader.doc_count_all() - 1)
            for fieldname, text in islice(reader.all_terms(), 1):
                list(islice(reader.postings(fieldname, text).all_ids(), 1))
            # postings are written in term order: the last field's last term ends the file
            last_field = max(reader.indexed_field_names())
            last_term = None
            for last_term in reader.lexicon(last_field):
                pass
            if last_term is not None:
                list(reader.postings(last_field, last_term).all_ids())
            for fieldname in (schema.DATEKEY, schema.ID):
                if reader.has_column(fieldname):
                    reader.column_reader(fieldname)[0]


class IndexHome:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    # --- reading side -------------------------------------------------
    def stamp(self) -> tuple | None:
        """Changes whenever a reindex commits; cheap enough to check on every request."""
        try:
            st = os.stat(self.path / CURRENT)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def live_dir(self) -> Path | None:
        try:
            name = (self.path / CURRENT).read_text("utf-8").split()[0]
        except (OSError, IndexError):
            return None
        gen = self.path / name
        return gen if gen.is_dir() else None

    def open_index(self):
        """The live Whoosh index; ``IndexUnavailable`` with a reason a person can act on."""
        gen = self.live_dir()
        if gen is None:
            raise IndexUnavailable(
                f"no index at {self.path}: build one with `searchsvc reindex --index {self.path}`"
            )
        try:
            ix = MappedStorage(str(gen)).open_index()
            _touch_every_segment(ix)  # a truncated file fails here, not in the middle of a search
        except Exception as exc:  # Whoosh raises many kinds for a damaged index
            raise IndexUnavailable(
                f"the index at {self.path} cannot be opened ({type(exc).__name__}: {exc}); "
                f"rebuild it with `searchsvc reindex --full --index {self.path}`"
            ) from None
        if not schema.is_current(ix.schema):
            raise IndexUnavailable(
                f"the index at {self.path} was built by another version of searchsvc; "
                f"rebuild it with `searchsvc reindex --full --index {self.path}`"
            )
        return ix

    def cursor_key(self) -> str | None:
        """The secret that signs cursors, made on first use and kept here; None if it can be neither read nor made.

        Kept in the index home, it is the same for every server process and
        replica that reads this folder, and outlives restarts (cursors stay
        valid). Made by writing a new file and linking it into place, so two
        processes starting at once agree on one key.
        """
        path = self.path / CURSOR_KEY
        for _ in range(2):
            try:
                key = path.read_text("ascii").strip()
                if key:
                    return key
            except (OSError, UnicodeError):
                pass
            try:
                self._make_cursor_key(path)
            except FileExistsError:
                continue
            except OSError:
                return None
        return None

    def _make_cursor_key(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_urlsafe(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        finally:
            os.unlink(tmp)

    # --- writing side -------------------------------------------------
    def ensure_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise SourceError(f"index folder {self.path} is not writable: {exc.strerror or exc}") from None

    @contextmanager
    def reindex_lock(self, timeout: float):
        """One reindex at a time; a second one waits up to ``timeout`` seconds, then gives up clearly."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                        raise IndexBusy(
                            f"another reindex (pid {holder}) is running on {self.path}; "
                            f"waited {timeout:g}s, try again when it has finished"
                        ) from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            _HELD_LOCKS.add(fd)
            yield
        finally:
            _HELD_LOCKS.discard(fd)
            os.close(fd)  # releases the flock

    def new_generation_dir(self) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        gen = self.path / f"{GEN_PREFIX}{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        gen.mkdir(parents=True)
        return gen

    def publish(self, gen: Path) -> None:
        """Make ``gen`` the live generation (or announce a new commit in it) in one atomic step."""
        write_atomically(self.path / CURRENT, f"{gen.name}\n{time.time_ns()}\n")

    def remove_stale_generations(self) -> None:
        """Delete every generation but the live one: failed builds and replaced ones.

        Servers that still hold a replaced generation's files open keep reading
        them (POSIX keeps unlinked files alive) until they switch on their next request.
        """
        live = self.live_dir()
        for gen in self.path.glob(GEN_PREFIX + "*"):
            if gen.is_dir() and (live is None or gen.name != live.name):
                shutil.rmtree(gen, ignore_errors=True)

    def size_on_disk(self) -> int:
        gen = self.live_dir()
        if gen is None:
            return 0
        return sum(p.stat().st_size for p in gen.iterdir() if p.is_file())
