"""Postings laid out for queries: each segment's title and body postings as raw arrays beside Whoosh's files.

Whoosh 2.7.4 keeps a posting list as pickled blocks of 128 postings, and a
posting's positions as a pickled list of gaps: a query's first use of a
word unpickles every block of it (63 µs a block), and a phrase unpickles
the positions of every candidate article. Served from the page cache, the
same postings as flat little-endian arrays are a slice of a memory map:
nothing to decode, nothing to keep in a cache of our own, and the pages
are shared by every server process.

``BulkSegmentWriter`` (segment.py) writes one ``.arr`` file per segment it
writes, named like Whoosh's files (so Whoosh's clean-up and ``publish``
treat it as one of the segment's files), and a file of its own even beside
a compound segment, so that it can be mapped. Terms are found through
Whoosh's own term table: a term's row gives the offset of its posting list
in the segment's posting file, and the arrays are ordered by that offset.
A segment without the file (an index written before it, or by Whoosh
itself) is read through the posting blocks as before (engine.py).

Layout (little-endian): an 8-byte magic, the counts T (terms), P
(postings), Q (positions) as int64, then the arrays ``offsets`` int64[T]
(ascending), ``starts`` int64[T + 1] (where each term's postings begin in
``docs``/``freqs``), ``position_starts`` int64[T + 1], ``docs`` uint32[P]
(segment document numbers, deleted ones included, ascending per term),
``freqs`` uint32[P] (occurrences, which is also how many positions each
posting has) and ``positions`` uint32[Q] (ascending per posting).
"""
from __future__ import annotations

import mmap
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are read: a reindex writes these files without it
    import numpy as np

EXTENSION = ".arr"
MAGIC = b"SSVCARR1"
_HEAD = struct.Struct("<8sqqq")


class ArraysWriter:
    """Collects a segment's text-field postings in term-table order and writes them as one file."""

    def __init__(self):
        self.offsets = array("q")
        self.starts = array("q", [0])
        self.position_starts = array("q", [0])
        self.docs = array("I")
        self.freqs = array("I")
        self.positions = array("I")

    def add(self, offset: int, docs: array, freqs, positions: array) -> None:
        """One term: where its posting list starts in the posting file, its postings and their positions."""
        if self.offsets and offset <= self.offsets[-1]:
            raise ValueError("posting lists must be added in the order of their offsets")
        self.offsets.append(offset)
        self.docs.extend(docs)
        self.freqs.extend(freqs)
        self.positions.extend(positions)
        self.starts.append(len(self.docs))
        self.position_starts.append(len(self.positions))

    def to_bytes(self) -> bytes:
        if len(self.positions) != sum(self.freqs):
            raise ValueError("a posting's positions must number its frequency")
        parts = [_HEAD.pack(MAGIC, len(self.offsets), len(self.docs), len(self.positions))]
        for values in (self.offsets, self.starts, self.position_starts, self.docs, self.freqs, self.positions):
            if sys.byteorder == "big":
                values = array(values.typecode, values)
                values.byteswap()
            parts.append(values.tobytes())
        return b"".join(parts)


@dataclass(frozen=True)
class TermPostings:
    """One term's postings in one segment: views into the mapped file (nothing copied)."""

    docs: np.ndarray       # uint32, ascending
    freqs: np.ndarray      # uint32
    positions: np.ndarray  # uint32, every posting's positions one after another
    first: np.ndarray      # int64: where each posting's positions begin in ``positions``

    def positions_of(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many positions each ``wanted`` document (ascending, segment numbers) has (0: absent), and all
        of them, document after document."""
        import numpy as np

        at = np.searchsorted(self.docs, wanted)
        found = at < len(self.docs)
        found[found] = self.docs[at[found]] == wanted[found]
        counts = np.zeros(len(wanted), np.int64)
        picked = at[found]
        counts[found] = self.freqs[picked]
        taken = counts[found]
        total = int(taken.sum())
        if not total:
            return counts, np.empty(0, np.int64)
        # each picked posting's run of positions, gathered in one fancy index
        run_start = np.cumsum(taken) - taken
        index = np.arange(total, dtype=np.int64) + np.repeat(self.first[picked] - run_start, taken)
        return counts, self.positions[index].astype(np.int64)


class SegmentArrays:
    """A segment's ``.arr`` file, mapped (beside a compound segment, a small one, read whole)."""

    def __init__(self, buffer):
        import numpy as np

        self._buffer = buffer
        magic, terms, postings, positions = _HEAD.unpack_from(buffer, 0)
        if magic != MAGIC:
            raise ValueError("not a postings arrays file")
        at = _HEAD.size

        def take(dtype, count):
            nonlocal at
            view = np.frombuffer(buffer, np.dtype(dtype).newbyteorder("<"), count, at)
            at += view.nbytes
            return view

        self.offsets = take(np.int64, terms)
        self.starts = take(np.int64, terms + 1)
        self.position_starts = take(np.int64, terms + 1)
        self.docs = take(np.uint32, postings)
        self.freqs = take(np.uint32, postings)
        self.positions = take(np.uint32, positions)
        if at != len(buffer):
            raise ValueError("postings arrays file has the wrong length")

    @classmethod
    def of(cls, reader) -> "SegmentArrays | None":
        """The segment's arrays, or None where it has none (written before them, or by Whoosh)."""
        segment = reader.segment() if hasattr(reader, "segment") else None
        storage = reader.storage() if hasattr(reader, "storage") else None
        if segment is None or storage is None:
            return None
        name = segment.make_filename(EXTENSION)
        if not storage.file_exists(name):
            return None
        try:
            folder = getattr(storage, "folder", None)
            if folder is not None and os.path.exists(os.path.join(folder, name)):  # a file of its own: map it
                with open(os.path.join(folder, name), "rb") as f:
                    return cls(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            f = storage.open_file(name)
            try:
                return cls(bytes(f.read()))
            finally:
                f.close()
        except (OSError, ValueError, struct.error):
            return None  # damaged or cut short: Whoosh's own files still hold every posting

    def _index(self, offset: int) -> int | None:
        """Which term's posting list starts at ``offset`` in the posting file (None: none of this file's)."""
        i = int(self.offsets.searchsorted(offset))
        return i if i < len(self.offsets) and self.offsets[i] == offset else None

    def term(self, offset: int) -> TermPostings | None:
        """The postings of the term whose posting list starts at ``offset`` in the posting file."""
        i = self._index(offset)
        if i is None:
            return None
        a, b = self.starts[i:i + 2].tolist()
        p, q = self.position_starts[i:i + 2].tolist()
        freqs = self.freqs[a:b]
        first = freqs.cumsum(dtype="int64")
        first -= freqs
        return TermPostings(self.docs[a:b], freqs, self.positions[p:q], first)

    def term_docs(self, offset: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Just the document numbers and frequencies (a ranked word: no positions needed)."""
        i = self._index(offset)
        if i is None:
            return None
        a, b = self.starts[i:i + 2].tolist()
        return self.docs[a:b], self.freqs[a:b]
