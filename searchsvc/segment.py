"""Writing index segments: Whoosh 2.7.4's own file format, postings kept in lists.

Whoosh's ``SegmentWriter`` runs every title and body through a chain of five
token filters, turns each posting into a tuple in a sorting pool, sorts the
pool and hands the postings one at a time through three method calls to the
block writer. ``BulkSegmentWriter`` analyses titles and bodies (four fifths
of a news index's postings) with one pass (``schema.index_words``), lets
Whoosh's own field types analyse the other fields, keeps each term's
postings in lists (the titles' and bodies' in flat arrays as documents
arrive, grouped by term in one sort when the segment is written) and writes
each list's blocks and its term-table row itself. Merging small segments at
commit reads their postings straight from the posting blocks into the same
lists. The files are byte for byte the ones
Whoosh writes for the same documents or the same merge
(tests/test_segment.py builds both and compares), so everything that reads
an index, Whoosh included, reads these.

Full builds (each worker's part) and incremental reindexes both write with it.
"""
from __future__ import annotations

import io
import pickle
import struct
import zlib
from array import array
from collections import Counter
from hashlib import md5
from itertools import accumulate, repeat
from operator import sub
from pickle import dumps
from typing import Iterator

from whoosh import fields, formats
from whoosh.analysis import IDTokenizer, RegexTokenizer
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3TermsReader, W3TermInfo
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.reading import TermNotFound
from whoosh.system import pack_int, pack_uint, pack_ushort, unpack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from searchsvc import schema
from searchsvc.postings import EXTENSION as ARRAYS_EXTENSION
from searchsvc.postings import ArraysWriter, SegmentArrays
from searchsvc.stored import EXTENSION as STORED_EXTENSION
from searchsvc.stored import StoredWriter

TEXT_FIELDS = (schema.CONTENT, schema.TITLE)  # analysed here in one pass
_ROW = struct.Struct("!BfIBBfIIqi")  # W3TermInfo: flags, weight, df, min/max length, max weight, first/last id, extent
_ROW_HEAD = struct.Struct("!ii")  # a hash table row's key and value lengths
_HEAD = struct.Struct("!4si")  # a term's first block: the W3 magic, the block's length
_INT = struct.Struct("!i")  # a block's length (negative: the term's last block)


