"""Stored fields laid out for hits: each segment's documents as uncompressed pickles beside Whoosh's files.

Whoosh 2.7.4 keeps a document's stored fields as a zlib-compressed pickle
in a column: a hit's fields cost a column lookup, an inflate (mostly its
fixed set-up) and an unpickling of an older protocol: 13-14 µs a document
at 21,000 and 216,000 articles, and a page reads ten to thirteen. The same
fields not compressed are one ``pread`` and one ``marshal.loads``: 2.8-2.9
µs (bench/stored_fields.py at 21,000), for about 970 bytes a document on
disk (Whoosh's compressed column: about 660).

``BulkSegmentWriter`` (segment.py) writes one ``.sto`` file per segment it
writes (fresh documents and merged ones alike: both pass through the
per-document writer), named like Whoosh's files so that Whoosh's clean-up
and ``publish`` treat it as one of the segment's files, and, like the
postings arrays (postings.py), a file of its own even beside a compound
segment. Whoosh's own stored column is written as before (byte for byte
Whoosh's). A segment without the file (an index written before it, or by
Whoosh itself), or whose file is damaged, is read through Whoosh's column
(engine.py).

Layout (little-endian): an 8-byte magic, the count N of the segment's
documents (deleted ones included) as int64, ``offsets`` int64[N + 1] (where
each document's bytes start in the data, the last where the data ends),
then the data: document d is ``data[offsets[d]:offsets[d + 1]]``, its
stored-fields dict encoded, or nothing for a document without stored fields.

Encoding: with magic ``SSVCSTO2``, a document is ``marshal`` (version 4) of
(its fields, the names of those that are dates), a date as its seven
numbers; a document with a value marshal cannot carry exactly (anything but
str, int, float, bool, None, bytes and naive dates) is marshal of its
pickle. Either is followed by its CRC-32 (little-endian uint32), checked
before marshal reads it (``_checked``). Files with magic ``SSVCSTO1`` (written before) hold pickles and are
still read. Unpickling looks up ``datetime`` by name for every document and
goes through pickle's general machinery: read and decoded, a Reuters
article's fields took 3.7-4.2 µs as a pickle against 2.8-2.9 µs
(bench/stored_fields.py, 21,000 articles); decoding alone with cold CPU
caches, as a server's after evaluating a query, 10.7-10.8 against 7.4-8.6
µs; a page's stored fields in bench/hit_cost.py, 113 against 83 µs.

The offsets are read from a memory map (8 bytes a document, the page
cache's pages); a document's bytes with one ``pread``, so that the pages of
the articles a server has shown are left to the file cache rather than
counted in its resident memory (store.MappedStorage says why).
"""
from __future__ import annotations

import marshal
import mmap
import os
import pickle
import struct
import sys
import zlib
from array import array
from datetime import datetime

EXTENSION = ".sto"
MAGIC = b"SSVCSTO2"  # documents marshalled (``encoded``)
PICKLED = b"SSVCSTO1"  # documents pickled: files written before, still read
MARSHAL_VERSION = 4  # written explicitly: marshal's default may change with Python's version, loading old ones stays
PROTOCOL = 5  # for a document marshal cannot carry: 1.9 µs to load, against 2.8 µs for Whoosh's protocol 2
_PLAIN = frozenset({str, int, float, bool, type(None), bytes})  # what marshal gives back as it was given
_HEAD = struct.Struct("<8sq")
_SPAN = struct.Struct("<qq")
_OFFSET = struct.Struct("<q")
_CRC = struct.Struct("<I")


class StoredWriter:
    """Collects a segment's documents' stored fields, document after document, and writes them as one file."""

    def __init__(self):
        self.offsets = array("q", [0])
        self.data = bytearray()

    def add(self, docnum: int, fields: dict) -> None:
        """Document ``docnum``'s stored fields (documents skipped before it have none)."""
        if docnum < len(self.offsets) - 1:
            raise ValueError(f"documents must be added in order: {docnum} after {len(self.offsets) - 2}")
        self._pad(docnum)
        if fields:
            self.data += encoded(fields)
        self.offsets.append(len(self.data))

    def _pad(self, count: int) -> None:
        self.offsets.extend([len(self.data)] * (count - (len(self.offsets) - 1)))

    def write(self, f, count: int) -> None:
        """The file of ``count`` documents (those never added have no stored fields) to ``f``."""
        if count < len(self.offsets) - 1:
            raise ValueError(f"{len(self.offsets) - 1} documents added to a segment of {count}")
        self._pad(count)
        offsets = self.offsets
        if sys.byteorder == "big":
            offsets = array("q", offsets)
            offsets.byteswap()
        f.write(_HEAD.pack(MAGIC, count) + offsets.tobytes())
        f.write(self.data)
        self.offsets, self.data = array("q", [0]), bytearray()


def encoded(fields: dict) -> bytes:
    """A document's stored fields as a file with ``MAGIC`` keeps them (``decoded`` gives them back)."""
    plain, dated = {}, []
    for name, value in fields.items():
        kind = type(value)
        if type(name) is not str:
            return _pickled(fields)
        if kind is datetime and value.tzinfo is None and not value.fold:
            plain[name] = (value.year, value.month, value.day, value.hour, value.minute, value.second,
                           value.microsecond)
            dated.append(name)
        elif kind in _PLAIN:
            plain[name] = value
        else:
            return _pickled(fields)
    return _checked(marshal.dumps((plain, tuple(dated)), MARSHAL_VERSION))


