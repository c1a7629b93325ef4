"""Near-duplicate detection: the same story syndicated or republished with small edits.

Each document's cleaned body becomes word 5-shingles, hashed once (crc32,
C speed). Its *sketch* is the 64 smallest shingle hashes (a bottom-k MinHash
sketch), from which the Jaccard resemblance of two documents is estimated;
its *keys* are the 6 smallest, indexed so candidates are found by a term
lookup instead of a scan (two documents with resemblance J share their
smallest hash with probability J). Documents whose estimated resemblance
reaches ``THRESHOLD`` share a group; the group is named after its first member.
"""
from __future__ import annotations

import re
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

SHINGLE = 5
SKETCH = 64
KEYS = 6
THRESHOLD = 0.5      # estimated Jaccard of 5-shingles; measured in bench/dedup.py
MIN_SHINGLES = 20    # shorter texts are never grouped: too little evidence

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Signature:
    sketch: bytes            # SKETCH uint32 hashes, ascending (array('I').tobytes())
    keys: tuple[str, ...]    # the KEYS smallest, as index terms

    @property
    def empty(self) -> bool:
        return not self.sketch


EMPTY = Signature(b"", ())


def signature(text: str) -> Signature:
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE + MIN_SHINGLES - 1:
        return EMPTY
    shingles = map(" ".join, zip(*(words[i:] for i in range(SHINGLE))))  # word i..i+4, all in C
    hashes = set(map(zlib.crc32, map(str.encode, shingles)))
    smallest = sorted(hashes)[:SKETCH]  # a C sort of ~a hundred values beats heapq's Python loop
    return Signature(array("I", smallest).tobytes(), tuple(f"{h:08x}" for h in smallest[:KEYS]))


def resemblance(a: bytes, b: bytes) -> float:
    """Estimated Jaccard from two bottom-k sketches: shared share of the union's k smallest."""
    if not a or not b:
        return 0.0
    return _resemblance(_hashes(a), _hashes(b))


def _hashes(sketch: bytes) -> set[int]:
    return set(memoryview(sketch).cast("I"))


def _resemblance(sa: set[int], sb, at_least: float = 0.0) -> float:
    """``resemblance`` of a sketch's hash set and another sketch's hashes (any iterable of distinct values);
    0.0 early when it must fall below ``at_least``.

    The shared share of the union's k smallest is at most the shared share
    of the whole (k-capped) union: a candidate sharing one key, most of
    them, is answered without ordering anything, and without a set of its
    own (the grouper compares each new article with up to 64 candidates).
    """
    both = sa.intersection(sb)
    size = min(SKETCH, len(sa) + len(sb) - len(both))
    if not size or len(both) < at_least * size:
        return 0.0
    union = sorted(sa.union(sb))[:SKETCH]  # at most 2k values: a C sort beats a heap
    return len(both.intersection(union)) / len(union)


CANDIDATES = 64  # documents compared with a new one: those sharing the most keys


def likeliest(keyed: list[tuple[int, Callable[[], Iterable]]], limit: int = CANDIDATES) -> list:
    """The ``limit`` items sharing the most keys (ties: the earliest), from (how many, items) per key.

    Keys are read rarest first. Once there are candidates, a key common
    enough to bring more than ``4 * limit`` items is not read, nor any after
    it: such a key is a shingle of boilerplate ("editing by ..."), shared by
    thousands of unrelated stories, and a true near-copy shares about half
    the keys, so the rarer ones find it. Without this bound, a corpus where
    thousands of stories end with the same sentence compared each story with
    all of them.
    """
    shared: Counter = Counter()
    for size, items in sorted(keyed, key=lambda entry: entry[0]):
        if shared and len(shared) + size > 4 * limit:
            break
        shared.update(items())
    return [item for item, _ in sorted(shared.items(), key=lambda entry: (-entry[1], entry[0]))[:limit]]


Lookup = Callable[[tuple[str, ...], str], Iterable[tuple[bytes, str]]]  # (keys, own id) -> (sketch, group)


class Grouper:
    """Assigns group names during one reindex, remembering every signature it has seen.

    ``lookup`` finds candidates among documents already in the index (an
    incremental reindex), excluding the document's own earlier version.
    """

    def __init__(self, threshold: float = THRESHOLD, lookup: Lookup | None = None):
        self.threshold = threshold
        self.lookup = lookup
        self._by_key: dict[str, list[int]] = {}
        self._seen: list[tuple[bytes, str]] = []  # (sketch, group)

    def remember(self, sig: Signature, group: str) -> None:
        if sig.empty:
            return
        slot = len(self._seen)
        self._seen.append((sig.sketch, group))
        for key in sig.keys:
            self._by_key.setdefault(key, []).append(slot)

    def match(self, sig: Signature, doc_id: str = "") -> str | None:
        """The group of the most similar known document at or above the threshold, among ``likeliest`` candidates."""
        if sig.empty:
            return None
        keyed = [(len(self._by_key[key]), self._by_key[key].__iter__) for key in sig.keys if key in self._by_key]
        candidates = [self._seen[slot] for slot in likeliest(keyed)]
        if self.lookup is not None:
            candidates.extend(self.lookup(sig.keys, doc_id))
        best, best_score = None, self.threshold
        own = _hashes(sig.sketch)
        for sketch, group in candidates:
            score = _resemblance(own, memoryview(sketch).cast("I"), at_least=best_score)
            if score > best_score or (score == best_score and best is None):
                best, best_score = group, score
        return best

    def assign(self, doc_id: str, sig: Signature) -> str:
        group = self.match(sig, doc_id) or doc_id
        self.remember(sig, group)
        return group
