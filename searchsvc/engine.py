"""Evaluating a query a posting list at a time: numpy arrays per index generation.

Whoosh's matchers walk the matching documents one at a time in Python (20–30
µs each), so a query matching 5,000 articles cost 100 ms before a page could
be cut, and exact totals, facets and near-duplicate folding need every match.
Here the same query tree is evaluated whole lists at once: a ranked term
becomes two arrays (document numbers, BM25 scores with ranking.py's formula),
``And``/``Or``/``AndNot`` become array merges, and totals, facets, groups,
filters and orderings are array operations on columns read once per index
generation. Phrases intersect their words' lists and read only the
candidates' positions; they score as the sum of their words' BM25, like
words. Any other node (an author phrase) is run by Whoosh's own matcher and
turned into the same arrays, so every query scores as Whoosh would score it
(tests/test_engine.py compares the two on random query trees).

A ``Generation`` is read-only once built and shared by every thread; reading
a term's postings needs a searcher, which each thread brings (its own).
Whoosh 2.7.4 is pinned, and the block reader below uses its posting blocks
directly (falling back to the matcher API when a reader has none).
"""
from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, repeat

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from whoosh import formats
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.util.numeric import byte_to_length

from searchsvc import ranking, schema
from searchsvc.postings import SegmentArrays
from searchsvc.segment import TEXT_FIELDS, decode_positions, term_offset, term_postings
from searchsvc.stored import StoredDocs

DOCNUM = np.int64
LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
EPOCH = datetime(1970, 1, 1)
POSTINGS_BUDGET = 8_000_000  # scored postings kept per generation (16 bytes each) where lists are decoded
MAPPED_POSTINGS_BUDGET = 2_500_000  # where every list is a slice of a mapped file: scored lists kept (warmed, ``_to_warm``)
POSITIONS_BYTES = 32 * 1024 * 1024  # positions of frequent words kept per generation (4 bytes each, 20 a document)
ALL_POSITIONS_FROM = 1000  # a word in this many articles: a phrase reads (and keeps) all its positions at once
WARM_MIN_DF = 100  # decoded lists shorter than this cost little more than their lookup: not warmed (``_to_warm``)
# words whose title postings' places in their merged-field postings are kept per commit (about 2 kB each at 216k)
TITLE_PLACES = 5_000
WARM_MIN_DOCS = 1000  # smaller segments (a watcher's) are left to the first queries after a server's first warm-up


@dataclass(frozen=True)
class Matches:
    """The documents a query matches, ascending, with their scores.

    ``missing``, when set, is how many of the query's words each document
    lacks: the tier it is ordered by before its score (plan.py).
    """

    docnums: np.ndarray  # int64, ascending, unique
    scores: np.ndarray   # float64
    missing: np.ndarray | None = None  # int64, or None: not ordered by tiers

    def __len__(self) -> int:
        return len(self.docnums)

    def where(self, keep: np.ndarray) -> "Matches":
        return Matches(self.docnums[keep], self.scores[keep], None if self.missing is None else self.missing[keep])

    def tiered(self, missing: np.ndarray) -> "Matches":
        return Matches(self.docnums, self.scores, missing)


def empty() -> Matches:
    return Matches(np.empty(0, DOCNUM), np.empty(0, np.float64))


@dataclass(frozen=True)
class Codes:
    """A keyword column as integer codes: ``values[codes[doc]]``, -1 where a document has none."""

    values: list[str]
    codes: np.ndarray  # int32

    def code_of(self, value: str) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            return -1


@dataclass
class SegmentColumns:
    """One segment's columns as arrays (local document numbers), read once: segments never change once written."""

    ids: list[str]
    datekey: np.ndarray            # int64
    codes: dict[str, Codes]        # source, year: values in order of first appearance
    group: Codes                   # near-duplicate group names (-1: none)
    lengths: dict[str, np.ndarray]  # content, title: BM25's field length; author: whether there is one


