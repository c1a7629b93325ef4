"""The bulk segment writer writes the files Whoosh's own writer writes, byte for byte.

Both write the same documents (the bundled sample corpus plus generated
edge cases) into a segment of their own, or merge the same segments; every
file of the two segments must be equal. Whoosh's writer gets the bulk
writer's one spelling posting per word and segment (``spelling_once``).
"""
from __future__ import annotations

import random
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from conftest import make_settings, search_ids
from searchsvc import dedup, indexer, schema, segment
from searchsvc.indexer import bundled_sample, reindex
from searchsvc.search import SearchIndex
from searchsvc.postings import SegmentArrays
from searchsvc.stored import StoredDocs
from searchsvc.segment import BulkSegmentWriter, term_offset
from searchsvc.sources import Document, read_documents, scan


ARRAYS = ".arr"
STORED = ".sto"


def sample_documents() -> list[Document]:
    docs = []
    for f in scan([bundled_sample()], []):
        docs.extend(read_documents(f, 10**7)[0])
    return docs


def generated_documents() -> list[Document]:
    """Edge cases: lists longer than a block, repeated words, non-ASCII, leading stop words, empty fields."""
    rng = random.Random(7)
    words = "harbor strike council budget flood ferry grain tariff rail bridge".split()
    docs = []
    for i in range(300):  # "harbor" in every one: posting lists of three blocks (128 a block)
        body = " ".join(["harbor"] + rng.choices(words, k=rng.randint(1, 400)))
        docs.append(Document(id=f"gen-{i}", title=rng.choice(["", "The Harbor", "Ünïcode Straße İstanbul", "of the a"]),
                             body=body, author=rng.choice([None, "Ana Ruiz", "José Núñez"]),
                             source=rng.choice([None, "Wire", "Café Post"]),
                             published=rng.choice([None, datetime(2024, 1, 1 + i % 28, 12, 30)]),
                             topics=rng.choice([[], ["Ports", "Weather"]])))
    docs.append(Document(id="long", title="Long", body="word " * 120_000))  # a length past the last length byte
    docs.append(Document(id="empty", title="", body=""))  # nothing to post but its id
    return docs


def segment_files(directory: Path, writer_class, documents: list[Document]) -> dict[str, bytes]:
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema())
    writer = writer_class(ix, codec=W3Codec(compression=0), compound=False, **(
        {"_lk": False} if writer_class is SegmentWriter else {}))
    grouper = dedup.Grouper()
    with whoosh_spelling(writer):
        for doc in documents:
            doc.signature = dedup.signature(doc.body)
            writer.add_document(**indexer._fields(doc, grouper.assign(doc.id, doc.signature)))
    segment = writer._finalize_segment()
    prefix = f"{ix.indexname}_{segment.segid}"
    return {p.name[len(prefix):]: p.read_bytes() for p in directory.iterdir() if p.name.startswith(prefix)}


def merged_segment_files(directory: Path, writer_class, documents: list[Document], compression: int,
                         part_writer=SegmentWriter) -> dict[str, bytes]:
    """Three committed segments (the second with deletions) and new documents, merged into one segment."""
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema())
    grouper = dedup.Grouper()
    fields = []
    for doc in documents:
        doc.signature = dedup.signature(doc.body)
        fields.append(indexer._fields(doc, grouper.assign(doc.id, doc.signature)))
    parts = [fields[:40], fields[40:80], fields[80:120]]
    for part in parts:  # compressed blocks: what incremental reindexes wrote before the bulk writer
        writer = part_writer(ix, codec=W3Codec(compression=compression), compound=False)
        with whoosh_spelling(writer):
            for f in part:
                writer.add_document(**f)
        writer.commit(merge=False)
    writer = ix.writer()
    for f in parts[1][::3]:
        writer.delete_by_term(schema.ID, f[schema.ID])
    writer.commit(merge=False)
    writer = writer_class(ix, codec=W3Codec(compression=0), compound=False)
    with whoosh_spelling(writer):
        for f in fields[120:130]:
            writer.add_document(**f)
    writer.commit(optimize=True)  # after the spelling patch is gone: the schema is pickled at commit
    segments = whoosh_index.open_dir(str(directory))._segments()
    assert len(segments) == 1
    prefix = f"{ix.indexname}_{segments[0].segid}"
    return {p.name[len(prefix):]: p.read_bytes() for p in directory.iterdir() if p.name.startswith(prefix)}


