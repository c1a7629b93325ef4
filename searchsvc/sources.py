"""Finding article files and turning each into documents.

A source is a file or a folder (walked recursively, symlinked folders not
followed, so a link loop cannot trap the walk). A document's id is its path
relative to the folder it was found under (posix form; a file named
directly: its name), or the ``id`` of a JSON Lines record.
"""
from __future__ import annotations

import functools
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Iterator

KINDS = {
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".txt": "text",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}
TEXT_KEYS = ("body", "text")
MAX_JSONL_LINE = 20 * 1024 * 1024
# bytes that text never holds (whitespace, form feed and escape excepted)
CONTROL_BYTES = [c for c in range(32) if c not in (9, 10, 12, 13, 27)] + [127]
SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SourceFile:
    path: str       # absolute path
    root: str       # the source (folder or file) it was found under, absolute
    rel: str        # posix path relative to root (the document id of a page)
    kind: str       # html | text | jsonl
    size: int
    mtime_ns: int


@dataclass
class Document:
    """A cleaned article, ready for the index."""

    id: str
    title: str
    body: str
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
    topics: list[str] = field(default_factory=list)
    signature: object = None  # dedup.Signature, computed by the indexer's workers


@dataclass
class Problem:
    """Something skipped, named with its reason (printed on stderr, counted in the summary)."""

    name: str
    reason: str

    def __str__(self):
        return f"skipped {self.name}: {self.reason}"


def scan(roots: list[Path], problems: list[Problem]) -> Iterator[SourceFile]:
    """Every indexable file under ``roots``; unreadable entries go to ``problems``.

    One ``stat`` per file and plain strings: a no-op reindex is mostly this walk.
    """
    for root in roots:
        root = os.path.abspath(root)
        if os.path.isdir(root):
            yield from _walk(root, problems)
        else:
            kind = KINDS.get(os.path.splitext(root)[1].lower())
            entry = _entry(root, root, os.path.basename(root), kind, problems) if kind else None
            if entry:
                yield entry


def _walk(root: str, problems: list[Problem], real_root: str | None = None) -> Iterator[SourceFile]:
    """The folder's files in name order, each folder's files before its subfolders' (as ``os.walk``).

    ``scandir`` says which entries are links without another system call:
    folders that are links are not followed (a loop cannot trap the walk),
    and a file that is a link is indexed only if it resolves inside the
    source folder it was found in (``link_outside``; ``real_root``: that
    folder's real path, when ``root`` is a folder inside it).
    """
    real_root = real_root or os.path.realpath(root)
    splitext, kinds = os.path.splitext, KINDS
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(exc.filename or folder, exc.strerror or str(exc)))
            continue
        subfolders = []
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                subfolders.append((e.path, prefix + e.name + "/"))
                continue
            kind = kinds.get(splitext(e.name)[1].lower())
            if kind is None:
                continue
            if e.is_symlink():
                outside = link_outside(e.path, real_root)
                if outside:
                    problems.append(Problem(e.path, outside))
                    continue
            entry = _entry(e.path, root, prefix + e.name, kind, problems)
            if entry:
                yield entry
        pending.extend(reversed(subfolders))


def link_outside(path: str, real_root: str) -> str | None:
    """Why the link at ``path`` may not be read (it resolves outside ``real_root``), or None.

    A source folder's own links to its own files keep working; one to
    ``/etc/passwd`` would put that file in the index and on the search page.
    """
    return _outside(os.path.realpath(path), real_root)


def _outside(target: str, real_root: str) -> str | None:
    """The reason to skip a file whose real path is ``target``, or None when it lies inside ``real_root``."""
    if target == real_root or target.startswith(os.path.join(real_root, "")):
        return None
    return f"symbolic link to a file outside the source folder ({target})"


def _entry(path: str, root: str, rel: str, kind: str, problems: list[Problem]) -> SourceFile | None:
    try:
        st = os.stat(path)  # follows a symlinked file; a dangling one fails here
    except OSError as exc:
        problems.append(Problem(path, _reason(exc)))
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # e.g. a folder named x.html, or a link to a folder
    return SourceFile(path, root, valid_text(rel), kind, st.st_size, st.st_mtime_ns)