class BulkSegmentWriter(SegmentWriter):
    """A ``SegmentWriter`` that keeps postings in lists, not a pool.

    ``lock``: take the index's write lock (an incremental reindex), or not
    (a full build's parts: the build holds it). Merging small segments at
    commit goes through here as well: their postings join the lists.
    """

    def __init__(self, ix, lock: bool = False, **kwargs):
        super().__init__(ix, _lk=lock, **kwargs)
        codec = self.codec
        if not isinstance(codec, W3Codec) or codec._inlinelimit > 1 or codec._compression:
            raise ValueError("the bulk writer writes uncompressed W3 blocks without inlined postings")
        self._blocklimit = codec._blocklimit
        for name in TEXT_FIELDS:
            field = self.schema[name]
            if type(field.format) is not formats.Positions or field.format.field_boost != 1.0:
                raise ValueError(f"field {name!r}: the bulk writer analyses unboosted positions only")
        # ID fields indexed as the whole value (what their tokenizer and format make of it)
        self._whole_value_fields = {name for name, field in self.schema.items()
                                    if type(field) is fields.ID and type(field.analyzer) is IDTokenizer
                                    and type(field.format) is formats.Existence}
        self._fields_by_name = dict(self.schema.items())  # Schema.__getitem__ is a method call with glob checks
        self._spelling_fields = {name: field.spelling_fieldname(name) for name, field in self.schema.items()
                                 if field.separate_spelling()}  # -> the field its words are posted to
        self._checked_names: list[str] | None = None  # the last field names checked against the schema
        # KEYWORD fields split on a regex alone (near-duplicate keys): their words counted here
        self._split_fields = {name: field.analyzer.expression for name, field in self.schema.items()
                              if type(field) is fields.KEYWORD and type(field.analyzer) is RegexTokenizer
                              and not field.analyzer.gaps and field.analyzer.expression.groups == 0
                              and type(field.format) is formats.Frequency and field.format.field_boost == 1.0}
        # fields whose analyzer starts with a regex tokenizer: no words, nothing posted, in an empty value
        self._tokenized_fields = {name for name, field in self.schema.items()
                                  if type(field) in (fields.TEXT, fields.KEYWORD)
                                  and isinstance(_first_tokenizer(field.analyzer), RegexTokenizer)
                                  and not _first_tokenizer(field.analyzer).gaps}
        # per field: term -> ([docnum], [weight], [encoded value][, [position]]); a length byte per document
        self._terms: dict[str, dict] = {}
        self._text: dict[str, _TextPostings] = {}  # titles' and bodies' postings as documents arrive
        self._length_bytes: dict[str, list[int]] = {}
        self._record_lengths()
        self._stored = StoredWriter()
        self._record_stored()
        self._spelled: set[str] = set()
        self.postings_held = 0  # the caller starts a new segment past its memory budget

    def _record_lengths(self) -> None:
        """Keep each document's length bytes as they pass to the per-document writer (new and merged documents)."""
        perdoc = self.perdocwriter
        plain_add_field = perdoc.add_field
        lengths = self._length_bytes

        def add_field(fieldname, fieldobj, value, length):
            if length:
                column = lengths.get(fieldname)
                if column is None:
                    column = lengths[fieldname] = []
                docnum = perdoc._docnum
                if len(column) < docnum:
                    column.extend([0] * (docnum - len(column)))
                column.append(length_to_byte(length))
            plain_add_field(fieldname, fieldobj, value, length)

        perdoc.add_field = add_field

    def _record_stored(self) -> None:
        """Keep each document's stored fields as the per-document writer finishes it (new and merged documents),
        for the segment's ``.sto`` file (stored.py); Whoosh's own column is written as before."""
        perdoc = self.perdocwriter
        plain_finish_doc = perdoc.finish_doc
        add = self._stored.add

        def finish_doc():
            if perdoc._indoc:  # (``close`` calls it once more, outside any document)
                add(perdoc._docnum, perdoc._storedfields)
            plain_finish_doc()

        perdoc.finish_doc = finish_doc

    def _field_terms(self, name: str) -> dict:
        """The field's term -> postings lists."""
        terms = self._terms.get(name)
        if terms is None:
            terms = self._terms[name] = {}
        return terms

    def add_postings_to_pool(self, reader, startdoc, docmap):
        """A merged segment's postings, renumbered, join the lists (after this writer's own documents).

        ``docmap`` (old -> new document number) holds the live documents
        only when the segment has deletions; else they follow ``startdoc``.
        """
        self._settle_text()  # this writer's own documents come first
        texts, schema_ = TEXT_FIELDS, self.schema
        arrays = SegmentArrays.of(reader)
        for name, text, offset, docnums, weights, values in _segment_postings(reader):
            if name not in schema_:
                continue
            whole = docmap is None
            if whole:
                kept = range(len(docnums))
                docnums = [startdoc + d for d in docnums]
            else:
                kept = [i for i, d in enumerate(docnums) if d in docmap]
                if not kept:
                    continue
                docnums = [docmap[docnums[i]] for i in kept]
            terms = self._field_terms(name)
            if name in texts:
                term = text.decode("utf-8")
                postings = terms.get(term)
                if postings is None:
                    terms[term] = postings = (array("I"), [], [], array("I"))
                counts = [int(w) for w in weights]  # unboosted positions: the weight counts them
                postings[3].extend(_kept_positions(arrays, offset, values, counts, None if whole else kept))
                weights = counts
            else:
                term = text
                postings = terms.get(term)
                if postings is None:
                    terms[term] = postings = (array("I"), [], [])
            postings[0].extend(docnums)
            postings[1].extend(weights[i] for i in kept)
            postings[2].extend(values[i] for i in kept)

    def add_document(self, **fields):
        """As ``SegmentWriter.add_document``: fields in name order, the same calls to the per-document writer."""
        self._check_state()
        schema_ = self.schema
        perdoc = self.perdocwriter
        docnum = self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        if names != self._checked_names:  # documents of a build mostly have the same fields
            self._check_fields(schema_, names)
            self._checked_names = names
        perdoc.start_doc(docnum)
        columns = perdoc._colwriters  # W3PerDocWriter's (the codec is W3): a column's writer, once it has one
        stored = perdoc._storedfields  # and the document's stored fields
        fields_ = self._fields_by_name
        for name in names:
            value = fields[name]
            if value is None:
                continue
            field = fields_.get(name) or schema_[name]
            length, last_value, words = 0, b"", None
            if name in TEXT_FIELDS:
                length, last_value, words = self._add_text(name, docnum, value)
            elif name in self._whole_value_fields and type(value) is str:
                last_value = b""
                self._add_items(name, docnum, ((value.encode("utf-8"), 1, field.format.field_boost, b""),))
            elif value == "" and name in self._tokenized_fields:
                pass  # no author, no topics: Whoosh's analyzer finds no word to post
            elif name in self._split_fields and type(value) is str:
                # as Frequency.word_values counts them: first-seen order, weight the count as a float
                counted = Counter(self._split_fields[name].findall(value))
                length, last_value = self._add_items(
                    name, docnum, ((word.encode("utf-8"), n, float(n), pack_uint(n)) for word, n in counted.items()),
                    field.scorable)
            elif field.indexed:
                length, last_value = self._add_items(name, docnum, field.index(value), field.scorable)
            if name in self._spelling_fields:
                # did-you-mean asks only which words exist: each once per segment (Whoosh posts every
                # word of every document), to document 0 with the field's last posting value as Whoosh does
                words = (set(words) if words is not None else schema.spelling_words(value)) - self._spelled
                self._spelled.update(words)
                self._add_items(self._spelling_fields[name], 0,
                                ((word.encode("utf-8"), 1, 1, last_value) for word in sorted(words)))
            if length:
                perdoc.add_field(name, field, value if field.stored else None, length)
            elif field.stored:  # all that add_field does without a length
                stored[name] = value
            if field.column_type is not None:
                column = columns.get(name)
                if column is None:  # its first value: the per-document writer makes the column
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
                else:  # as add_column_value does, without its two lookups
                    column.add(docnum, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_text(self, name: str, docnum: int, value: str) -> tuple[int, bytes, list[str]]:
        """Take a title or body analysed in one pass: its length, the last new term's encoded positions, its words.

        Its postings join the field's ``_TextPostings`` (flat arrays, a few
        C calls a document, no Python loop per term): they are grouped by
        term when the segment is written (``_settle_text``). A term's
        positions in the document go together, in term order: one C sort
        of the positions by term.
        """
        first, words = schema.index_words(value)
        terms_in_doc = schema.stems_of(words)
        length = len(terms_in_doc)
        if not length:
            return 0, b"", words
        counts = Counter(terms_in_doc)  # in first-seen order: the last is the term whose value Whoosh returns
        held = self._text.get(name)
        if held is None:
            held = self._text[name] = _TextPostings()
        last = next(reversed(counts))
        if len(counts) == length:  # every term once
            held.add(docnum, terms_in_doc, _ones(length), range(first, first + length))
            last_positions = [first + length - 1]
        else:
            by_term = sorted(range(first, first + length),
                             key=(([""] * first + terms_in_doc) if first else terms_in_doc).__getitem__)
            ordered = sorted(counts)  # str keys sort in C without tuple comparisons
            held.add(docnum, ordered, map(counts.__getitem__, ordered), by_term)
            at = terms_in_doc.index(last)  # its first occurrence: every other one follows it
            last_positions = [first + i for i in range(at, length) if terms_in_doc[i] == last]
        self.postings_held += len(counts)
        return len(words), _encoded_positions(last_positions), words

    def _settle_text(self) -> None:
        """The titles' and bodies' postings held in flat arrays join the per-term lists (before merged postings
        join them, and before the segment is written)."""
        for name in sorted(self._text):
            terms = self._field_terms(name)
            for term, docnums, weights, values, positions in self._text.pop(name).grouped():
                postings = terms.get(term)
                if postings is None:
                    terms[term] = (docnums, weights, values, positions)
                else:
                    postings[0].extend(docnums)
                    postings[1].extend(weights)
                    postings[2].extend(values)
                    postings[3].extend(positions)

    def _add_items(self, name: str, docnum: int, items, scorable=False) -> tuple[int, bytes]:
        """Post (term, frequency, weight, value) items as Whoosh's field writer would; length and last value."""
        terms = self._field_terms(name)
        length, value, count = 0, b"", 0
        for term, freq, weight, value in items:
            postings = terms.get(term)
            if postings is None:
                terms[term] = postings = (array("I"), [], [])
            postings[0].append(docnum)
            postings[1].append(weight)
            postings[2].append(value)
            length += freq
            count += 1
        self.postings_held += count
        return (length if scorable else 0), value

    def _flush_segment(self):
        """Write every field's terms, fields in name order and terms in byte order; then the titles' and
        bodies' postings again as arrays (postings.py)."""
        self.perdocwriter.close()
        self._settle_text()
        self._pickled_blocks = _SinglePostingPickles()
        arrays = ArraysWriter()
        for name in sorted(self._terms):
            if self._terms[name]:
                self._write_field(name, arrays)
        self.fieldwriter.close()
        # the term table's (hash, position) pairs, written: freed now, not by the first cyclic collection
        # after the build's writing (a writer is part of reference cycles), which would walk them all first
        # (0.1 s a segment of 10,000 articles)
        for bucket in self.fieldwriter._tindex.buckets:
            bucket.clear()
        self._pickled_blocks = None  # (likewise)
        self._arrays = arrays.to_bytes()

    def _assemble_segment(self):
        """A compound segment packs Whoosh's files; the arrays and the stored documents stay files of their
        own (to be mapped)."""
        super()._assemble_segment()
        f = self.newsegment.create_file(self.storage, ARRAYS_EXTENSION)
        try:
            f.write(self._arrays)
        finally:
            f.close()
        self._arrays = b""
        f = self.newsegment.create_file(self.storage, STORED_EXTENSION)
        try:
            self._stored.write(f, self.docnum)
        finally:
            f.close()

    def _write_field(self, name: str, arrays: ArraysWriter) -> None:
        """One field's posting lists, in blocks as ``W3PostingsWriter`` writes them, and its rows in the term table."""
        writer = self.fieldwriter
        field = self.schema[name]
        writer.start_field(name, field)
        prefix = pack_ushort(writer._fieldmap[name])
        postings, table = _Appender(writer._postfile), _TermTable(writer._tindex)
        add_row, add_block = table.add, postings.add
        terms, limit = self._terms.pop(name), self._blocklimit
        length_bytes = self._length_bytes.get(name, [])
        length_bytes.extend([0] * (self.docnum - len(length_bytes)))
        join_values = _values_joiner(field.format)
        text_keys = name in TEXT_FIELDS  # str keys: their order is their UTF-8 bytes' order
        pickled = self._pickled_blocks
        for term in sorted(terms):
            docnums, weights, values = terms[term][:3]
            key = prefix + (term.encode("utf-8") if text_keys else term)
            count = len(docnums)
            if count == 1:  # most terms: one posting, one block
                docnum, weight = docnums[0], weights[0]
                low = length_bytes[docnum]
                heaviest = float(weight) if text_keys else max(0, weight)
                data = pickled.data(docnum, None if weight == 1 else float(weight), join_values(values))
                info = pickled.info(docnum, heaviest, low)
                block = _HEAD.pack(WHOOSH3_HEADER_MAGIC, -len(info) - len(data)) + info + data
                start = add_block(block)
                add_row(key, _ROW.pack(False, weight, 1, low, low, heaviest, docnum, docnum, start, len(block)))
                if text_keys:
                    arrays.add(start, docnums, weights, terms[term][3])
                continue
            start = add_block(WHOOSH3_HEADER_MAGIC)
            total_weight, max_weight, min_length, max_length = 0, 0, 0, 0
            for first in range(0, count, limit):
                ids, block_weights = docnums[first:first + limit], weights[first:first + limit]
                lengths = list(map(length_bytes.__getitem__, ids))
                low, high, heaviest = _length_range(lengths), max(lengths), max(0, *block_weights)
                if text_keys:
                    heaviest = float(heaviest)
                data = dumps((_deltas(ids), _mini_weights(block_weights), join_values(values[first:first + limit])), 2)
                info = dumps((len(ids), ids[-1], heaviest, 0, low, high), 2)
                size = len(info) + len(data)
                add_block(pack_int(-size if first + limit >= count else size) + info + data)
                total_weight += sum(block_weights)
                max_weight = max(max_weight, heaviest)
                if low:
                    min_length = min(min_length, low) if min_length else low
                max_length = max(max_length, high)
            add_row(key, _ROW.pack(False, total_weight, count, min_length, max_length, max_weight,
                                   docnums[0], docnums[-1], start, postings.offset - start))
            if text_keys:
                arrays.add(start, docnums, weights, terms[term][3])
        postings.close()
        table.close()
        writer.finish_field()


class _TextPostings:
    """A text field's postings as documents arrive, in flat arrays; ``grouped`` gives them term by term.

    Per document: its distinct terms (each a posting), their counts and
    their positions, term after term. Keeping a list per term as each
    document arrives cost four appends and a value a posting (a Python
    loop over a build's every posting); here a document is a few C calls,
    and the grouping is one stable sort by term of all of a segment's
    postings (numpy's, from ``NUMPY_FROM`` postings; Python's below, where
    importing numpy would cost more than it saves).
    """

    NUMPY_FROM = 50_000

    def __init__(self):
        self.terms: list[str] = []   # each posting's term
        self.counts = array("I")     # each posting's count of positions
        self.positions = array("I")  # the postings' positions, one posting after another
        self.docs = array("I")       # each document's number...
        self.sizes = array("I")      # ...and its number of postings

    def add(self, docnum: int, terms: list[str], counts, positions) -> None:
        """A document's postings: its distinct terms, their counts and their positions in that order."""
        self.docs.append(docnum)
        self.sizes.append(len(terms))
        self.terms.extend(terms)
        self.counts.extend(counts)
        self.positions.extend(positions)

    def grouped(self) -> Iterator[tuple[str, list[int], list[int], list[bytes], array]]:
        """(term, document numbers, weights, encoded positions, positions) of each term, in term order, its
        postings in document order: what the writer kept per term."""
        if not self.terms:
            return
        grouping = self._numpy_grouping if len(self.terms) >= self.NUMPY_FROM else self._python_grouping
        unique, bounds, docs, counts, values, positions, position_bounds = grouping()
        for i, term in enumerate(unique):
            low, high = bounds[i], bounds[i + 1]
            yield term, docs[low:high], counts[low:high], values[low:high], \
                positions[position_bounds[i]:position_bounds[i + 1]]

    def _numpy_grouping(self):
        """(terms in order, where each term's postings start and end, the postings' documents, counts,
        encoded values and positions in term order, where each term's positions start and end): one stable
        argsort, and each value made in C calls (``map``), not a Python loop per posting. The flat arrays
        are let go as soon as they are read, and documents and counts come back as arrays (4 bytes a
        posting): a worker's segment holds up to 16 million postings."""
        import numpy as np

        unique = sorted(set(self.terms))
        number = dict(zip(unique, range(len(unique))))
        ids = np.fromiter(map(number.__getitem__, self.terms), np.int64, len(self.terms))
        self.terms = number = None
        order = np.argsort(ids, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(ids, minlength=len(unique)))))
        del ids
        counts = np.frombuffer(self.counts, np.uint32).astype(np.int64)
        docs = np.repeat(np.frombuffer(self.docs, np.uint32), np.frombuffer(self.sizes, np.uint32))[order]
        first = np.cumsum(counts) - counts  # where each posting's positions start, as added
        counts = counts[order]
        ends = np.cumsum(counts)
        starts = ends - counts  # and in term order
        gather = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(first[order] - starts, counts)
        del first, order
        positions = np.frombuffer(self.positions, np.uint32)[gather]
        del gather
        self.counts = self.docs = self.sizes = self.positions = None
        position_bounds = np.concatenate(([0], ends))[bounds]
        values = _single_values(positions[starts].tolist())
        several = counts > 1
        if several.any():
            gaps = positions[np.repeat(several, counts)].astype(np.int64)  # the positions of those postings
            their_counts = counts[several]
            their_ends = np.cumsum(their_counts)
            their_starts = their_ends - their_counts
            firsts = gaps[their_starts]
            gaps[1:] -= gaps[:-1].copy()
            gaps[their_starts] = firsts  # each posting's first position as it is, then the gaps
            gaps = gaps.tolist()
            encoded = map(bytes.__add__, map(pack_uint, their_counts.tolist()),
                          map(dumps, map(gaps.__getitem__, map(slice, their_starts.tolist(), their_ends.tolist())),
                              repeat(2)))
            for i, value in zip(np.flatnonzero(several).tolist(), encoded):
                values[i] = value
        return (unique, bounds.tolist(), array("I", docs.astype(np.uint32).tobytes()),
                array("I", counts.astype(np.uint32).tobytes()), values, array("I", positions.tobytes()),
                position_bounds.tolist())

    def _python_grouping(self):
        """As ``_numpy_grouping``, in Python."""
        unique = sorted(set(self.terms))
        number = dict(zip(unique, range(len(unique))))
        ids = list(map(number.__getitem__, self.terms))
        order = sorted(range(len(ids)), key=ids.__getitem__)  # stable: documents stay in order
        docs = [d for d, size in zip(self.docs, self.sizes) for _ in range(size)]
        first = list(accumulate(self.counts, initial=0))
        positions = array("I")
        values = []
        for i in order:
            mine = self.positions[first[i]:first[i + 1]]
            values.append(_single_values(mine.tolist())[0] if len(mine) == 1 else _encoded_positions(mine))
            positions.extend(mine)
        per_term = Counter(ids)
        bounds = list(accumulate((per_term[i] for i in range(len(unique))), initial=0))
        counts = [self.counts[i] for i in order]
        ends = list(accumulate(counts, initial=0))
        return unique, bounds, [docs[i] for i in order], counts, values, positions, [ends[b] for b in bounds]