@contextmanager
def spelling_once(writer):
    """Whoosh's writer posting each spelling word once per segment, found by ``schema.spelling_words``.

    Whoosh 2.7.4 posts every word of every document to the spelling field;
    the bulk writer posts each word once (did-you-mean only asks which words
    exist). The schema is pickled at commit: commit after leaving this.
    """
    seen: set[str] = set()

    def new_words(value):
        words = schema.spelling_words(value) - seen
        seen.update(words)
        return iter(sorted(words))

    spelled = [field for _, field in writer.schema.items() if field.separate_spelling()]
    for field in spelled:
        field.spellable_words = new_words
    try:
        yield
    finally:
        for field in spelled:
            del field.spellable_words


def whoosh_spelling(writer):
    return spelling_once(writer) if type(writer) is SegmentWriter else nullcontext()


@pytest.fixture(params=["numpy", "python"])
def grouping(request, monkeypatch):
    """Titles' and bodies' postings grouped by term with numpy's sort (a build's segments) and with Python's
    (an update's few documents): both must write Whoosh's files."""
    monkeypatch.setattr(segment._TextPostings, "NUMPY_FROM", 0 if request.param == "numpy" else 10**9)
    return request.param


@pytest.mark.parametrize("documents", [sample_documents, generated_documents])
def test_bulk_segment_is_byte_for_byte_whooshs(tmp_path, documents, grouping):
    docs = documents()
    whoosh_files = segment_files(tmp_path / "whoosh", SegmentWriter, docs)
    bulk_files = segment_files(tmp_path / "bulk", BulkSegmentWriter, docs)
    assert ".pst" in whoosh_files and ".trm" in whoosh_files and "._stored.col" in whoosh_files
    assert sorted(bulk_files) == sorted([*whoosh_files, ARRAYS, STORED])  # and its postings and documents again
    different = [name for name in whoosh_files if bulk_files[name] != whoosh_files[name]]
    assert different == []


@pytest.mark.parametrize("compression, part_writer", [(0, SegmentWriter), (3, SegmentWriter), (0, BulkSegmentWriter)])
def test_merging_segments_is_byte_for_byte_whooshs(tmp_path, compression, part_writer, grouping):
    """Merged from segments Whoosh wrote, or the bulk writer (whose documents it then reads from their
    ``.sto`` files, Whoosh from its column)."""
    docs = generated_documents()[:130]
    whoosh_files = merged_segment_files(tmp_path / "whoosh", SegmentWriter, docs, compression, part_writer)
    bulk_files = merged_segment_files(tmp_path / "bulk", BulkSegmentWriter, docs, compression, part_writer)
    assert ".pst" in whoosh_files and sorted(bulk_files) == sorted([*whoosh_files, ARRAYS, STORED])
    assert [name for name in whoosh_files if bulk_files[name] != whoosh_files[name]] == []


def whooshs_postings(reader, fieldname: str) -> dict[bytes, tuple[list, list, list]]:
    """Every term's (documents, frequencies, positions) as Whoosh's own matcher reads them."""
    out = {}
    for tbytes in reader.lexicon(fieldname):
        m = reader.postings(fieldname, tbytes)
        docs, freqs, positions = [], [], []
        while m.is_active():
            docs.append(m.id())
            found = list(m.value_as("positions"))
            freqs.append(len(found))
            positions.extend(found)
            m.next()
        out[tbytes] = (docs, freqs, positions)
    return out


def mapped_postings(reader, fieldname: str) -> dict[bytes, tuple[list, list, list]]:
    arrays = SegmentArrays.of(reader)
    out = {}
    for tbytes in reader.lexicon(fieldname):
        found = arrays.term(term_offset(reader, fieldname, tbytes))
        out[tbytes] = (found.docs.tolist(), found.freqs.tolist(), found.positions.tolist())
    return out


