"""The index home: where the live index generation lives and how it is swapped.

Layout of ``--index DIR``::

    DIR/CURRENT          name of the live generation + a commit stamp (replaced atomically)
    DIR/gen-*/           one Whoosh index each, with its manifest.json (and manifest.journal: see Manifest)
    DIR/.reindex.lock    held (flock) by the one running reindex (or a watcher's batch, or a publish)
    DIR/.watch.lock      held (flock) by the one running ``reindex --watch``
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

import orjson
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from searchsvc import schema
from searchsvc.errors import IndexBusy, IndexUnavailable, SourceError

CURRENT = "CURRENT"
LOCK = ".reindex.lock"
CURSOR_KEY = "cursor.key"
WATCH_LOCK = ".watch.lock"
MANIFEST = "manifest.json"
JOURNAL = "manifest.journal"
GEN_PREFIX = "gen-"
INDEX_NAME = "MAIN"  # Whoosh's name for the index inside a generation folder

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

    # identifies one saved manifest.json: journal lines apply to the manifest they were written after
    base: str | None = None

    @classmethod
    def load(cls, gen_dir: Path | None) -> "Manifest":
        if gen_dir is None:
            return cls()
        try:
            data = _from_json((gen_dir / MANIFEST).read_bytes())
        except (OSError, ValueError):
            return cls()
        manifest = cls(data.get("sources", []), data.get("files", {}), data.get("last_reindex"),
                       data.get("skipped", {}), data.get("names", {}), data.get("base"))
        manifest._replay(gen_dir)
        return manifest

    def save(self, gen_dir: Path) -> None:
        """The whole manifest, replaced atomically; the journal's lines are in it now."""
        self.last_reindex = _now()
        self.base = f"{os.getpid()}-{time.time_ns()}"
        data = {"sources": self.sources, "files": self.files, "last_reindex": self.last_reindex,
                "skipped": self.skipped, "names": self.names, "base": self.base}
        write_bytes_atomically(gen_dir / MANIFEST, _json_bytes(data))
        journal_path(gen_dir).unlink(missing_ok=True)

    def record(self, gen_dir: Path, files: dict[str, list | None], skipped: dict[str, list | None]) -> int:
        """Append one small update's entries (None: gone) to the journal; the journal's size in bytes.

        Rewriting the whole manifest costs in proportion to the index (30 ms
        at 21,000 files, ten times that at 216,000); a line costs in proportion
        to the update. ``load`` replays the lines written after the manifest
        it reads (a torn last line, from a crash while it was written, is
        ignored: its files are read again). The entries are already applied
        to this object.
        """
        self.last_reindex = _now()
        line = json.dumps({"base": self.base, "files": files, "skipped": skipped, "sources": self.sources,
                           "names": self.names, "last_reindex": self.last_reindex}, separators=(",", ":")) + "\n"
        with open(journal_path(gen_dir), "a", encoding="utf-8") as fh:
            fh.write(line)  # not fsynced: a line lost in a crash only means its files are read again
            return fh.tell()

    def _replay(self, gen_dir: Path) -> None:
        try:
            lines = journal_path(gen_dir).read_text("utf-8").splitlines()
        except OSError:
            return
        for raw in lines:
            try:
                entry = json.loads(raw)
            except ValueError:
                break  # torn by a crash: the last line
            if entry.get("base") != self.base:
                continue  # written before the manifest was saved whole (and already in it)
            for table, changes in ((self.files, entry["files"]), (self.skipped, entry["skipped"])):
                for path, value in changes.items():
                    if value is None:
                        table.pop(path, None)
                    else:
                        table[path] = value
            self.sources, self.last_reindex = entry["sources"], entry["last_reindex"]
            self.names = entry.get("names", self.names)


