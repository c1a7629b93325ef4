"""A segment's stored documents file (stored.py) gives back each document's fields as they were added."""
from __future__ import annotations

import io
import marshal
import pickle
import struct
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import stored
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


def written_pickled(docs: dict[int, dict], count: int) -> bytes:
    """A file as the version before wrote it (magic SSVCSTO1, each document a pickle)."""
    pickles = [pickle.dumps(docs[d], 5) if d in docs else b"" for d in range(count)]
    offsets = [0]
    for p in pickles:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"<8sq{count + 1}q", b"SSVCSTO1", count, *offsets) + b"".join(pickles)


def test_a_file_written_before_with_pickles_is_still_read():
    docs = StoredDocs(written_pickled(DOCS, 5), 5)
    assert [docs[d] for d in range(5)] == [DOCS[0], {}, DOCS[2], DOCS[3], {}]
    assert type(docs[0]["published"]) is datetime


def test_a_file_is_written_with_the_new_magic():
    assert written()[:8] == stored.MAGIC == b"SSVCSTO2"


def test_an_article_is_marshalled_not_pickled():
    """The fast way holds for what an article stores (strings, None, a naive date): not a pickle inside."""
    article = {"author": "", "body": "Text", "group": "g", "id": "x", "published": datetime(1987, 3, 2, 10, 5),
               "source": "reuters", "title": "T", "topics": "", "url": "http://x", "year": None}
    assert type(marshal.loads(stored.encoded(article))) is tuple


class Text(str):
    pass


values = (st.text() | st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.binary()
          | st.datetimes() | st.datetimes(timezones=st.just(timezone(timedelta(hours=2))))
          | st.datetimes().map(lambda d: d.replace(fold=1)) | st.lists(st.text(max_size=3), max_size=2)
          | st.tuples(st.integers()) | st.text().map(Text))


def kinds(value) -> object:
    """A value's type, and its parts' (a datetime's zone and fold): what a round trip must keep too."""
    if isinstance(value, datetime):
        return (type(value), value.tzinfo, value.fold)
    if isinstance(value, (list, tuple)):
        return (type(value), [type(v) for v in value])
    return type(value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8) | st.integers(), values, max_size=12))
def test_fields_come_back_as_they_were_given(fields):
    found = stored.decoded(stored.encoded(fields))
    assert found == fields
    assert list(found) == list(fields)  # the same keys in the same order
    assert {k: kinds(v) for k, v in found.items()} == {k: kinds(v) for k, v in fields.items()}


def test_a_document_changed_in_place_is_refused_not_misread():
    """A changed byte that marshal would still read (a letter of the title) fails the document's checksum;
    the other documents read as before."""
    data = written()
    damaged = data.replace("Straße".encode(), b"Strasse", 1)  # seven bytes for seven: marshal would read it
    assert damaged != data and len(damaged) == len(data)
    docs = StoredDocs(damaged, 5)
    with pytest.raises(ValueError, match="checksum"):
        docs[0]
    assert [docs[d] for d in range(1, 5)] == [{}, DOCS[2], DOCS[3], {}]


def test_a_damaged_length_is_refused_before_marshal_allocates_for_it():
    """One byte made a list's marker (``[``): marshal would read the next four as a count of two thousand
    million and allocate for them; the checksum refuses the document first."""
    writer = StoredWriter()
    writer.add(0, {"author": "", "body": "Text " * 100, "id": "x"})
    f = io.BytesIO()
    writer.write(f, 1)
    data = bytearray(f.getvalue())
    at = data.index(b"author") - 2  # the type byte of the first key (a short ASCII string)
    data[at] = ord("[")
    with pytest.raises(ValueError, match="checksum"):
        StoredDocs(bytes(data), 1)[0]