class SegmentCache:
    """What each segment of the index holds, read once for every commit that keeps the segment.

    A commit adds segments and marks deletions; it never changes a written
    segment. So a commit every second (``reindex --watch``) costs a server
    the new segments' columns and postings, not the whole index again: the
    columns of the large segments, their words' postings (document numbers
    and frequencies; the scores depend on the whole commit and are worked out
    per ``Generation``) and their spelling words are kept here by segment id.
    Segments no commit uses any more are forgotten (``keep_only``).
    """

    def __init__(self, budget: int = POSTINGS_BUDGET):
        self.budget = budget
        self._columns: dict[object, SegmentColumns] = {}
        self._arrays: dict[object, SegmentArrays | None] = {}  # a segment's title and body postings, mapped
        self._stored: dict[object, StoredDocs | None] = {}  # a segment's stored documents, uncompressed
        self._postings: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, int]] = OrderedDict()
        self._held = 0
        self._spelling: dict[object, dict[str, list[str]]] = {}  # segment -> first letter -> words
        self.warmed: set = set()  # segments whose frequent words are loaded
        self._lock = threading.Lock()
        # near-duplicate group names numbered once for every commit (a commit's own numbering cost
        # a pass over every group name: most articles name a group of their own)
        self._group_names: dict[str, int] = {}
        self._group_codes: dict[object, np.ndarray] = {}
        self._shared_columns: dict[tuple, object] = {}  # (folder, segment, column) -> a reader every thread uses

    def group_codes(self, key, part: SegmentColumns) -> np.ndarray:
        """A segment's group codes in the numbering all generations share (-1: no group)."""
        codes = self._group_codes.get(key)
        if codes is None:
            with self._lock:
                names = self._group_names
                remap = np.array([names.setdefault(v, len(names)) for v in part.group.values] + [-1], DOCNUM)
                codes = self._group_codes[key] = remap[part.group.codes]
        return codes

    @property
    def group_names(self) -> int:
        return len(self._group_names)

    def columns(self, key, reader) -> SegmentColumns:
        found = self._columns.get(key)
        if found is None:
            found = self._columns[key] = _read_columns(reader)
        return found

    def arrays(self, key, reader) -> SegmentArrays | None:
        """The segment's postings arrays (postings.py), None where it has none."""
        return self._opened(self._arrays, key, SegmentArrays.of, reader)

    def stored(self, key, reader) -> StoredDocs | None:
        """The segment's stored documents file (stored.py), None where it has none."""
        return self._opened(self._stored, key, StoredDocs.of, reader)

    def _opened(self, held: dict, key, open_file, reader):
        """``open_file(reader)``, once per segment: threads that race keep the first one opened."""
        if key not in held:
            found = open_file(reader)
            with self._lock:
                held.setdefault(key, found)
        return held[key]

    def postings(self, key, reader, fieldname: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray, int]:
        """(local document numbers, frequencies, document frequency) of a term in one segment: a slice of
        the segment's arrays where it has them, else decoded from Whoosh's blocks (and kept, a bounded LRU)."""
        arrays = self.arrays(key, reader)
        if arrays is not None and fieldname in TEXT_FIELDS:
            offset = term_offset(reader, fieldname, tbytes)
            found = arrays.term_docs(offset) if offset is not None else None
            return (found[0], found[1], len(found[0])) if found is not None else _NO_POSTINGS
        entry = (key, fieldname, tbytes)
        with self._lock:
            found = self._postings.get(entry)
            if found is not None:
                self._postings.move_to_end(entry)
                return found
        m, df = term_postings(reader, fieldname, tbytes)
        found = _read_postings(m) + (df,) if m is not None else _NO_POSTINGS
        with self._lock:
            if entry not in self._postings:
                self._postings[entry] = found
                self._held += len(found[0]) + 1
                while self._held > self.budget and len(self._postings) > 1:
                    _, old = self._postings.popitem(last=False)
                    self._held -= len(old[0]) + 1
        return found

    def held(self, key, fieldname: str, tbytes: bytes) -> bool:
        return (key, fieldname, tbytes) in self._postings

    def spelling(self, key, reader, field: str, first: str | None) -> dict[str, list[str]]:
        """A segment's spelling words by first letter: those of ``first``, or all of them (None)."""
        by_letter = self._spelling.get(key)
        if by_letter is None or (first is not None and first not in by_letter and "" not in by_letter):
            read: dict[str, list[str]] = {}
            if first is None:
                for term in reader.lexicon(field):
                    word = _text(term)
                    read.setdefault(word[:1], []).append(word)
                read[""] = []  # every letter is here
            else:
                read[first] = [_text(t) for t in reader.expand_prefix(field, first)]
            with self._lock:
                by_letter = self._spelling[key] = (self._spelling.get(key) or {}) | read
        return by_letter

    def share_columns(self, searcher) -> None:
        """Give each segment reader of ``searcher`` the one stored-fields and title column reader of its segment.

        Whoosh makes a new column reader for every segment reader, and each
        reads the column's whole offset table first (2 ms for a segment of
        10,000 articles): each new searcher paid it again, and a server opens
        several per commit. Over a ``store.PositionalFile`` a column reader reads
        without a file position, so one per segment serves every thread.
        """
        from whoosh.codec.whoosh3 import STORED_COLUMN, W3Codec

        from searchsvc.store import PositionalFile

        for sub, _ in searcher.leaf_searchers():
            reader = sub.reader()
            perdoc = getattr(reader, "_perdoc", None)
            segment = reader.segment() if hasattr(reader, "segment") else None
            if perdoc is None or segment is None or not hasattr(perdoc, "_readers"):
                continue
            storage = perdoc._storage
            for name, column in (("_stored", STORED_COLUMN), (schema.TITLE, reader.schema[schema.TITLE].column_type)):
                key = (getattr(storage, "folder", None), segment.segment_id(), name)
                shared = self._shared_columns.get(key)
                if shared is None:
                    filename = W3Codec.column_filename(segment, name)
                    if not storage.file_exists(filename):
                        continue
                    colfile = storage.open_file(filename)
                    if not isinstance(colfile, PositionalFile):
                        colfile.close()
                        continue
                    shared = column.reader(colfile, 0, storage.file_length(filename), segment.doc_count_all())
                    with self._lock:
                        shared = self._shared_columns.setdefault(key, shared)
                perdoc._readers.setdefault(name, shared)

    def keep_only(self, keys: set) -> None:
        """Forget the segments not in ``keys`` (merged away, or a rebuilt index)."""
        with self._lock:
            for key in [k for k in self._columns if k not in keys]:
                del self._columns[key]
            for key in [k for k in self._spelling if k not in keys]:
                del self._spelling[key]
            for key in [k for k in self._arrays if k not in keys]:
                del self._arrays[key]  # its mapping closes once no view of it is left
            for key in [k for k in self._stored if k not in keys]:
                del self._stored[key]  # its file closes once no request reads it
            self.warmed &= keys
            for key in [k for k in self._shared_columns if k[1] not in keys]:
                del self._shared_columns[key]  # its file closes once no reader uses it
            for key in [k for k in self._group_codes if k not in keys]:
                del self._group_codes[key]
            if len(self._group_names) > 2 * sum(len(c.ids) for c in self._columns.values()) + 1000:
                self._group_names, self._group_codes = {}, {}  # mostly names of segments gone: number again
            for entry in [e for e in self._postings if e[0] not in keys]:
                self._held -= len(self._postings.pop(entry)[0]) + 1


_NO_POSTINGS = (np.empty(0, np.int32), np.empty(0, np.float32), 0)


def segment_key(reader):
    """A segment's identity: its id (the same files in every commit and every copy), else the reader itself."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else id(reader)


def _read_columns(reader) -> SegmentColumns:
    n = reader.doc_count_all()

    def column(fieldname):
        values = reader.column_reader(fieldname)
        return (values[docnum] for docnum in range(n))

    def codes(fieldname, dtype=np.int32) -> Codes:
        values: dict[str, int] = {}
        found = np.fromiter((values.setdefault(_text(v), len(values)) if v else -1 for v in column(fieldname)),
                            dtype, n)
        return Codes(list(values), found)

    return SegmentColumns(
        ids=[_text(v) for v in column(schema.ID)],
        datekey=np.fromiter(column(schema.DATEKEY), np.int64, n),
        codes={name: codes(name) for name in (schema.SOURCE, schema.YEAR)},
        group=codes(schema.GROUP, DOCNUM),
        lengths={name: _segment_lengths(reader, name) for name in (schema.CONTENT, schema.TITLE, schema.AUTHOR)},
    )


def _named_counts(values: list[str], counts: np.ndarray) -> list[tuple[str, int]]:
    """(value, count) where ``counts`` (0: no value, then one per value) is not zero."""
    at = np.flatnonzero(counts)
    return [(values[i - 1] if i else "", n) for i, n in zip(at.tolist(), counts[at].tolist())]


def _merged_codes(parts: list[Codes], dtype=np.int32) -> Codes:
    """Segments' codes as one column: values numbered in order of first appearance, as one pass would."""
    values: dict[str, int] = {}
    out = []
    for part in parts:
        remap = np.array([values.setdefault(v, len(values)) for v in part.values] + [-1], dtype)
        out.append(remap[part.codes])  # -1 picks the appended -1
    return Codes(list(values), np.concatenate(out) if out else np.empty(0, dtype))


def _segment_live(reader) -> np.ndarray:
    live = np.ones(reader.doc_count_all(), bool)
    if reader.has_deletions():
        perdoc = getattr(reader, "_perdoc", None)
        deleted = list(perdoc.deleted_docs()) if perdoc is not None and hasattr(perdoc, "deleted_docs") else [
            d for d in range(len(live)) if reader.is_deleted(d)]
        live[np.array(deleted, DOCNUM)] = False
    return live