def _single_values(positions: list[int]) -> list[bytes]:
    """The encoded value of a posting at each of ``positions`` (once each): a new bytes object each (see
    ``_PICKLED_POSITIONS``)."""
    pickled, ONE = _PICKLED_POSITIONS, _ONE
    if not positions or max(positions) < len(pickled):
        return list(map(ONE.__add__, map(pickled.__getitem__, positions)))
    return [ONE + (pickled[p] if p < len(pickled) else dumps([p], 2)) for p in positions]


class _SinglePostingPickles:
    """The two pickles of a one-posting block, each made once per distinct content.

    Most terms have one posting, and a document's rare words, its
    near-duplicate keys and every did-you-mean word (all posted to document
    0) share the block's statistics and often its data: a dictionary lookup
    instead of a pickle.  Keys carry the type of a number that may be an int
    or a float (they pickle differently but compare equal).
    """

    LIMIT = 1 << 16  # entries kept; past it the memory starts again

    def __init__(self):
        self._data: dict = {}
        self._info: dict = {}

    def data(self, docnum: int, weight: float | None, values) -> bytes:
        key = (docnum, weight, values)
        found = self._data.get(key)
        if found is None:
            if len(self._data) >= self.LIMIT:
                self._data.clear()
            found = self._data[key] = dumps(((docnum,), weight, values), 2)
        return found

    def info(self, docnum: int, heaviest, low: int) -> bytes:
        key = (docnum, heaviest, type(heaviest), low)
        found = self._info.get(key)
        if found is None:
            if len(self._info) >= self.LIMIT:
                self._info.clear()
            found = self._info[key] = dumps((1, docnum, heaviest, 0, low, low), 2)
        return found