def valid_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD: the index stores UTF-8, which cannot hold them.

    They come from file names that are not UTF-8 (Python decodes those bytes
    as surrogates) and from ``\\ud800``-style escapes in JSON.
    """
    if not text or text.isascii():
        return text
    return SURROGATES.sub("\ufffd", text) if SURROGATES.search(text) else text


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and os.path.islink(exc.filename or ""):
        return "dangling symbolic link"
    return exc.strerror or str(exc)


class SkipFile(Exception):
    """This file holds no article we can index; the message says why."""


def read_documents(f: SourceFile, max_bytes: int) -> tuple[list[Document], list[Problem]]:
    """The documents in one file; a bad JSON Lines record is a problem, not the file's end."""
    from searchsvc import clean  # imported here: a no-op reindex never needs the HTML stack

    if f.kind == "jsonl":
        return _read_jsonl(f, clean)
    if f.size > max_bytes:
        raise SkipFile(f"larger than the {max_bytes // (1024 * 1024)} MiB limit per file ({f.size} bytes)")
    data = _read_bytes(f, max_bytes)
    if not data.strip():
        raise SkipFile("empty file")
    if _looks_binary(data):
        raise SkipFile("binary content, not text")
    data = data.replace(b"\x00", b"")
    if f.kind == "html":
        article = clean.extract_article(data)
    else:
        article = clean.extract_plain_text(decode_text(data))
    body = _text_or_headline(article.text, article.title)
    if not body:
        raise SkipFile("no article text found")
    title = article.title or _title_from_name(f.rel)
    return [_valid_document(Document(f.rel, title, body, article.published, article.author,
                                     article.source, article.url))], []


def _text_or_headline(text: str, title: str) -> str:
    """The article's text; for a brief that is only a headline (wire services publish them), the headline."""
    return text if text.strip() else title.strip()


# Stored metadata is shown on every result page and kept in every cached page: a headline
# is a line, not a book. Longer values are cut at a word (with "…"); a longer url is
# dropped (a cut address leads nowhere), a longer id skips its document (it names it).
MAX_TITLE_CHARS = 500
MAX_AUTHOR_CHARS = 200
MAX_SOURCE_CHARS = 200
MAX_URL_CHARS = 2048
MAX_TOPICS = 50
MAX_TOPIC_CHARS = 100
MAX_ID_CHARS = 1024


def _valid_document(doc: Document) -> Document:
    """``doc`` as the index stores it: text the index can hold (UTF-8), metadata one line each and capped."""
    for name in ("id", "title", "body", "author", "source", "url"):
        value = getattr(doc, name)
        if value:
            setattr(doc, name, valid_text(value))
    if len(doc.id) > MAX_ID_CHARS:
        raise SkipFile(f"id longer than {MAX_ID_CHARS} characters ({len(doc.id)})")
    doc.title = capped(doc.title, MAX_TITLE_CHARS)
    doc.author = capped(doc.author, MAX_AUTHOR_CHARS) or None
    doc.source = capped(doc.source, MAX_SOURCE_CHARS) or None
    doc.url = doc.url.strip() if doc.url and len(doc.url.strip()) <= MAX_URL_CHARS else None
    topics = (capped(valid_text(str(t)), MAX_TOPIC_CHARS) for t in doc.topics[:MAX_TOPICS])
    doc.topics = [t for t in topics if t]
    return doc


