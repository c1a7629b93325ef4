"""Near-duplicate signatures and resemblance, against their definitions."""
from __future__ import annotations

import zlib
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import dedup

sketches = st.sets(st.integers(0, 2**32 - 1), max_size=dedup.SKETCH).map(sorted)


def defined_resemblance(a: list[int], b: list[int]) -> float:
    """The shared share of the k smallest hashes of the union (0 for an empty sketch)."""
    if not a or not b:
        return 0.0
    union = sorted(set(a) | set(b))[:dedup.SKETCH]
    return sum(1 for h in union if h in set(a) & set(b)) / len(union)


@settings(max_examples=400, deadline=None)
@given(sketches, sketches, st.sets(st.integers(0, 2**32 - 1), max_size=40))
def test_resemblance_is_the_shared_share_of_the_unions_smallest(a, b, shared):
    a, b = sorted(set(a) | shared)[:dedup.SKETCH], sorted(set(b) | shared)[:dedup.SKETCH]
    pack = lambda hashes: array("I", hashes).tobytes()
    assert dedup.resemblance(pack(a), pack(b)) == defined_resemblance(a, b)


def defined_signature(text: str) -> tuple[list[int], tuple[str, ...]] | None:
    """The sketch and keys as defined: crc32 of every word 5-shingle of the lower-cased text (None: too short)."""
    lowered = dedup._WORD.findall(text.lower())
    if len(lowered) < dedup.SHINGLE + dedup.MIN_SHINGLES - 1:
        return None
    hashes = {zlib.crc32(" ".join(lowered[i:i + dedup.SHINGLE]).encode("utf-8"))
              for i in range(len(lowered) - dedup.SHINGLE + 1)}
    smallest = sorted(hashes)[:dedup.SKETCH]
    return smallest, tuple(f"{h:08x}" for h in smallest[:dedup.KEYS])


def found_signature(text: str) -> tuple[list[int], tuple[str, ...]] | None:
    sig = dedup.signature(text)
    return None if sig.empty else (array("I", sig.sketch).tolist(), sig.keys)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("harbor strike council budget flood ferry Ünï x1 U.S. O'Neil MiXeD snake_case -- "
                                "\t\n".split(" ")), max_size=120))
def test_signature_keeps_the_smallest_shingle_hashes(words):
    text = " ".join(words)
    assert found_signature(text) == defined_signature(text)


@pytest.mark.parametrize("text", [
    "The U.S. Federal Reserve's policy_makers met on 12-13 March; rates, at 5.25%, held. " * 4,  # ASCII: as bytes
    "Tabs\tand\nnew lines, UPPER and lower, a_b c-d e.f g/h (i) [j] {k} #1 @2 $3 " * 3,
    "Café owners in Zürich and São Paulo said the ÉTÉ season's prices rose by 3% " * 3,  # not ASCII: as text
])
def test_signature_of_ascii_and_other_text_is_the_defined_one(text):
    assert found_signature(text) is not None
    assert found_signature(text) == defined_signature(text)


AT_ONCE = pytest.mark.parametrize("at_once", [False, True], ids=["one-at-a-time", "at-once"])


@AT_ONCE
def test_the_most_similar_group_above_the_threshold_wins(at_once):
    base = " ".join(f"w{i}" for i in range(200))
    grouper = dedup.Grouper(at_once=at_once)
    assert grouper.assign("a", dedup.signature(base)) == "a"
    assert grouper.assign("b", dedup.signature("other " + " ".join(f"v{i}" for i in range(200)))) == "b"
    assert grouper.assign("c", dedup.signature(base.replace("w150", "changed"))) == "a"
    assert grouper.assign("d", dedup.signature(base[: len(base) // 3])) == "d"  # a third of the text: below 0.5


def test_likeliest_prefers_items_sharing_more_keys_and_skips_boilerplate_keys():
    read = []

    def key(name, items):
        def items_of():
            read.append(name)
            return iter(items)
        return (len(items), items_of)

    boilerplate = key("boilerplate", list(range(1000, 2000)))
    keyed = [key("rare", [7, 3]), key("also rare", [3, 9]), boilerplate]
    assert dedup.likeliest(keyed, limit=2) == [3, 7]  # 3 shares two keys; then the earliest
    assert "boilerplate" not in read
    read.clear()
    assert dedup.likeliest([boilerplate], limit=3) == [1000, 1001, 1002]  # the only key: read anyway
    assert read == ["boilerplate"]


@AT_ONCE
def test_near_copies_group_among_stories_that_share_a_boilerplate_ending(at_once):
    ending = " ".join(f"e{n}" for n in range(30))  # thirty words every story ends with
    grouper = dedup.Grouper(at_once=at_once)
    stories = {f"s{i}": " ".join(f"w{i}_{n}" for n in range(60)) + " " + ending for i in range(400)}
    groups = {doc_id: grouper.assign(doc_id, dedup.signature(text)) for doc_id, text in stories.items()}
    copy = stories["s7"].replace("w7_30", "changed")
    assert grouper.assign("copy", dedup.signature(copy)) == "s7"
    assert len(set(groups.values())) == 400  # the shared ending alone groups nothing


@settings(max_examples=300, deadline=None)
@given(sketches.filter(bool), st.lists(sketches.filter(bool), min_size=1, max_size=12), st.booleans())
def test_resemblances_at_once_equal_each_resemblance(own, candidates, zero):
    """Rows of the grouper's array (short ones padded with zeros) against a sketch, a zero hash in it or not."""
    if zero:
        own = sorted({0} | set(own))[:dedup.SKETCH]
    table = dedup._Sketches()
    rows = [table.add(array("I", c).tobytes()) for c in candidates]
    assert rows == list(range(len(candidates)))
    got = table.resemblances(array("I", own).tobytes(), rows[::-1]).tolist()
    assert got == [defined_resemblance(own, c) for c in candidates[::-1]]


def crafted(hashes: list[int]) -> dedup.Signature:
    hashes = sorted(hashes)
    return dedup.Signature(array("I", hashes).tobytes(), tuple(f"{h:08x}" for h in hashes[:dedup.KEYS]))


@AT_ONCE
def test_of_equally_similar_groups_the_earliest_wins(at_once):
    a = crafted(list(range(64)))
    b = crafted(list(range(16)) + list(range(100, 148)))  # resemblance with a: 16/64, a group of its own
    c = crafted(list(range(40)) + list(range(100, 124)))  # 40/64 with each of them
    assert dedup.resemblance(c.sketch, a.sketch) == dedup.resemblance(c.sketch, b.sketch) == 40 / 64
    for first, second in (("a", "b"), ("b", "a")):
        grouper = dedup.Grouper(at_once=at_once)
        assert grouper.assign(first, {"a": a, "b": b}[first]) == first
        assert grouper.assign(second, {"a": a, "b": b}[second]) == second
        assert grouper.assign("c", c) == first