class _Appender:
    """Bytes bound for a file, joined into large writes; ``add`` answers where its bytes start."""

    FLUSH_AT = 1 << 20

    def __init__(self, file):
        self.file, self.offset = file, file.tell()
        self.chunks, self.held = [], 0

    def add(self, data: bytes) -> int:
        at = self.offset
        self.chunks.append(data)
        self.offset += len(data)
        self.held += len(data)
        if self.held >= self.FLUSH_AT:
            self.close()
        return at

    def close(self) -> None:
        self.file.write(b"".join(self.chunks))
        self.chunks, self.held = [], 0


class _TermTable:
    """Rows added to Whoosh's ordered hash table of terms as its ``add`` does, in bulk.

    The table's own ``add`` is four method calls a row; here a row is
    appended to lists, and ``close`` writes them and hands the positions and
    hashes over to the table, which writes its hash index when the field
    writer closes.
    """

    def __init__(self, table: OrderedHashWriter):
        if table.hashfn is not md5_hash:
            raise ValueError("the term table hashes with something other than md5_hash")
        self.table, self.rows = table, _Appender(table.dbfile)
        self.positions: list[int] = []
        self.last = table.lastkey

    def add(self, key: bytes, value: bytes) -> None:
        if key <= self.last:
            raise ValueError(f"term table keys must increase: {self.last!r}..{key!r}")
        at = self.rows.add(_ROW_HEAD.pack(len(key), len(value)) + key + value)
        self.positions.append(at)
        h = int.from_bytes(md5(key).digest()[-4:], "big")  # md5_hash: the digest's low 32 bits
        self.table.buckets[h & 255].append((h, at))
        self.last = key

    def close(self) -> None:
        self.rows.close()
        index = self.table.index  # GrowableArray: its type widens with the largest position, as ``append`` does
        if self.positions:
            try:
                array(index.array.typecode, self.positions[-1:])
            except OverflowError:
                index._retype(self.positions[-1])
            index.array.extend(self.positions)
        self.table.lastkey = self.last