def _holder(fd: int) -> str:
    """Who holds a lock file, as its holder wrote it: "pid N" and a note."""
    return "pid " + (os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_bytes(data) -> bytes:
    """``data`` as compact JSON. orjson writes a 2-million-file manifest in well under a second where ``json``
    took six; it refuses the surrogate escapes a file name that is not UTF-8 decodes to, and ``json`` writes
    those."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _from_json(raw: bytes):
    """What ``_json_bytes`` wrote (a ValueError if it is not JSON)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def journal_path(gen_dir: Path) -> Path:
    return gen_dir / JOURNAL


def home_files(home: Path) -> list[str]:
    """The files an index home keeps beside its generations (e.g. a key that signs cursors): what a replica needs too.

    Not ``CURRENT`` (each home names its own live generation), the locks or
    temporary files.
    """
    try:
        entries = list(os.scandir(home))
    except OSError:
        return []
    local = {CURRENT, LOCK, WATCH_LOCK}
    return sorted(e.name for e in entries if e.is_file(follow_symlinks=False) and e.name not in local
                  and not e.name.endswith(".tmp") and not e.name.startswith(".probe-"))


class MappedStorage(FileStorage):
    """Whoosh's file storage, with the term tables and titles memory-mapped, and stored fields read at a position.

    Whoosh reads them a few bytes at a time (seek, read, tell on a file
    object): a term lookup is about a dozen system calls, a version's title
    two, each a few microseconds on these machines; from a mapping they are
    memory reads. The pages are the page cache's, shared by every server
    process. Stored fields are read a whole document at a time, one
    ``pread`` each: mapped, every article a server had shown stayed in its
    resident memory (137 MiB of 216,000 articles' stored fields after a few
    thousand queries), where a read leaves the pages to the file cache.
    Posting lists and the columns that are read whole stay plain files.
    Committed segment files never change, so a mapping never goes stale.
    """

    MAPPED = (".trm", ".title.col")
    READ_AT = ("._stored.col",)

    def open_file(self, name, **kwargs):
        if name.endswith(self.MAPPED):
            with open(self._fpath(name), "rb") as f:
                if os.fstat(f.fileno()).st_size:  # an empty file cannot be mapped
                    return MappedFile(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), name=name, **kwargs)
        if name.endswith(self.READ_AT):
            return ReadAtFile(open(self._fpath(name), "rb"), name=name, **kwargs)
        return super().open_file(name, **kwargs)


class PositionalFile(StructFile):
    """A file whose reads at a position (``get``) never move a shared file position.

    So a column reader over it can serve every thread of a server at once
    (``engine.SegmentCache.share_columns``); Whoosh's own ``get`` seeks first.
    """

    def get_array(self, position, typecode, length):
        from array import array

        from whoosh.system import IS_LITTLE

        a = array(typecode)
        a.frombytes(self.get(position, length * a.itemsize))
        if IS_LITTLE:
            a.byteswap()
        return a


class ReadAtFile(PositionalFile):
    """Reads with ``os.pread``."""

    def get(self, position, length):
        return os.pread(self.file.fileno(), length, position)


class MappedFile(PositionalFile):
    """Reads from a memory map."""

    def get(self, position, length):
        return self.file[position:position + length]


def write_atomically(path: Path, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def _touch_every_segment(ix, checked: set | None = None) -> None:
    """Read a little of each segment's files (stored fields, terms, postings, columns).

    ``checked``: (folder, segment id) of segments found whole before (skipped; those read here are added).
    """
    from itertools import islice

    from whoosh.reading import SegmentReader

    for segment in ix._segments():
        key = (ix.storage.folder, segment.segment_id())  # the same segment in another folder: other files
        if checked is not None and key in checked:
            continue
        with SegmentReader(ix.storage, ix.schema, segment) as reader:  # only the segments not checked yet
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
        if checked is not None:
            checked.add(key)


class IndexHome:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._current = os.fspath(self.path / CURRENT)  # a string, for stamp: joining a Path costs more than the stat

    # --- reading side -------------------------------------------------
    def stamp(self) -> tuple | None:
        """Changes whenever a reindex commits; cheap enough to check on every request."""
        try:
            st = os.stat(self._current)
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

    def open_index(self, checked: set | None = None):
        """The live Whoosh index; ``IndexUnavailable`` with a reason a person can act on.

        ``checked``: a server's set of segments already found whole (a commit's new segments are read).
        """
        gen = self.live_dir()
        if gen is None:
            raise IndexUnavailable(
                f"no index at {self.path}: build one with `searchsvc reindex --index {self.path}`"
            )
        try:
            ix = MappedStorage(str(gen)).open_index()
            _touch_every_segment(ix, checked)  # a truncated file fails here, not in the middle of a search
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
    def reindex_lock(self, timeout: float, waiting=None, note: str = ""):
        """One reindex at a time; a second one waits up to ``timeout`` seconds, then gives up clearly.

        ``waiting(message)`` is called once if it has to wait (a watcher says
        so and waits on); ``note`` is written after the pid, for that message.
        """
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
                    if waiting is not None:
                        waiting(f"another reindex ({_holder(fd)}) is running on {self.path}; waiting for it")
                        waiting = None
                    if time.monotonic() >= deadline:
                        raise IndexBusy(
                            f"another reindex ({_holder(fd)}) is running on {self.path}; "
                            f"waited {timeout:g}s, try again when it has finished"
                        ) from None
                    time.sleep(0.1 if timeout < 60 else 0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}{note}".encode(), 0)
            _HELD_LOCKS.add(fd)
            yield
        finally:
            _HELD_LOCKS.discard(fd)
            os.close(fd)  # releases the flock

    @contextmanager
    def watch_lock(self):
        """One ``reindex --watch`` per index home: a second one exits at once, naming the first."""
        fd = os.open(self.path / WATCH_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise IndexBusy(f"another watcher ({_holder(fd)}) is already watching for {self.path}") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            _HELD_LOCKS.add(fd)
            yield
        finally:
            _HELD_LOCKS.discard(fd)
            os.close(fd)

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