def _pickled(fields: dict) -> bytes:
    """A document that marshal cannot carry exactly, as marshal of its pickle (``decoded`` tells them apart)."""
    return _checked(marshal.dumps(pickle.dumps(fields, PROTOCOL), MARSHAL_VERSION))


def _checked(data: bytes) -> bytes:
    """``data`` followed by its CRC-32 (``decoded`` checks it before marshal reads a byte).

    marshal trusts what it reads: one damaged byte can announce a list of
    two thousand million items, which it allocates (16 GB) before finding
    the data short. bench/stored_damage.py (20,000 copies of an article,
    one to four bytes changed): unchecked, 15 took over 0.1 s (the slowest
    31 s) and 74% decoded to something else without an error; the pickles
    of ``SSVCSTO1`` files (still read, unchecked) 3 over 0.1 s and 19%
    misread; checked, every damaged copy refused at once. Whoosh's own
    column is zlib's, which checks its data. The checksum costs about
    0.6 µs a document (slice and CRC of 1,000 bytes).
    """
    return data + _CRC.pack(zlib.crc32(data))


def decoded(raw: bytes) -> dict:
    """The stored-fields dict ``encoded`` made ``raw`` of: the same keys in the same order, the same values.

    ValueError when its checksum does not match (the file is damaged: the caller reads Whoosh's column).
    """
    data = raw[:-_CRC.size]
    if len(raw) < _CRC.size or _CRC.unpack_from(raw, len(data))[0] != zlib.crc32(data):
        raise ValueError("stored fields damaged: checksum does not match")
    found = marshal.loads(data)
    if type(found) is bytes:
        return pickle.loads(found)
    fields, dated = found
    for name in dated:
        fields[name] = datetime(*fields[name])
    return fields


class StoredDocs:
    """A segment's ``.sto`` file: ``docs[docnum]`` is a document's stored fields, a new dict each time."""

    def __init__(self, buffer, count: int, fd: int | None = None):
        """``buffer``: the file's bytes (mapped, or read whole); ``fd``: the open file, to ``pread`` documents from."""
        magic, n = _HEAD.unpack_from(buffer, 0)
        if magic not in (MAGIC, PICKLED):
            raise ValueError("not a stored fields file")
        if n != count:
            raise ValueError(f"stored fields file of {n} documents for a segment of {count}")
        data_at = _HEAD.size + 8 * (n + 1)
        if data_at > len(buffer):
            raise ValueError("stored fields file has the wrong length")
        first, end = _OFFSET.unpack_from(buffer, _HEAD.size)[0], _OFFSET.unpack_from(buffer, _HEAD.size + 8 * n)[0]
        if first != 0 or data_at + end != len(buffer):
            raise ValueError("stored fields file has the wrong length")
        # set only once the file is found whole: ``__del__`` closes what is set
        self._buffer, self._fd, self._count, self._data_at = buffer, fd, n, data_at
        self._decoded = decoded if magic == MAGIC else pickle.loads

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, docnum: int) -> dict:
        if not 0 <= docnum < self._count:
            raise IndexError(docnum)
        start, end = _SPAN.unpack_from(self._buffer, _HEAD.size + 8 * docnum)
        if end <= start:
            if end < start:
                raise ValueError(f"stored fields of document {docnum}: offsets out of order")
            return {}
        at = self._data_at + start
        raw = os.pread(self._fd, end - start, at) if self._fd is not None else self._buffer[at:at + end - start]
        return self._decoded(raw)

    def _close(self) -> None:
        """Give the mapping and the file back: only when the object goes (a thread may be reading it until
        then, and a closed descriptor's number is soon another file's)."""
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None
        if isinstance(getattr(self, "_buffer", None), mmap.mmap):
            self._buffer.close()

    def __del__(self):
        try:
            self._close()
        except Exception:  # interpreter shutdown
            pass

    @classmethod
    def of(cls, reader) -> "StoredDocs | None":
        """The segment's stored documents, or None where it has no file (written before them, or by Whoosh)
        or its file is damaged: Whoosh's stored column holds every document too."""
        segment = reader.segment() if hasattr(reader, "segment") else None
        storage = reader.storage() if hasattr(reader, "storage") else None
        if segment is None or storage is None:
            return None
        name = segment.make_filename(EXTENSION)
        count = segment.doc_count_all()
        try:
            if not storage.file_exists(name):
                return None
            folder = getattr(storage, "folder", None)
            path = os.path.join(folder, name) if folder is not None else None
            if path is not None and os.path.exists(path):  # a file of its own: map its offsets, pread documents
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    buffer = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):  # an empty file cannot be mapped
                    os.close(fd)
                    raise
                try:
                    return cls(buffer, count, fd)
                except BaseException:
                    buffer.close()
                    os.close(fd)
                    raise
            f = storage.open_file(name)
            try:
                return cls(bytes(f.read()), count)
            finally:
                f.close()
        except (OSError, ValueError, struct.error):
            return None