@pytest.mark.parametrize("merged_from", [None, SegmentWriter, BulkSegmentWriter])
def test_a_segments_arrays_hold_its_title_and_body_postings(tmp_path, merged_from, grouping):
    """Fresh, merged from segments without arrays (decoded), and from segments with them (deletions dropped)."""
    if merged_from is None:
        (tmp_path / "ix").mkdir()
        writer = BulkSegmentWriter(whoosh_index.create_in(str(tmp_path / "ix"), schema.build_schema()),
                                   codec=W3Codec(compression=0), compound=False)
        grouper = dedup.Grouper()
        for doc in generated_documents():
            writer.add_document(**indexer._fields(doc, grouper.assign(doc.id, dedup.signature(doc.body))))
        writer.commit(merge=False)
    else:
        merged_segment_files(tmp_path / "ix", BulkSegmentWriter, generated_documents()[:130], 0, merged_from)
    ix = whoosh_index.open_dir(str(tmp_path / "ix"))
    segment = ix._segments()[-1]
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        for fieldname in (schema.CONTENT, schema.TITLE):
            expected = whooshs_postings(reader, fieldname)
            assert len(expected) >= 4
            assert fieldname == schema.TITLE or any(len(docs) > 100 for docs, _, _ in expected.values())
            assert mapped_postings(reader, fieldname) == expected
    finally:
        reader.close()


@pytest.mark.parametrize("merged_from", [None, SegmentWriter, BulkSegmentWriter])
def test_a_segments_stored_documents_file_holds_whooshs_stored_fields(tmp_path, merged_from):
    """Fresh (a date, non-ASCII, an empty body), merged from segments without the file (read through
    Whoosh), and from segments with it (deletions dropped): every document as Whoosh's column holds it."""
    documents = generated_documents()
    if merged_from is None:
        (tmp_path / "ix").mkdir()
        writer = BulkSegmentWriter(whoosh_index.create_in(str(tmp_path / "ix"), schema.build_schema()),
                                   codec=W3Codec(compression=0), compound=False)
        grouper = dedup.Grouper()
        for doc in documents:
            writer.add_document(**indexer._fields(doc, grouper.assign(doc.id, dedup.signature(doc.body))))
        writer.commit(merge=False)
    else:
        merged_segment_files(tmp_path / "ix", BulkSegmentWriter, documents[:130], 0, merged_from)
    ix = whoosh_index.open_dir(str(tmp_path / "ix"))
    [segment] = ix._segments()
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        docs = StoredDocs.of(reader)
        assert len(docs) == reader.doc_count_all() == (len(documents) if merged_from is None else 130 - 14)
        expected = [reader.stored_fields(d) for d in range(reader.doc_count_all())]
        found = [docs[d] for d in range(reader.doc_count_all())]
        assert found == expected
        assert [{k: type(v) for k, v in f.items()} for f in found] == \
            [{k: type(v) for k, v in f.items()} for f in expected]
        assert any(isinstance(f.get(schema.PUBLISHED), datetime) for f in found)
        assert any(not f.get(schema.TITLE, "").isascii() for f in found)
        assert merged_from is not None or any(f[schema.ID] == "empty" and f[schema.BODY] == "" for f in found)
    finally:
        reader.close()


def test_a_build_past_the_postings_budget_writes_more_segments_and_finds_the_same(tmp_path, monkeypatch):
    ids = {}
    for budget in (indexer.SEGMENT_POSTINGS, 400):
        monkeypatch.setattr(indexer, "SEGMENT_POSTINGS", budget)
        settings = make_settings(tmp_path / f"ix{budget}")
        reindex(settings, [bundled_sample()])
        index = SearchIndex(settings)
        segments = len(index.home.open_index()._segments())
        ids[budget] = (segments, [search_ids(index, q) for q in ("harbor", "council budget", '"heat wave"', "ferry -storm")])
    (one, found_one), (many, found_many) = ids.values()
    assert one == 1 and many > 3
    assert found_one == found_many and all(found_one)