def term_postings(reader, fieldname: str, tbytes: bytes):
    """(posting reader, document frequency) of a term in one segment, or (None, 0): one term-table lookup.

    The segment's own reader: deleted documents included (callers mask them).
    """
    terms = getattr(reader, "_terms", None)
    if terms is None or not hasattr(terms, "term_info"):
        if (fieldname, tbytes) not in reader:
            return None, 0
        return reader.postings(fieldname, tbytes), reader.doc_frequency(fieldname, tbytes)
    try:
        info = terms.term_info(fieldname, tbytes)
    except TermNotFound:
        return None, 0
    m = terms._codec.postings_reader(terms._postfile, info, reader.schema[fieldname].format, term=(fieldname, tbytes))
    return m, info.doc_frequency()


def term_offset(reader, fieldname: str, tbytes: bytes) -> int | None:
    """Where the term's posting list starts in the segment's posting file (its key into the segment's
    arrays, postings.py), or None: not in the segment, or its postings are inline in the term table."""
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, W3TermsReader):
        return None
    fnum = terms._fieldmap.get(fieldname)
    if fnum is None:
        return None
    row = terms._tindex.get(pack_ushort(fnum) + tbytes)
    if row is None or row[0]:
        return None
    return _ROW.unpack(row)[-2]


def _segment_postings(reader) -> Iterator[tuple[str, bytes, int | None, list[int], list, list]]:
    """(field, term, posting list offset, document numbers, weights, values) of every term of a segment,
    deleted documents included (the offset is None for postings inline in the term table).

    As Whoosh's posting reader decodes them (weights and values exactly as
    its matcher answers them), but a term's blocks straight from the
    posting file, without a matcher object per term: a merge reads every
    term of every merged segment.
    """
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, W3TermsReader):  # every segment this project writes or merges is W3
        raise TypeError(f"cannot merge a segment read by {type(terms).__name__}: not Whoosh's W3 codec")
    postfile, names, fields_ = terms._postfile, terms._fieldunmap, reader.schema
    for key, row in terms._tindex.items():
        name, text = names[unpack_ushort(key[:2])[0]], key[2:]
        if row[0]:  # the postings are inline in the row
            ids, weights, values = W3TermInfo.from_bytes(row).inlined_postings()
            yield name, text, None, list(ids), list(weights), list(values)
            continue
        fixed = fields_[name].format.fixed_value_size() if name in fields_ else None
        offset, length = _ROW.unpack(row)[-2:]  # (W3TermInfo.from_bytes reads the length as a tuple)
        data = io.BytesIO(postfile.get(offset, length))
        if data.read(4) != WHOOSH3_HEADER_MAGIC:
            raise ValueError(f"posting list of {name}:{text!r} does not start with a W3 block")
        docnums, weights, values = [], [], []
        last = False
        while not last:
            size = _INT.unpack(data.read(4))[0]
            last, size = size < 0, abs(size)
            end = data.tell() + size
            count, _, _, compression, _, _ = pickle.load(data)
            block = data.read(end - data.tell())
            block_ids, block_weights, block_values = pickle.loads(zlib.decompress(block) if compression else block)
            docnums.extend(accumulate(block_ids))  # deltas from zero in every block
            if block_weights is None:
                weights.extend([1.0] * count)
            elif isinstance(block_weights, float):
                weights.extend([array("f", (block_weights,))[0]] * count)  # a float32, as the matcher answers
            else:
                weights.extend(block_weights)
            if fixed is None or fixed < 0:
                values.extend(block_values)
            elif fixed == 0:
                values.extend([None] * count)
            else:
                values.extend(block_values[i:i + fixed] for i in range(0, len(block_values), fixed))
        yield name, text, offset, docnums, weights, values


