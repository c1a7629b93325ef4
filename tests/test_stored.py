"""A segment's stored documents file (stored.py) gives back each document's fields as they were added."""
from __future__ import annotations

import io
import struct
from datetime import datetime

import pytest

from searchsvc.stored import StoredDocs, StoredWriter

DOCS = {0: {"id": "a", "published": datetime(2024, 2, 29, 23, 59, 1, 7), "title": "Ünïcode Straße İstanbul"},
        2: {"id": "c", "body": "", "year": None},  # document 1 has no stored fields
        3: {"id": "d" * 70_000}}


def written(count: int = 5) -> bytes:
    writer = StoredWriter()
    for docnum, fields in DOCS.items():
        writer.add(docnum, fields)
    f = io.BytesIO()
    writer.write(f, count)
    return f.getvalue()


def test_every_document_number_is_covered_and_round_trips():
    docs = StoredDocs(written(), 5)
    assert len(docs) == 5
    assert [docs[d] for d in range(5)] == [DOCS[0], {}, DOCS[2], DOCS[3], {}]
    assert type(docs[0]["published"]) is datetime
    assert docs[0] is not docs[0]  # a new dict each time: a caller may change its copy
    with pytest.raises(IndexError):
        docs[5]


@pytest.mark.parametrize("damage", [lambda b: b[:-1], lambda b: b + b"x", lambda b: b"NOTSTORE" + b[8:], lambda b: b""])
def test_a_damaged_file_is_refused(damage):
    with pytest.raises((ValueError, struct.error)):
        StoredDocs(damage(written()), 5)


def test_a_file_for_another_number_of_documents_is_refused():
    with pytest.raises(ValueError, match="segment of 6"):
        StoredDocs(written(5), 6)


def test_documents_go_in_order():
    writer = StoredWriter()
    writer.add(3, {"id": "x"})
    with pytest.raises(ValueError):
        writer.add(2, {"id": "y"})
    with pytest.raises(ValueError):
        writer.write(io.BytesIO(), 3)