class Generation:
    """Columns and postings of one commit of the index, as arrays.

    Built from one searcher of that commit (see ``fingerprint``); every
    thread may read it. Term postings are added as queries ask for them, or
    by ``warm`` (a bounded LRU). The columns and raw postings come from the
    ``SegmentCache`` (a new commit reads only its new segments); putting
    them together costs a few milliseconds for 21,000 articles.
    """

    def __init__(self, searcher, segments: SegmentCache | None = None):
        self.segments = segments if segments is not None else SegmentCache()
        self.fingerprint = fingerprint(searcher)
        self.doc_count = searcher.doc_count_all()
        readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
        self.keys = [segment_key(r) for r in readers]
        self.sizes = [r.doc_count_all() for r in readers]
        parts = [self.segments.columns(k, r) for k, r in zip(self.keys, readers)]
        # every segment's postings mapped as arrays: nothing to decode, only scoring to keep (a smaller budget)
        self.mapped = all(self.segments.arrays(k, r) is not None for k, r in zip(self.keys, readers))
        self._budget = MAPPED_POSTINGS_BUDGET if self.mapped else POSTINGS_BUDGET
        self.live = _concatenate([_segment_live(r) for r in readers], bool)
        self.all_live = bool(self.live.all())
        self.ids = [i for part in parts for i in part.ids]
        order = sorted(range(self.doc_count), key=self.ids.__getitem__)
        self.id_rank = np.empty(self.doc_count, np.int64)
        self.id_rank[order] = np.arange(self.doc_count)
        self.datekey = _concatenate([part.datekey for part in parts], np.int64)
        self.codes = {name: _merged_codes([part.codes[name] for part in parts]) for name in (schema.SOURCE, schema.YEAR)}
        self.group, self._named = self._group_codes(parts)
        # articles per near-duplicate group: how many hits a page of groups needs (paging.py)
        named = self.group[self.group < self._named]
        groups = int(np.count_nonzero(np.bincount(named, minlength=1))) + len(self.group) - len(named)
        self.group_size = self.doc_count / max(1, groups)
        self._grouped = np.argsort(self.group, kind="stable")  # documents by group, for group_members
        self._grouped_codes = self.group[self._grouped]
        self._shared = np.bincount(self.group)[self.group] > 1  # in a group of two or more
        self._shared_group = np.where(self._shared, self.group, -1)  # the group of those, -1 for the others
        self.lengths = {name: _concatenate([part.lengths[name] for part in parts], np.float64)
                        for name in (schema.CONTENT, schema.TITLE)}
        self._avg_length = {name: (searcher.avg_field_length(name) or 1) for name in self.lengths}
        # BM25's length part of each document's denominator, worked out once per commit (the same operations
        # as per posting: the same scores to the last bit)
        self._length_part = {name: ranking.K1 * ((1 - ranking.B) + ranking.B * fl / self._avg_length[name])
                             for name, fl in self.lengths.items()}
        dated = self.live & (self.datekey != schema.UNDATED)
        self.newest = int(self.datekey[dated].max()) if dated.any() else schema.UNDATED
        self.oldest = int(self.datekey[dated].min()) if dated.any() else schema.UNDATED
        # how many of source, date and author each article has: a near-duplicate group shows its best described
        # version (the author's field length says whether it has one, without a stored document)
        authors = _concatenate([part.lengths[schema.AUTHOR] for part in parts], np.float64)
        self.metadata = ((self.codes[schema.SOURCE].codes >= 0).astype(np.int8) + (self.datekey != schema.UNDATED)
                         + (authors > 0)).astype(np.int8)
        self._postings: OrderedDict[tuple[str, str], Matches] = OrderedDict()
        self._held = 0
        self._positions: OrderedDict[tuple[str, str], PositionLists] = OrderedDict()
        self._positions_held = 0
        self._reading: dict[tuple[str, str], threading.Event] = {}  # words whose positions a thread is reading
        self._spelling: dict[str, list[str]] = {}  # first letter -> the spelling words that begin with it
        self._lock = threading.Lock()
        # what other modules work out once per commit (``memo``): exact.py's words by stem, plan.py's frequencies
        self._memo: dict[str, dict] = {}

    # --- columns, read once per segment -----------------------------------------

    def _group_codes(self, parts: list[SegmentColumns]) -> tuple[np.ndarray, int]:
        """A code per near-duplicate group, and the bound of the named groups' codes (they come first).

        An article without a group is a group of its own. Named groups are
        numbered once for every generation (``SegmentCache.group_codes``).
        """
        raw = _concatenate([self.segments.group_codes(k, part) for k, part in zip(self.keys, parts)], DOCNUM).copy()
        named = self.segments.group_names
        alone = raw < 0
        raw[alone] = named + np.nonzero(alone)[0]
        return raw, named

    # --- postings, read on demand -------------------------------------------------

    def term(self, searcher, fieldname: str, text: str) -> Matches:
        """Live documents containing ``text`` in ``fieldname``, with their BM25 score (no boost)."""
        key = (fieldname, text)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        found = self._read_term(searcher, fieldname, text)
        with self._lock:
            if key not in self._postings:
                self._postings[key] = found
                self._held += len(found)
                while self._held > self._budget and len(self._postings) > 1:
                    _, old = self._postings.popitem(last=False)
                    self._held -= len(old)
        return found

    def _read_term(self, searcher, fieldname: str, text: str) -> Matches:
        parts, df = [], 0
        tbytes = None
        for (sub, offset), key in zip(searcher.leaf_searchers(), self.keys):
            reader = sub.reader()
            if tbytes is None:
                tbytes = reader.schema[fieldname].to_bytes(text)
            ids, tf, n = self.segments.postings(key, reader, fieldname, tbytes)
            if n:
                parts.append((ids, tf, offset))
                df += n
        if not parts:
            return empty()
        docnums, tf = _joined(parts)
        if not self.all_live:
            keep = self.live[docnums]
            docnums, tf = docnums[keep], tf[keep]
        idf = ranking.lucene_idf(self.doc_count, df)  # df and N count deleted documents, as Whoosh's do
        # idf * ((tf * (K1 + 1)) / (tf + length part)), in place: a common word's arrays are megabytes
        scores = tf * (ranking.K1 + 1)
        denominator = self._length_part[fieldname][docnums]
        denominator += tf
        scores /= denominator
        scores *= idf
        return Matches(docnums, scores)

    def positions(self, searcher, fieldname: str, text: str, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where ``text`` occurs in each of ``docnums`` (ascending): how many positions each has, and all of
        them, document after document. For phrases.

        A frequent word asked about in a good share of its articles has all
        its positions read at once and kept (a bounded LRU, like postings):
        the next phrase with ``said`` in it selects from them instead of
        decoding 150,000 posting values again (200,000 articles).
        """
        key = (fieldname, text)
        if self.mapped and fieldname in TEXT_FIELDS:
            return self._read_positions(searcher, fieldname, text, docnums)
        held = self._held_positions(key)
        if held is None:
            every = self.term(searcher, fieldname, text).docnums
            if len(every) < ALL_POSITIONS_FROM or len(docnums) * 8 < len(every):
                return self._read_positions(searcher, fieldname, text, docnums)
            with self._lock:
                reading = self._reading.get(key)
                mine = reading is None
                if mine:
                    reading = self._reading[key] = threading.Event()
            if not mine:  # another thread is reading this word: one read, not one per thread
                reading.wait()
                held = self._held_positions(key)
            if held is None:
                try:
                    held = PositionLists.of(every, *self._read_positions(searcher, fieldname, text, every))
                    self._keep_positions(key, held)
                finally:
                    if mine:
                        with self._lock:
                            del self._reading[key]
                        reading.set()
        return held.select(docnums)

    def _held_positions(self, key: tuple[str, str]) -> "PositionLists | None":
        with self._lock:
            held = self._positions.get(key)
            if held is not None:
                self._positions.move_to_end(key)
            return held

    def _keep_positions(self, key: tuple[str, str], held: "PositionLists") -> None:
        with self._lock:
            if key in self._positions:
                return
            self._positions[key] = held
            self._positions_held += held.nbytes
            while self._positions_held > POSITIONS_BYTES and len(self._positions) > 1:
                _, old = self._positions.popitem(last=False)
                self._positions_held -= old.nbytes

    def _read_positions(self, searcher, fieldname: str, text: str, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts: list[np.ndarray] = []
        flat: list[np.ndarray] = []
        for (sub, offset), key in zip(searcher.leaf_searchers(), self.keys):
            reader = sub.reader()
            n = reader.doc_count_all()
            lo, hi = np.searchsorted(docnums, [offset, offset + n])
            if lo == hi:
                continue
            tbytes = reader.schema[fieldname].to_bytes(text)
            arrays = self.segments.arrays(key, reader) if fieldname in TEXT_FIELDS else None
            if arrays is not None:
                c, f = _mapped_positions(arrays, reader, fieldname, tbytes, docnums[lo:hi] - offset)
            else:
                c, f = _read_positions(reader, fieldname, tbytes, docnums[lo:hi] - offset)
            counts.append(c)
            flat.append(f)
        if not counts:
            return np.zeros(len(docnums), np.int64), np.empty(0, np.int64)
        return np.concatenate(counts), np.concatenate(flat)

    def needs_warming(self) -> bool:
        """Whether a segment of ``WARM_MIN_DOCS`` articles or more is not warmed yet (a commit of a few articles
        adds none: the background warming then costs not even a searcher)."""
        return any(key not in self.segments.warmed and size >= WARM_MIN_DOCS
                   for key, size in zip(self.keys, self.sizes))

    def warm(self, searcher, budget: int, stop: threading.Event) -> int:
        """Load the postings of the most frequent words of segments not warmed before, up to ``budget``
        postings (a small mapped commit: every word's, ``_scores_ahead``); returns how many.

        The long lists are the slow ones to read on a query's first use; a
        server warms them before it answers and in the background after a
        commit, so that first uses stay fast (``Settings.warm_postings``).
        Each segment once (``SegmentCache``): after a commit of a few
        articles, only their few words are looked at. Then the spelling
        words, for did-you-mean. Stops early when ``stop`` is set.
        """
        if fingerprint(searcher) != self.fingerprint:
            return 0  # another commit: its postings would not fit these arrays
        leaves = [(key, sub.reader()) for (sub, _), key in zip(searcher.leaf_searchers(), self.keys)]
        cold = [(key, reader) for key, reader in leaves if key not in self.segments.warmed]
        frequency: dict[tuple[str, str], int] = {}
        if self.mapped:  # scored lists are kept per commit: every segment's words, when they all fit
            counted = leaves if self._scores_ahead(leaves) else []
        else:  # decoded lists are kept per segment: the words of segments not warmed before
            counted = cold
        for key, reader in counted:
            for fieldname in self.lengths:
                for tbytes, info in reader.iter_field(fieldname):
                    term = (fieldname, tbytes.decode("utf-8"))
                    frequency[term] = frequency.get(term, 0) + info.doc_frequency()
                    if stop.is_set():
                        return 0
        loaded = 0
        for i, ((fieldname, text), df) in enumerate(self._to_warm(frequency, budget)):
            if stop.is_set():
                break
            loaded += len(self.term(searcher, fieldname, text))
            if i % 64 == 63:
                time.sleep(0)  # let request threads have the interpreter (a word takes tens of µs; a yield as long)
        if stop.is_set():
            return loaded
        self.segments.warmed.update(key for key, _ in cold)
        field = _spelling_field(searcher)
        for key, reader in cold:
            self.segments.spelling(key, reader, field, None)
        self._read_spelling_words(searcher)
        return loaded

    def _scores_ahead(self, leaves: list) -> bool:
        """Whether a commit whose every list is a slice of a mapped file has them all scored ahead (``_to_warm``):
        only when all of them fit (``_mapped_room``). Decoded lists, the frequent ones, are loaded ahead always.

        A mapped list costs nothing to decode, but a word's first use costs
        its lookup and scoring, about 40 µs however short the list: most of
        a fresh query's words at 21,000 articles (2.7 of them a query, 120
        µs of 1.5 ms). Scoring every word ahead takes about 2 s there (a
        server's start). A larger index's words do not all fit: its first
        uses stay as they were, and no pass over its whole vocabulary.
        """
        return sum(len(self.segments.arrays(key, reader).docs) for key, reader in leaves) <= self._mapped_room()

    def _mapped_room(self) -> int:
        return self._budget * 3 // 4  # a quarter left for the lists of other fields (authors) and new words

    def _to_warm(self, frequency: dict[tuple[str, str], int], budget: int) -> list[tuple[tuple[str, str], int]]:
        """The (field, word), document frequency pairs to score ahead: the most frequent first, as many as fit.

        Decoded lists (segments without arrays) from ``WARM_MIN_DF`` documents
        on, into half the postings kept; mapped ones (``_scores_ahead``) every
        word, the commonest put in last so that they are the last the LRU
        lets go.
        """
        least, room = (1, self._mapped_room()) if self.mapped else (WARM_MIN_DF, POSTINGS_BUDGET // 2)
        chosen, held = [], 0
        for term, df in sorted(frequency.items(), key=lambda kv: -kv[1]):
            if df < least or held + df > min(budget, room):
                break
            chosen.append((term, df))
            held += df
        return chosen[::-1] if self.mapped else chosen

    def memo(self, name: str, limit: int = 100_000) -> dict:
        """A dictionary named ``name`` kept with this commit (its values cannot change until the next one),
        emptied when it holds ``limit`` entries."""
        found = self._memo.get(name)
        if found is None or len(found) >= limit:
            found = self._memo[name] = {}
        return found

    def doc_frequency(self, searcher, fieldname: str, text: str) -> int:
        """``searcher.reader().doc_frequency``, once per commit and term (a lookup in every segment); with no
        deleted article, the length of the term's scored list where it is held (warmed: ``_to_warm``)."""
        held = self.memo("doc_frequency")
        found = held.get((fieldname, text))
        if found is None:
            scored = self._postings.get((fieldname, text)) if self.all_live else None
            found = len(scored) if scored is not None else searcher.reader().doc_frequency(fieldname, text)
            held[(fieldname, text)] = found
        return found

    # --- filters, facets, groups --------------------------------------------------

    def filter_mask(self, sources, date_from, date_to, missing=()) -> np.ndarray | None:
        """Which documents pass a request's filters (None: no filter).

        Each filter is the union of its chosen buckets: ``sources`` and, with
        ``"source"`` in ``missing``, the articles without a source; the date
        range and, with ``"date"`` in ``missing``, the undated articles.
        """
        mask = None
        codes = self.codes[schema.SOURCE]
        if sources or "source" in missing:
            wanted = [c for c in (codes.code_of(s) for s in sources) if c >= 0]
            wanted += [-1] if "source" in missing else []
            mask = np.isin(codes.codes, np.array(wanted, np.int32))
        if date_from or date_to or "date" in missing:
            undated = self.datekey == schema.UNDATED
            dated = ~undated if (date_from or date_to) else np.zeros(self.doc_count, bool)
            if date_from:
                dated &= self.datekey >= _seconds(datetime.combine(date_from, datetime.min.time()))
            if date_to:
                dated &= self.datekey <= _seconds(datetime.combine(date_to, datetime.max.time()))
            if "date" in missing:
                dated |= undated
            mask = dated if mask is None else mask & dated
        return mask

    def facet_counts(self, name: str, docnums: np.ndarray) -> list[tuple[str, int]]:
        """(value, articles) of one keyword column among ``docnums``; ``""`` counts the articles without a value."""
        codes = self.codes[name]
        picked = codes.codes[docnums]
        counts = np.bincount(picked + 1, minlength=len(codes.values) + 1)  # 0: no value
        return _named_counts(codes.values, counts)

    def distinct_groups(self, docnums: np.ndarray) -> int:
        """How many near-duplicate groups ``docnums`` fall into (most articles are a group of their own)."""
        codes = self._shared_group[docnums]
        codes = codes[codes >= 0]  # codes of named groups: below self._named
        if len(codes) * 16 < self._named:
            distinct = distinct_count(codes)
        else:  # one pass over a flag per group instead of a sort (every article has copies in some archives)
            seen = np.zeros(self._named, bool)
            seen[codes] = True
            distinct = int(np.count_nonzero(seen))
        return int(len(docnums) - len(codes) + distinct)

    # --- did-you-mean ------------------------------------------------------------

    def suggestion(self, searcher, word: str, maxdist: int = 2) -> str | None:
        """The index's spelling word for ``word``, or None: the nearest of the words Whoosh's
        ``searcher.corrector(CONTENT).suggest(word, maxdist=maxdist, prefix=1)`` lists, then the most frequent.

        Whoosh ranks its candidates by frequency alone (``harbr``: ``harbour``,
        two edits, over ``harbor``, one); here the fewest edits come first, then
        Whoosh's order. The same candidates (spelling words with the same first letter, within
        ``maxdist`` edits counting an adjacent transposition as one, as
        Whoosh's ``damerau_levenshtein`` on an index of several segments; on
        one segment Whoosh's automaton does not count transpositions), but the
        words of a letter are read once per commit and
        the distances run in C (rapidfuzz): Whoosh compares the word with
        each of them in Python, 20 to 50 ms a word at 21,000 articles.
        """
        if not word:
            return None
        near = process.extract(word, self._spelling_words(searcher, word[0]), scorer=OSA.distance,
                               score_cutoff=maxdist, limit=None)
        if not near:
            return None
        frequency = searcher.reader().frequency
        # the fewest edits, then Whoosh's score (higher wins, then the greater word): the more frequent as a term
        return max((-distance, 0 - (maxdist + 1.0 / (frequency(schema.CONTENT, w) or 1) * 0.5), w)
                   for w, distance, _ in near)[2]

    def vocabulary(self, searcher, prefix: str) -> list[str]:
        """The index's words (unstemmed, lower-case, accent-folded: did-you-mean's) beginning with ``prefix``."""
        if not prefix:
            return []
        words = self._spelling_words(searcher, prefix[0])
        start = bisect_left(words, prefix)
        stop = bisect_left(words, prefix + "\U0010ffff", start)
        return words[start:stop]

    def words_by_letter(self) -> list[list[str]]:
        """The spelling words read so far (every letter's after ``warm``), a sorted list per first letter."""
        with self._lock:
            return [self._spelling[first] for first in sorted(self._spelling)]

    def has_word(self, searcher, word: str) -> bool:
        """Whether ``word`` (lower-case, accent-folded) is one of the index's words as written."""
        if not word:
            return False
        words = self._spelling_words(searcher, word[0])
        at = bisect_left(words, word)
        return at < len(words) and words[at] == word

    def _spelling_words(self, searcher, first: str) -> list[str]:
        """The spelling words that begin with ``first``: each segment's read on first use, or by ``warm``."""
        words = self._spelling.get(first)
        if words is None:
            words = self._merged_spelling(searcher, first)
            with self._lock:
                self._spelling[first] = words
        return words

    def _merged_spelling(self, searcher, first: str) -> list[str]:
        """The words of ``first`` in every segment, sorted and distinct (what the index's lexicon lists)."""
        field = _spelling_field(searcher)
        parts = [self.segments.spelling(key, sub.reader(), field, first).get(first, [])
                 for (sub, _), key in zip(searcher.leaf_searchers(), self.keys)]
        parts = [p for p in parts if p]
        return parts[0] if len(parts) == 1 else sorted(set().union(*parts))

    def _read_spelling_words(self, searcher) -> None:
        """Every letter's words, from segments whose words are all read (``warm``); other letters stay lazy."""
        field = _spelling_field(searcher)
        letters = set()
        for (sub, _), key in zip(searcher.leaf_searchers(), self.keys):
            if key in self.segments.warmed:
                letters.update(self.segments.spelling(key, sub.reader(), field, None))
        letters.discard("")
        by_letter = {first: self._merged_spelling(searcher, first) for first in letters}
        with self._lock:
            self._spelling = by_letter | self._spelling

    def in_group(self, docnum: int) -> bool:
        """Whether ``docnum`` has near-duplicates (live or not)."""
        return bool(self._shared[docnum])

    def group_members(self, docnum: int) -> np.ndarray:
        """Live documents in the same near-duplicate group as ``docnum`` (itself included)."""
        group = self.group[docnum]
        lo, hi = np.searchsorted(self._grouped_codes, [group, group + 1])
        members = self._grouped[lo:hi]
        return members[self.live[members]]


@dataclass(frozen=True)
class PositionLists:
    """Every position of one word: the documents that have it (ascending), how many each, where each one's
    run starts, then all of them."""

    docnums: np.ndarray  # int64
    counts: np.ndarray   # int32
    starts: np.ndarray   # int64
    flat: np.ndarray     # int32

    @classmethod
    def of(cls, docnums: np.ndarray, counts: np.ndarray, flat: np.ndarray) -> "PositionLists":
        starts = np.concatenate(([0], np.cumsum(counts)))[:-1]
        return cls(docnums, counts.astype(np.int32), starts, flat.astype(np.int32))

    @property
    def nbytes(self) -> int:
        return self.docnums.nbytes + self.counts.nbytes + self.starts.nbytes + self.flat.nbytes

    def select(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(counts, positions) for ``wanted`` documents (ascending), as ``Generation.positions`` answers."""
        at = np.minimum(np.searchsorted(self.docnums, wanted), max(len(self.docnums) - 1, 0))
        present = self.docnums[at] == wanted if len(self.docnums) else np.zeros(len(wanted), bool)
        counts = np.where(present, self.counts[at], 0)
        lengths = counts[present]
        begin = self.starts[at[present]]
        # each chosen document's run of positions: its start, then one more per position
        index = np.repeat(begin - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        return counts, self.flat[index]


def _spelling_field(searcher) -> str:
    return searcher.schema[schema.CONTENT].spelling_fieldname(schema.CONTENT)


def fingerprint(searcher) -> tuple:
    """Which commit a searcher reads: its segments and their live document counts.

    Arrays are keyed by this, not by when the index was opened: a searcher
    opened between a commit and its announcement already reads the new one.
    """
    out = []
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        segment = reader.segment() if hasattr(reader, "segment") else None
        out.append((segment.segment_id() if segment is not None else id(reader), reader.doc_count()))
    return tuple(out)


def _concatenate(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def _seconds(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def _segment_lengths(reader, fieldname: str) -> np.ndarray:
    """One segment's field lengths: its one-byte length column read whole where the codec allows."""
    n = reader.doc_count_all()
    column = None
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is not None and all(hasattr(column, a) for a in ("_dbfile", "_basepos", "_count")):
        raw = np.zeros(n, np.uint8)
        count = min(column._count, n)
        if count:
            raw[:count] = np.frombuffer(column._dbfile.get(column._basepos, count), np.uint8)
        return LENGTH_OF_BYTE[raw]
    return np.array([reader.doc_field_length(d, fieldname) or 0 for d in range(n)], np.float64)


def _joined(parts: list[tuple[np.ndarray, np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, frequencies) of a term's postings in several segments (local numbers, frequencies, the
    segment's first document number), end to end in one array each.

    Frequencies stay integers where they are (BM25 turns them into float64
    exactly, as a copy would); weights read by Whoosh (float32) become float64 first.
    """
    if len(parts) == 1:
        ids, tf, offset = parts[0]
        docnums = ids.astype(DOCNUM)
        if offset:
            docnums += offset
    else:
        docnums = np.empty(sum(len(ids) for ids, _, _ in parts), DOCNUM)
        at = 0
        for ids, _, offset in parts:
            np.add(ids, offset, out=docnums[at:at + len(ids)], dtype=DOCNUM)
            at += len(ids)
        tf = np.concatenate([tf for _, tf, _ in parts])
    return docnums, (tf if tf.dtype.kind in "ui" else tf.astype(np.float64))


def _read_postings(m) -> tuple[np.ndarray, np.ndarray]:
    """A segment's document numbers and weights for a term, a posting block at a time where the codec allows.

    Whoosh 2.7.4's W3 blocks hold up to 128 postings: ids as deltas from the
    block's start, and weights as an array, a constant, or None for all
    ones. Decoded into lists (C-level ``accumulate``), then one array each:
    numpy calls per block cost more than that for the short lists most
    terms have (24 -> 10 us for a rare word), and the same for long ones.
    """
    if not all(hasattr(m, name) for name in ("_read_data", "_next_block", "_blocklength", "_byteids")) or m._byteids:
        ids, weights = [], []
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
        return np.array(ids, np.int32), np.array(weights, np.float32)
    ids, weights = [], []
    while m.is_active():
        if m._data is None:
            m._read_data()
        block_ids, block_weights = m._data[0], m._data[1]
        ids.extend(accumulate(block_ids))
        if block_weights is None or isinstance(block_weights, float):
            weights.extend(repeat(1.0 if block_weights is None else block_weights, m._blocklength))
        else:
            weights.extend(block_weights)
        m._next_block()
    return np.array(ids, np.int32), np.array(weights, np.float32)  # a segment's numbers; frequencies (whole)


def _read_positions(reader, fieldname: str, tbytes: bytes, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The term's positions in each ``wanted`` document (ascending, segment-relative): how many each has (0
    where it is absent) and all of them, document after document; only the posting blocks that hold them."""
    fmt = reader.schema[fieldname].format
    none = np.zeros(len(wanted), np.int64), np.empty(0, np.int64)
    m, _ = term_postings(reader, fieldname, tbytes)
    if m is None or not len(wanted):
        return none
    blocks = all(hasattr(m, name) for name in ("_read_data", "_next_block", "block_max_id", "_byteids"))
    if not blocks or m._byteids or type(fmt) is not formats.Positions:
        return _positions_by_matcher(m, wanted)
    picked_at: list[np.ndarray] = []   # indexes into ``wanted`` of the documents found
    values: list[bytes] = []           # their encoded positions, in the same order
    j, n = 0, len(wanted)
    while m.is_active() and j < n:
        last = m.block_max_id()
        if wanted[j] <= last:
            if m._data is None:
                m._read_data()
            ids = np.cumsum(m._data[0], dtype=np.int64)  # the block's ids, as deltas from zero
            k = j + int(np.searchsorted(wanted[j:], last, side="right"))
            at = np.searchsorted(ids, wanted[j:k])
            found = at < len(ids)
            found[found] = ids[at[found]] == wanted[j:k][found]
            block_values = m._data[2]
            values.extend([block_values[i] for i in at[found].tolist()])
            picked_at.append(np.arange(j, k)[found])
            j = k
        m._next_block()
    counts = np.zeros(n, np.int64)
    if not values:
        return none
    picked = np.concatenate(picked_at)
    per_doc = np.frombuffer(b"".join([v[:4] for v in values]), ">u4").astype(np.int64)
    counts[picked] = per_doc
    return counts, decode_positions(values, per_doc)


def _mapped_positions(arrays: SegmentArrays, reader, fieldname: str, tbytes: bytes,
                      wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_read_positions`` from the segment's arrays: a slice and a gather."""
    offset = term_offset(reader, fieldname, tbytes)
    found = arrays.term(offset) if offset is not None else None
    if found is None:
        return np.zeros(len(wanted), np.int64), np.empty(0, np.int64)
    return found.positions_of(wanted)


def _positions_by_matcher(m, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same through Whoosh's matcher API, a document at a time (another codec or format)."""
    counts, flat = [], []
    for docnum in wanted.tolist():
        if m.is_active():
            m.skip_to(docnum)
        found = list(m.value_as("positions")) if m.is_active() and m.id() == docnum else []
        counts.append(len(found))
        flat.extend(found)
    return np.array(counts, np.int64), np.array(flat, np.int64)


# --- evaluating a query tree ----------------------------------------------------------

class Evaluator:
    """Evaluates Whoosh query trees over a generation's arrays, with one thread's searcher."""

    def __init__(self, generation: Generation, searcher, phrase_documents: int | None = None):
        self.gen = generation
        self.searcher = searcher
        # how many documents' positions this query's phrases may still read (None: no bound), see _adjacent
        self.phrase_documents = phrase_documents
        self._memo: dict[int, tuple[wq.Query, Matches]] = {}  # by node identity; the node is kept alive
        self._phrases: dict[tuple, Matches] = {}  # by field and words, before any boost
        self._leaves: list | None = None
        self._offsets: list[int] = []
        self._stored_docs: list = []
        self._stored: dict[int, dict] = {}  # read once per request: exact.py reads the best hits, the page again

    def stored_fields(self, docnum: int) -> dict:
        """A document's stored fields: from its segment's ``.sto`` file (stored.py), one read and one
        unpickling; else from the segment's reader directly.

        Whoosh's searcher finds the segment, then copies the fields that the
        schema still has into a new dict: this schema never drops one, and a
        page reads ten of these.
        """
        found = self._stored.get(docnum)
        if found is None:
            at = self._leaf_at(docnum)
            offset, reader = self._leaves[at]
            docs = self._stored_docs[at]
            if docs is False:
                docs = self._stored_docs[at] = self.gen.segments.stored(segment_key(reader), reader)
            found = None
            if docs is not None:
                try:
                    found = docs[docnum - offset]
                except Exception:  # a damaged file: Whoosh's column holds the document too
                    found = None
            if found is None:
                perdoc = getattr(reader, "_perdoc", None)
                found = (reader if perdoc is None else perdoc).stored_fields(docnum - offset)
            self._stored[docnum] = found
        return found

    def title(self, docnum: int) -> str:
        """A document's title from the title column (a stored document would be decompressed whole)."""
        offset, reader = self._leaf(docnum)
        perdoc = getattr(reader, "_perdoc", None)
        column = perdoc._cached_reader(schema.TITLE, reader.schema[schema.TITLE].column_type) if perdoc else None
        if column is None:  # not this codec: from the stored fields
            return reader.stored_fields(docnum - offset).get(schema.TITLE) or ""
        return _text(column[docnum - offset])

    def titles(self, docnums: list[int]) -> list[str]:
        """``title`` of each of ``docnums``: each segment's title column looked up once, not once a document."""
        out = []
        columns: dict[int, object] = {}
        for docnum in docnums:
            offset, reader = self._leaf(docnum)
            column = columns.get(offset, False)
            if column is False:
                perdoc = getattr(reader, "_perdoc", None)
                column = columns[offset] = (perdoc._cached_reader(schema.TITLE, reader.schema[schema.TITLE].column_type)
                                            if perdoc else None)
            out.append(_text(column[docnum - offset]) if column is not None else self.title(docnum))
        return out

    def _leaf(self, docnum: int) -> tuple[int, object]:
        """(offset, segment reader) of the segment holding ``docnum``."""
        return self._leaves[self._leaf_at(docnum)]

    def _leaf_at(self, docnum: int) -> int:
        """Which of the searcher's segments holds ``docnum``."""
        if self._leaves is None:
            self._leaves = [(offset, sub.reader()) for sub, offset in self.searcher.leaf_searchers()]
            self._offsets = [offset for offset, _ in self._leaves]
            self._stored_docs = [False] * len(self._leaves)  # each segment's StoredDocs once asked for
        return bisect_right(self._offsets, docnum) - 1

    def matches(self, q: wq.Query) -> Matches:
        held = self._memo.get(id(q))
        if held is None:
            held = self._memo[id(q)] = (q, self._evaluate(q))
        return held[1]

    def _evaluate(self, q: wq.Query) -> Matches:
        if q is wq.NullQuery:
            return empty()
        if isinstance(q, ranking.RankedTerm) and q.fieldname in self.gen.lengths:
            found = self.gen.term(self.searcher, q.fieldname, q.text)
            return Matches(found.docnums, found.scores * q.boost) if q.boost != 1.0 else found
        if isinstance(q, wq.Phrase) and q.fieldname in self.gen.lengths and q.slop == 1 and q.words:
            return self._phrase(q)
        if isinstance(q, wq.Every):
            docnums = np.nonzero(self.gen.live)[0].astype(DOCNUM)
            return Matches(docnums, np.ones(len(docnums)))
        if isinstance(q, wq.AndNot):
            kept = self.matches(q.a)
            dropped = self.matches(q.b)
            return kept.where(~np.isin(kept.docnums, dropped.docnums, assume_unique=True))
        if isinstance(q, wq.AndMaybe):
            return _adding(self.matches(q.a), self.matches(q.b))
        if type(q) in (wq.And, wq.Or) and q.subqueries:
            if len(q.subqueries) == 1:  # Whoosh ignores a one-part compound's boost
                return self.matches(q.subqueries[0])
            parts = [self.matches(sub) for sub in q.subqueries]
            found = _intersection(parts) if type(q) is wq.And else self._union(q.subqueries, parts)
            return Matches(found.docnums, found.scores * q.boost) if q.boost != 1.0 else found
        return self._by_whoosh(q)

    def _union(self, subqueries: list[wq.Query], parts: list[Matches]) -> Matches:
        """``_union`` of ``parts``; a word's title list (a subset of its merged-field list, ``plan.word_clause``)
        added in at places found once per commit and word: most queries ask for words asked before."""
        if len(parts) == 2 and all(type(s) is ranking.RankedTerm for s in subqueries):
            (merged, title), (big, small) = subqueries, parts
            if ((merged.fieldname, title.fieldname) == (schema.CONTENT, schema.TITLE) and merged.text == title.text
                    and len(big) > len(small) > 0):
                held = self.gen.memo("engine.title_places", TITLE_PLACES)
                at = held.get(merged.text)
                if at is None or len(at) != len(small):
                    at = _positions_in(big.docnums, small.docnums)
                    if at is None:
                        return _union(parts)
                    at = held[merged.text] = at.astype(np.int32) if self.gen.doc_count < 2**31 else at
                scores = big.scores.copy()
                scores[at] += small.scores
                return Matches(big.docnums, scores)
        return _union(parts)

    def _phrase(self, q: wq.Phrase) -> Matches:
        """Documents with the words next to each other, scored as the words' BM25 sum (times the boost).

        Candidates are the documents with every word (array intersection,
        each distinct word once, its score counted as often as the phrase
        repeats it); only their positions are read (``_adjacent``).
        """
        key = (q.fieldname, tuple(q.words))
        found = self._phrases.get(key)
        if found is None:  # a hint repeating a phrase the query already asked for is not matched again
            repeats = Counter(q.words)
            lists = {w: self.gen.term(self.searcher, q.fieldname, w) for w in repeats}
            found = _intersection([Matches(m.docnums, m.scores * repeats[w]) if repeats[w] > 1 else m
                                   for w, m in lists.items()])
            if len(q.words) > 1 and len(found):
                found = found.where(self._adjacent(q, found.docnums, {w: len(m) for w, m in lists.items()}))
            self._phrases[key] = found
        return Matches(found.docnums, found.scores * q.boost) if q.boost != 1.0 else found

    def _adjacent(self, q: wq.Phrase, docnums: np.ndarray, frequency: dict[str, int]) -> np.ndarray:
        """Which of ``docnums`` have the phrase's words one after the other.

        Word ``j`` at position ``p`` of a document votes for a phrase starting
        at ``p - j`` there: a start every word votes for is a match (sorted
        arrays intersected, not a loop over documents and positions). The
        rarest word goes first and each word's positions are read once,
        whatever the phrase repeats it, and only in the documents where a
        start is still possible: after two words few are left. The work of
        ``"said said … said"`` is that of ``"said said"``.

        Each word checked counts its candidates against the query's
        ``phrase_documents``; once that is spent, a phrase is decided by the
        words checked so far (every word is in each document, as for words),
        so no query reads more than that many documents' positions. The count
        does not depend on what is cached: the same query gets the same hits.
        """
        offsets: dict[str, list[int]] = {}
        for j, word in enumerate(q.words):
            offsets.setdefault(word, []).append(j)
        starts = None
        candidates = docnums
        for word in sorted(offsets, key=lambda w: (frequency[w], w)):
            if self.phrase_documents is not None:
                if len(candidates) > self.phrase_documents:
                    break  # the query's phrase budget is spent: the words checked so far decide
                self.phrase_documents -= len(candidates)
            counts, positions = self.gen.positions(self.searcher, q.fieldname, word, candidates)
            keyed = (np.repeat(candidates, counts) << 32) + positions  # document and position, ascending
            for j in offsets[word]:
                keys = keyed[positions >= j] - j if j else keyed
                starts = keys if starts is None else _sorted_intersection(starts, keys)
                if len(starts) < len(keyed) // 2:  # a repeated word: later offsets only look where starts are left
                    keep = np.isin(keyed >> 32, starts >> 32)
                    keyed, positions = keyed[keep], positions[keep]
            candidates = distinct_sorted(starts >> 32)
            if not len(candidates):
                break
        return sorted_members(docnums, candidates)

    def _by_whoosh(self, q: wq.Query) -> Matches:
        """Any other node (an author phrase): Whoosh's matcher, a document at a time."""
        s = self.searcher
        context = s.context(needs_current=True, weighting=s.weighting)
        ids, scores = array("q"), array("d")
        for sub, offset in s.leaf_searchers():
            m = q.matcher(sub, context)
            while m.is_active():
                ids.append(offset + m.id())
                scores.append(m.score())
                m.next()
        if not ids:
            return empty()
        docnums = np.frombuffer(ids, DOCNUM)
        found = Matches(docnums, np.frombuffer(scores, np.float64))
        return found.where(self.gen.live[docnums])


def _union(parts: list[Matches]) -> Matches:
    """Documents in any part, their scores summed.

    A word's title postings are a subset of its merged-field postings, so the
    common case adds the smaller lists' scores into the largest in place;
    otherwise one sort of all the postings.
    """
    parts = sorted((p for p in parts if len(p)), key=len, reverse=True)
    if not parts:
        return empty()
    found = parts[0]
    rest = []
    for part in parts[1:]:
        at = _positions_in(found.docnums, part.docnums)
        if at is None:
            rest.append(part)
            continue
        scores = found.scores.copy()
        scores[at] += part.scores
        found = Matches(found.docnums, scores)
    if not rest:
        return found
    docnums = np.concatenate([found.docnums] + [p.docnums for p in rest])
    scores = np.concatenate([found.scores] + [p.scores for p in rest])
    order = np.argsort(docnums, kind="stable")
    docnums, scores = docnums[order], scores[order]
    starts = np.flatnonzero(np.concatenate(([True], docnums[1:] != docnums[:-1])))
    return Matches(docnums[starts], np.add.reduceat(scores, starts))


def _adding(kept: Matches, maybe: Matches) -> Matches:
    """``kept``'s documents, with ``maybe``'s scores added where it has them too (Whoosh's ``AndMaybe``)."""
    if not len(kept) or not len(maybe):
        return kept
    at = np.minimum(np.searchsorted(maybe.docnums, kept.docnums), len(maybe) - 1)
    hit = maybe.docnums[at] == kept.docnums
    scores = kept.scores.copy()
    scores[hit] += maybe.scores[at[hit]]
    return Matches(kept.docnums, scores)


def _positions_in(big: np.ndarray, small: np.ndarray) -> np.ndarray | None:
    """Where each of ``small`` sits in ``big`` (both ascending), or None unless every one is there.

    A few of ``small`` are looked up first: two different words' lists (a tiered query's ``wider``) are
    told apart without a search for each document.
    """
    if len(small) > len(big):
        return None
    if len(small) > _PROBES:
        probe = small[:: len(small) // _PROBES]
        at = np.searchsorted(big, probe)
        if at[-1] >= len(big) or not (big[at] == probe).all():
            return None
    at = np.searchsorted(big, small)
    if len(at) and (at[-1] >= len(big) or not (big[at] == small).all()):  # ascending: at[-1] bounds them all
        return None
    return at


_PROBES = 16


def distinct_count(values: np.ndarray) -> int:
    """How many distinct values ``values`` holds: a sort and one comparison.

    ``np.unique(values).size`` (numpy 2.4) takes ten times as long on the
    hundreds to thousands of group codes a query's hits have: 63 against 5
    µs for 1,000. Small in all (``distinct_groups`` counts larger sets by
    flags): 9.2 -> 4.6 µs CPU a two- or three-word query at 216k articles
    (bench/distinct_cost.py).
    """
    if len(values) < 2:
        return len(values)
    ordered = np.sort(values)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of values already in ascending order: the first of each run."""
    if len(values) < 2:
        return values
    first = np.empty(len(values), bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values[first]


def sorted_members(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin(values, members)`` for ``members`` in ascending order: one binary search each (``np.isin``
    costs some 40 µs whatever the size, for the few documents a phrase leaves)."""
    if not len(members):
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(members, values), len(members) - 1)
    return members[at] == values


def _sorted_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both ascending arrays of unique values (a binary search of the shorter in the longer)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return a
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[at] == a]


def _intersection(parts: list[Matches]) -> Matches:
    """Documents in every part, their scores summed: the smallest list looked up in the others."""
    parts = sorted(parts, key=len)
    found = parts[0]
    for part in parts[1:]:
        if not len(found):
            break
        at = np.minimum(np.searchsorted(part.docnums, found.docnums), max(len(part) - 1, 0))
        hit = part.docnums[at] == found.docnums if len(part) else np.zeros(len(found), bool)
        found = Matches(found.docnums[hit], found.scores[hit] + part.scores[at[hit]])
    return found


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