def _kept_positions(arrays: SegmentArrays | None, offset: int | None, values: list, counts: list[int],
                    kept: list[int] | None) -> array:
    """A merged term's positions, flat, for the ``kept`` postings (None: all): from the segment's arrays
    where it has them, else decoded from Whoosh's posting values."""
    import numpy as np

    found = arrays.term(offset) if arrays is not None and offset is not None else None
    if found is not None and len(found.docs) == len(counts):
        flat = found.positions
    else:
        flat = decode_positions(values, np.array(counts, np.int64)).astype(np.uint32)
    if kept is not None:
        keep = np.zeros(len(counts), bool)
        keep[kept] = True
        flat = flat[np.repeat(keep, counts)]
    return array("I", flat.astype(np.uint32, copy=False).tobytes())


# What formats.Positions writes after a posting's count: a protocol-2 pickle of the gap list. Bodies of
# such pickles (their items, then APPEND or MARK...APPENDS) joined after one header unpickle as one flat
# list: a block's positions in one C call instead of one per document.
_POSITIONS_HEADER = b"\x80\x02]q\x00"
_LIST_START = b"\x80\x02]"


def decode_positions(values: list[bytes], per_doc: np.ndarray) -> np.ndarray:
    """Postings' encoded positions (a count, then a pickled list of gaps), decoded into one int64 array."""
    import numpy as np

    n = len(values)
    if not n:
        return np.empty(0, np.int64)
    if b"".join([v[4:9] for v in values]) == _POSITIONS_HEADER * n and b"".join([v[-1:] for v in values]) == b"." * n:
        gaps = pickle.loads(_LIST_START + b"".join([v[9:-1] for v in values]) + b".")  # 4 + len(header)
    else:  # written some other way: one list at a time
        gaps = [g for v in values for g in pickle.loads(v[4:])]
    if len(gaps) != int(per_doc.sum()):
        raise ValueError("positions do not match their counts")
    total = np.cumsum(np.array(gaps, np.int64))
    before = np.concatenate(([0], total))[np.cumsum(per_doc) - per_doc]  # the running sum where each document starts
    return total - np.repeat(before, per_doc)


