"""Ordering every hit of a query: cursors for deep paging, collapsing, and fresh-and-relevant.

Whoosh's own top-k collector serves the first pages. Past them (a cursor),
and for ``sort=recent``, one pass over all matches keeps only the k best
hits after the cursor, so a page costs the same at any depth. Keys end in
the document id, a stable tie-breaker across index generations.
"""
from __future__ import annotations

import base64
import bisect
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from searchsvc import schema
from searchsvc.errors import BadRequest

SECONDS_PER_DAY = 86400.0
RECENT_FLOOR = 0.25  # sort=recent: an old article keeps a quarter of its relevance


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended, and the request it continues (an opaque token outside)."""

    q: str
    sort: str
    sources: tuple[str, ...]
    date_from: str | None
    date_to: str | None
    per_page: int
    collapse: bool
    key: tuple
    generation: str

    def encode(self) -> str:
        data = {"v": 1, "q": self.q, "s": self.sort, "src": list(self.sources), "f": self.date_from,
                "t": self.date_to, "n": self.per_page, "c": self.collapse, "k": list(self.key),
                "g": self.generation}
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            d = json.loads(raw)
            cursor = cls(
                q=str(d["q"]), sort=str(d["s"]), sources=tuple(str(s) for s in d["src"]),
                date_from=d["f"], date_to=d["t"], per_page=int(d["n"]), collapse=bool(d["c"]),
                key=tuple(d["k"]), generation=str(d["g"]),
            )
            for value in (cursor.date_from, cursor.date_to):
                if value is not None:
                    date.fromisoformat(value)
            if d["v"] != 1 or len(cursor.key) < 2 or not isinstance(cursor.key[-1], str):
                raise ValueError("bad cursor")
            if not all(isinstance(x, (int, float)) for x in cursor.key[:-1]):
                raise ValueError("bad cursor key")
        except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
            raise BadRequest("after is not a cursor this service gave out", "bad_after") from None
        return cursor


def recent_factor(datekey: int, reference: int, half_life_days: float) -> float:
    """Age decay of ``sort=recent``: 1 when as new as the newest article, halving (towards the floor) every half-life."""
    if datekey == schema.UNDATED:
        return RECENT_FLOOR
    age_days = max(0.0, (reference - datekey) / SECONDS_PER_DAY)
    return RECENT_FLOOR + (1 - RECENT_FLOOR) * math.pow(0.5, age_days / half_life_days)


@dataclass
class Ranked:
    key: tuple
    docnum: int
    score: float


@dataclass
class Ordering:
    """Every hit of one query in one index generation, in order: what a cursor pages through."""

    ranked: list[Ranked]
    facets: dict

    @property
    def total(self) -> int:
        return len(self.ranked)

    def page_after(self, after: tuple | None, start: int, size: int) -> tuple[list[Ranked], bool]:
        """(hits, more): ``size`` hits after the cursor key ``after`` (or from position ``start``)."""
        if after is not None:
            start = bisect.bisect_right(self.ranked, after, key=lambda r: r.key)
        return self.ranked[start:start + size], start + size < len(self.ranked)


def rank_all(searcher, q, allow: set[int] | None, order: str, *, collapse: bool,
             half_life_days: float) -> list[Ranked]:
    """Every hit in ``order``, one per near-duplicate group when collapsing."""
    reference = newest_datekey(searcher) if order == "recent" else 0
    context = searcher.context(needs_current=True, weighting=searcher.weighting)
    best_of_group: dict[str, Ranked] = {}
    ranked: list[Ranked] = []
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        ids = reader.column_reader(schema.ID)
        dates = reader.column_reader(schema.DATEKEY)
        groups = reader.column_reader(schema.GROUP) if collapse else None
        matcher = q.matcher(sub, context)
        while matcher.is_active():
            sub_docnum = matcher.id()
            docnum = offset + sub_docnum
            if allow is None or docnum in allow:
                score = matcher.score()
                doc_id = _text(ids[sub_docnum])
                if order == "date":
                    key = (-dates[sub_docnum], -score, doc_id)
                elif order == "recent":
                    key = (-score * recent_factor(dates[sub_docnum], reference, half_life_days), doc_id)
                else:
                    key = (-score, doc_id)
                item = Ranked(key, docnum, score)
                if groups is None:
                    ranked.append(item)
                else:
                    group = _text(groups[sub_docnum]) or doc_id
                    held = best_of_group.get(group)
                    if held is None or key < held.key:
                        best_of_group[group] = item
            matcher.next()
    if collapse:
        ranked = list(best_of_group.values())
    ranked.sort(key=lambda r: r.key)
    return ranked


class Orderings:
    """A bounded LRU of ``Ordering``s keyed by generation + query: cursor pages after the first cost O(page)."""

    def __init__(self, max_items: int = 2_000_000, max_entries: int = 64):
        self.max_items, self.max_entries = max_items, max_entries
        self._entries: OrderedDict[tuple, Ordering] = OrderedDict()
        self._items = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Ordering | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, ordering: Ordering) -> None:
        with self._lock:
            if key in self._entries or len(ordering.ranked) > self.max_items:
                return
            self._entries[key] = ordering
            self._items += len(ordering.ranked)
            while self._items > self.max_items or len(self._entries) > self.max_entries:
                _, old = self._entries.popitem(last=False)
                self._items -= len(old.ranked)


def newest_datekey(searcher) -> int:
    """The newest article's date: ``sort=recent`` measures age from it, so an archive's own "latest" counts.

    Computed once per searcher (one index generation).
    """
    cached = getattr(searcher, "_searchsvc_newest", None)
    if cached is not None:
        return cached
    newest = schema.UNDATED
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        if reader.doc_count_all():
            column = reader.column_reader(schema.DATEKEY)
            newest = max(newest, max(column[i] for i in range(reader.doc_count_all())))
    searcher._searchsvc_newest = newest
    return newest


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value or "")