def capped(text: str | None, limit: int) -> str:
    """``text`` on one line (runs of whitespace become one space), cut at a word before ``limit`` characters."""
    if not text:
        return ""
    if len(text) > 4 * limit:
        text = text[:4 * limit]  # a megabyte headline is not split into words to keep its first few
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ", limit // 2)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _read_bytes(f: SourceFile, max_bytes: int) -> bytes:
    """The file's first ``max_bytes`` bytes: one more is read and dropped, as before (a file past the limit was
    caught by its scanned size; one grown since is read on, up to the limit).

    Unbuffered reads of the size the scan saw: a buffered ``read(max_bytes + 1)``
    made a 20 MiB buffer for every page (25 µs a page, 6 this way).
    """
    limit = max_bytes + 1
    chunks, got, want = [], 0, min(f.size, max_bytes) + 1
    with open_source(f, buffering=0) as fh:
        while got < limit:
            chunk = fh.read(min(want, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            want = READ_ON
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return data[:max_bytes]


READ_ON = 1 << 20  # bytes per read past the size the scan saw


def open_source(f: SourceFile, buffering: int = -1):
    """``f`` opened for reading, if what was opened lies inside its source folder (else ``SkipFile``).

    The scan already skipped links that lead outside; this catches a file
    or folder swapped for such a link between the scan and the read: the
    open file's own path (``/proc/self/fd``) is checked, not the name.
    """
    fh = open(f.path, "rb", buffering=buffering)
    if f.root == f.path:
        return fh  # a file named as a source itself: wherever it lives
    try:
        try:
            opened = os.readlink(f"/proc/self/fd/{fh.fileno()}")  # already resolved
        except OSError:  # no /proc: the name, resolved now
            opened = os.path.realpath(f.path)
        outside = _outside(opened, _real_path(f.root))
    except BaseException:
        fh.close()
        raise
    if outside:
        fh.close()
        raise SkipFile(outside)
    return fh


@functools.lru_cache(maxsize=64)
def _real_path(root: str) -> str:
    return os.path.realpath(root)


_CONTROL_DELETE = bytes(CONTROL_BYTES)


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text
    controls = len(head) - len(head.translate(None, _CONTROL_DELETE))  # one C pass
    return controls > len(head) // 20 or b"\x00\x00\x00" in head


def decode_text(data: bytes) -> str:
    """Plain text: UTF-8 (with or without BOM, UTF-16 with BOM), else windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _title_from_name(rel: str) -> str:
    return PurePath(rel).stem.replace("-", " ").replace("_", " ").strip()


def _read_jsonl(f: SourceFile, clean) -> tuple[list[Document], list[Problem]]:
    docs, problems = [], []
    with open_source(f) as fh:
        for lineno, raw in enumerate(_bounded_lines(fh, MAX_JSONL_LINE), 1):
            name = f"{f.rel}:{lineno}"
            if raw is None:
                problems.append(Problem(name, "record longer than 20 MiB"))
                continue
            if not raw.strip():
                continue
            try:
                docs.append(_valid_document(_record_document(json.loads(raw), clean)))
            except (ValueError, SkipFile) as exc:
                problems.append(Problem(name, str(exc) if isinstance(exc, SkipFile) else f"not JSON: {exc}"))
            except RecursionError:  # JSON (or a record's html) nested deeper than Python's stack
                problems.append(Problem(name, "record nested too deeply to read"))
    if not docs and not problems:
        raise SkipFile("empty file")
    return docs, problems


def _bounded_lines(fh, limit: int) -> Iterator[bytes | None]:
    """Each line of ``fh``, or None for one longer than ``limit`` bytes (skipped without holding it)."""
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        if len(raw) <= limit:
            yield raw
            continue
        while not raw.endswith(b"\n"):
            raw = fh.readline(1 << 20)
            if not raw:
                break
        yield None


def _record_document(record, clean) -> Document:
    if not isinstance(record, dict):
        raise SkipFile("record is not a JSON object")
    doc_id = record.get("id")
    if doc_id is None or str(doc_id).strip() == "":
        raise SkipFile("record has no id")
    title = _text(record.get("title"))
    body = next((_text(record[k]) for k in TEXT_KEYS if _text(record.get(k))), "")
    article = None
    if not body and _text(record.get("html")):
        article = clean.extract_article(record["html"], url=_text(record.get("url")) or None)
        body = article.text
    title = title or (article.title if article else "")
    body = _text_or_headline(body, title)
    if not body:
        raise SkipFile(f"record {doc_id} has no title and no text")
    published = record.get("published") or record.get("date")
    topics = record.get("topics") or []
    return Document(
        id=str(doc_id).strip(),
        title=title,
        body=body,
        published=clean.parse_date(str(published)) if published else (article.published if article else None),
        author=_text(record.get("author")) or (article.author if article else None) or None,
        source=_text(record.get("source")) or (article.source if article else None) or None,
        url=_text(record.get("url")) or (article.url if article else None) or None,
        topics=[str(t) for t in topics] if isinstance(topics, list) else [str(topics)],
    )


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value)


def scan_within(root: str, path: str, problems: list[Problem]) -> Iterator[SourceFile]:
    """The indexable files at or under ``path``, a file or folder inside the source ``root`` (both absolute),
    named as ``scan(root)`` names them: what a watcher reads when ``path`` changes."""
    if os.path.isdir(path):
        base = os.path.relpath(path, root).replace(os.sep, "/")
        prefix = "" if base == "." else base + "/"
        for entry in _walk(path, problems, _real_path(root)):
            yield SourceFile(entry.path, root, valid_text(prefix) + entry.rel, entry.kind, entry.size, entry.mtime_ns)
        return
    kind = KINDS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        return
    if path != root and os.path.islink(path):
        outside = link_outside(path, _real_path(root))
        if outside:
            problems.append(Problem(path, outside))
            return
    rel = os.path.basename(path) if path == root else os.path.relpath(path, root).replace(os.sep, "/")
    entry = _entry(path, root, rel, kind, problems)
    if entry:
        yield entry