def _first_tokenizer(analyzer):
    """The tokenizer an analyzer starts with (itself, or a composite's first item), or None."""
    items = getattr(analyzer, "items", None)
    return items[0] if items else analyzer


def _length_range(lengths: list[int]) -> int:
    """The shortest length byte, skipping documents without one (as Whoosh's block statistics do); 0 if none."""
    low = min(lengths)
    if low:
        return low
    return min((n for n in lengths if n), default=0)


def _values_joiner(fmt):
    """How the W3 block writer stores a block's values for this posting format."""
    size = fmt.fixed_value_size()
    if size is None or size < 0:
        return tuple
    if size == 0:
        return lambda values: None
    return b"".join


# The encoding of a term found once at a position (most terms of a document): a count of one, then the
# pickled list. A new bytes object is made from these each time: a block pickles its values, and pickle
# would write a shared object once and refer back to it, so the block would no longer be Whoosh's.
_ONE = pack_uint(1)
_PICKLED_POSITIONS = [dumps([pos], 2) for pos in range(4096)]


def _encoded_positions(positions: list[int]) -> bytes:
    """A posting's value as ``formats.Positions`` encodes it: its count, then the pickled list of gaps."""
    return pack_uint(len(positions)) + dumps([positions[0], *map(sub, positions[1:], positions)], 2)


def _ones(n: int) -> array:
    """``array("I")`` of ``n`` ones (counts of a document whose every term occurs once)."""
    return _ONES * n


_ONES = array("I", [1])


def _deltas(ids) -> tuple[int, ...]:
    return (ids[0],) + tuple(map(sub, ids[1:], ids[:-1]))


def _mini_weights(weights: list):
    """As the W3 block writer stores them (as 32-bit floats): None if all 1, one float if all equal, else each."""
    first = weights[0]
    if first == first and weights.count(first) == len(weights):  # all equal (count: in C; a NaN is never equal)
        return None if first == 1 else float(first)
    return tuple(map(float, weights))
