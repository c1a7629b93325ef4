"""The bulk segment writer writes the files Whoosh's own writer writes, byte for byte.

Both write the same documents (the bundled sample corpus plus generated
edge cases) into a segment of their own; every file of the two segments
must be equal. Whoosh's writer gets the same one-spelling-posting-per-word
treatment as full builds had before the bulk writer (``_spelling_words_once``).
"""
from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from conftest import make_settings, search_ids
from searchsvc import dedup, indexer, schema
from searchsvc.indexer import bundled_sample, reindex
from searchsvc.search import SearchIndex
from searchsvc.segment import BulkSegmentWriter
from searchsvc.sources import Document, read_documents, scan


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
    return docs


def segment_files(directory: Path, writer_class, documents: list[Document]) -> dict[str, bytes]:
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema())
    writer = writer_class(ix, codec=W3Codec(compression=0), compound=False, **(
        {"_lk": False} if writer_class is SegmentWriter else {}))
    grouper = dedup.Grouper()
    with indexer._spelling_words_once(writer) if writer_class is SegmentWriter else _nothing():
        for doc in documents:
            doc.signature = dedup.signature(doc.body)
            writer.add_document(**indexer._fields(doc, grouper.assign(doc.id, doc.signature)))
    segment = writer._finalize_segment()
    prefix = f"{ix.indexname}_{segment.segid}"
    return {p.name[len(prefix):]: p.read_bytes() for p in directory.iterdir() if p.name.startswith(prefix)}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("documents", [sample_documents, generated_documents])
def test_bulk_segment_is_byte_for_byte_whooshs(tmp_path, documents):
    docs = documents()
    whoosh_files = segment_files(tmp_path / "whoosh", SegmentWriter, docs)
    bulk_files = segment_files(tmp_path / "bulk", BulkSegmentWriter, docs)
    assert ".pst" in whoosh_files and ".trm" in whoosh_files and "._stored.col" in whoosh_files
    assert sorted(bulk_files) == sorted(whoosh_files)
    different = [name for name in whoosh_files if bulk_files[name] != whoosh_files[name]]
    assert different == []


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
