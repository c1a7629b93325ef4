"""Ordering every hit of a query: cursors for deep paging, collapsing, and fresh-and-relevant.

A first page orders only the hits that can reach it (a partial sort of the
query's score array, see engine.py); a cursor orders every hit once per
generation and query (cached), so later pages are slices and cost the same
at any depth. Keys end in the document id, a stable tie-breaker across
index generations.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from itsdangerous import BadData, URLSafeSerializer

from searchsvc import schema
from searchsvc.errors import BadRequest

SECONDS_PER_DAY = 86400.0
RECENT_POWER = 0.5  # sort=recent: relevance times (1 + age / scale) ** -RECENT_POWER (see recent_factors)


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended, and the request it continues (an opaque, signed token outside)."""

    q: str
    sort: str
    sources: tuple[str, ...]
    date_from: str | None
    date_to: str | None
    per_page: int
    collapse: bool
    key: tuple
    generation: str
    missing: tuple[str, ...] = ()   # the "no source" / "undated" buckets chosen (``search.MISSING``)
    offset: int = 0                 # hits before the page this cursor leads to

    def to_json(self) -> dict:
        return {"v": 1, "q": self.q, "s": self.sort, "src": list(self.sources), "f": self.date_from,
                "t": self.date_to, "n": self.per_page, "c": self.collapse, "k": list(self.key),
                "g": self.generation, "m": list(self.missing), "o": self.offset}

    @classmethod
    def from_json(cls, d) -> "Cursor":
        """A cursor from its JSON, every field of the type it must have (``ValueError`` otherwise).

        Only the shape is checked here; the request it continues is checked
        like any request (``search._continued``).
        """
        if not isinstance(d, dict) or d.get("v") != 1:
            raise ValueError("not a cursor")
        q, sort, sources, date_from, date_to = d.get("q"), d.get("s"), d.get("src"), d.get("f"), d.get("t")
        per_page, collapse, key, generation = d.get("n"), d.get("c"), d.get("k"), d.get("g")
        missing, offset = d.get("m"), d.get("o")
        if not all(isinstance(x, str) for x in (q, sort, generation)) or len(generation) > 200:
            raise ValueError("not a cursor")
        if not all(isinstance(x, list) and all(isinstance(y, str) for y in x) for x in (sources, missing)):
            raise ValueError("bad sources")
        if not all(x is None or isinstance(x, str) for x in (date_from, date_to)):
            raise ValueError("bad dates")
        if type(per_page) is not int or type(collapse) is not bool or type(offset) is not int or offset < 0:
            raise ValueError("bad page size")
        if not isinstance(key, list) or not any(key_fits(order, key) for order in KEY_NUMBERS):
            raise ValueError("bad key")
        return cls(q, sort, tuple(sources), date_from, date_to, per_page, collapse, tuple(key), generation,
                   tuple(missing), offset)


KEY_NUMBERS = {"date": 2, "relevance": 1, "recent": 1}  # numbers before the id in each order's key (_sort_keys)


def key_fits(order: str, key) -> bool:
    """Whether ``key`` has the shape of ``order``'s keys: finite numbers (a whole one first for dates), then an id;
    a tiered query's lead with a whole number (the words a hit lacks, ``_sort_keys``).

    Comparing a key of another shape with an ordering's keys would compare
    an id with a number.
    """
    numbers = KEY_NUMBERS.get(order)
    if numbers is not None and len(key) == numbers + 2:  # a tiered query's: the words a hit lacks lead
        if type(key[0]) is not int or key[0] < 0:
            return False
        key = key[1:]
    if numbers is None or len(key) != numbers + 1 or not isinstance(key[-1], str):
        return False
    if order == "date" and type(key[0]) is not int:
        return False
    return all(type(x) in (int, float) and math.isfinite(x) and abs(x) < 2**63 for x in key[:-1])


class CursorCodec:
    """Cursors as tokens signed with a secret (itsdangerous, HMAC-SHA256), so a client cannot forge one.

    The secret is ``Settings.cursor_key`` or the one kept in the index home
    (``IndexHome.cursor_key``): every server process and replica reading that
    setting or folder accepts the others' cursors. A token that does not
    verify, or whose contents do not have a cursor's shape, is a 400.
    """

    SALT = "searchsvc.cursor"

    def __init__(self, secret: str):
        self._serializer = URLSafeSerializer(secret, salt=self.SALT, signer_kwargs={"digest_method": hashlib.sha256})
        self._mac = hmac.new(self._serializer.make_signer().derive_key(), digestmod=hashlib.sha256)

    def encode(self, cursor: Cursor) -> str:
        """A token ``URLSafeSerializer.loads`` reads, made in one pass: what its ``dumps`` makes when it does not
        compress.

        The compact JSON (UTF-8) in URL-safe base64 without padding, a dot,
        and the HMAC-SHA256 of that under the serializer's derived key (its
        key set up once: ``_mac`` is copied). A first page with more hits
        carries one: itsdangerous's layers (a signer built, the key derived
        again, each step's checks) cost a query three times what this does.
        Not compressed: between two queries' other work (cold caches),
        zlib's set-up and the HMAC's key took most of a token's cost, 67-72
        µs against 28-29 now (in one process at 21k, the bench's fresh
        queries); a token is 290 characters instead of 244. Compressed
        tokens (older servers', itsdangerous's own) are read as before
        (tests/test_paging.py).
        """
        body = _base64(_COMPACT_JSON(cursor.to_json()).encode("utf-8"))
        mac = self._mac.copy()
        mac.update(body)
        return (body + b"." + _base64(mac.digest())).decode("ascii")

    def decode(self, token: str) -> Cursor:
        try:
            return Cursor.from_json(self._serializer.loads(token))
        except (BadData, ValueError, TypeError, RecursionError, UnicodeError):
            raise BadRequest("after is not a cursor this service gave out", "bad_after") from None


# itsdangerous's JSON (``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))``), its encoder made once:
# json.dumps makes one per call when given options
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _base64(data: bytes) -> bytes:
    """URL-safe base64 without padding (itsdangerous's)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def recent_factors(datekeys: np.ndarray, reference: int, half_life_days: float, oldest: int | None = None) -> np.ndarray:
    """Age decay of ``sort=recent``: 1 for the newest article, 1/2 at ``half_life_days``, then on down, never flat.

    A power law, ``(1 + age / scale) ** -0.5``: doubling an old article's age
    costs it the same share (about 0.7) whether it is two months old or
    two years, so relevant articles stay in date order across months and
    years; an exponential decay runs flat within months (everything older
    sits on one floor, and relevance alone orders a 2022 story above 2024
    ones). An article a year old keeps about a sixth of its relevance
    against the newest (with the default 30 days), two years a ninth.
    Undated articles count as old as the oldest dated one.
    """
    scale = half_life_days / (2 ** (1 / RECENT_POWER) - 1)  # so that the factor is 1/2 at half_life_days
    undated = datekeys == schema.UNDATED
    dates = np.where(undated, reference if oldest is None or oldest == schema.UNDATED else oldest, datekeys)
    age_days = np.maximum(0.0, (reference - dates) / SECONDS_PER_DAY)
    return np.power(1.0 + age_days / scale, -RECENT_POWER)


@dataclass
class Ranked:
    key: tuple
    docnum: int
    score: float


class Ordering:
    """Hits of one query in one index generation, in order: what pages are cut from.

    Keys are arrays, smallest first: the relevance or date parts, then the
    document id's rank (the tie-breaker). A hit's cursor key is the same tuple
    with the document id itself in place of its rank.
    """

    def __init__(self, gen, found, order: str, *, collapse: bool, half_life_days: float,
                 enough: int | None = None, facets: dict | None = None):
        self.gen, self.found, self.collapse = gen, found, collapse
        # A tiered query whose hits all have every word is ordered without its tier (a sort key fewer),
        # which still leads its cursor keys: they compare with those of the same query tiered.
        self.first_tier = found.missing is not None and not found.missing.any()
        tiered = found.missing is not None and not self.first_tier
        self.keys = _sort_keys(gen, found, order, half_life_days, tiered)
        self.positions = _ordered(gen, found, self.keys, collapse, enough, tiered)
        self.facets = facets or {}
        self.all_words: int | None = None  # set by the searcher (how many hits have every word)

    def __len__(self) -> int:
        return len(self.positions)

    def key(self, i: int) -> tuple:
        at = self.positions[i]
        parts = tuple(k[at].item() for k in reversed(self.keys[1:]))
        return (0,) * self.first_tier + parts + (self.gen.ids[int(self.found.docnums[at])],)

    @property
    def key_length(self) -> int:
        return len(self.keys) + self.first_tier

    def hit(self, i: int) -> Ranked:
        """The ``i``-th hit; a near-duplicate group's place and score are its best hit's, the version shown its
        best described (``_best_described``)."""
        at = self.positions[i]
        docnum = int(self.found.docnums[at])
        if self.collapse and self.gen.in_group(docnum):
            docnum = _best_described(self.gen, self.found, docnum)
        return Ranked(self.key(i), docnum, float(self.found.scores[at]))

    def page_after(self, after: tuple | None, start: int, size: int) -> tuple[list[Ranked], int]:
        """(hits, end): ``size`` hits after the cursor key ``after`` (or from position ``start``), and how many
        hits come before the next page.

        Whether hits follow is for the caller to say, from the total: an
        ordering made for a first page may hold only the hits that can reach it.
        """
        if after is not None:
            if not len(self):
                return [], 0
            if len(after) != self.key_length:  # a cursor of another kind of ordering (an older version's)
                raise BadRequest("after is not a cursor this service gave out", "bad_after")
            start = bisect.bisect_right(_Keys(self), after)
        stop = min(start + size, len(self))
        return self._hits(start, stop), stop

    def _hits(self, start: int, stop: int) -> list[Ranked]:
        """``hit(i)`` for each of ``start`` to ``stop``: the page's documents, scores and key parts gathered once,
        not a number at a time (the same values: numpy's own conversions to Python numbers)."""
        at = self.positions[start:stop]
        docnums = self.found.docnums[at].tolist()
        scores = self.found.scores[at].tolist()
        parts = [k[at].tolist() for k in reversed(self.keys[1:])]
        lead, ids, gen = (0,) * self.first_tier, self.gen.ids, self.gen
        hits = []
        for j, docnum in enumerate(docnums):
            key = lead + tuple(part[j] for part in parts) + (ids[docnum],)
            if self.collapse and gen.in_group(docnum):
                docnum = _best_described(gen, self.found, docnum)
            hits.append(Ranked(key, docnum, scores[j]))
        return hits


def _best_described(gen, found, docnum: int) -> int:
    """The matching member of ``docnum``'s group with the most of source, date and author (``gen.metadata``);
    among equals ``docnum`` itself (the group's best hit), then the higher score, then the id."""
    if gen.metadata[docnum] >= _best_metadata(gen)[gen.group[docnum]]:
        return docnum  # no live member is better described (the usual case: copies of one wire story)
    members = gen.group_members(docnum)
    at = np.minimum(np.searchsorted(found.docnums, members), len(found) - 1)
    matching = found.docnums[at] == members
    members, at = members[matching], at[matching]
    described = gen.metadata[members]
    if not len(members) or described.max() <= gen.metadata[docnum]:
        return docnum
    best = described == described.max()
    members, at = members[best], at[best]
    return int(members[np.lexsort((gen.id_rank[members], -found.scores[at]))[0]])


def _best_metadata(gen) -> np.ndarray:
    """The most of source, date and author a live member of each near-duplicate group has (once per commit)."""
    held = gen.memo("paging.best_metadata")
    best = held.get("best")
    if best is None:
        best = np.zeros(int(gen.group.max()) + 1 if len(gen.group) else 0, np.int8)
        for level in range(1, int(gen.metadata.max()) + 1 if len(gen.metadata) else 1):  # 1 to 3, each a
            best[gen.group[gen.live & (gen.metadata >= level)]] = level  # pass: np.maximum.at is slower
        held["best"] = best
    return best


class _Keys:
    """An ordering's cursor keys as a sequence, computed only where bisect looks."""

    def __init__(self, ordering: Ordering):
        self.ordering = ordering

    def __len__(self) -> int:
        return len(self.ordering)

    def __getitem__(self, i: int) -> tuple:
        return self.ordering.key(i)


def _sort_keys(gen, found, order: str, half_life_days: float, tiered: bool) -> list[np.ndarray | None]:
    """np.lexsort keys (the last one primary), each smaller-first.

    A tiered query (``found.missing``) orders by its tiers first, in every
    order: the articles with every word, then those missing one, and so on.
    The first, the document id's rank (the tie-breaker), is None here:
    ``_lexsorted`` looks it up for the candidates alone (a first page of a
    query matching 50,000 articles sorts a few hundred).
    """
    ranks = None
    if order == "date":
        keys = [ranks, -found.scores, -gen.datekey[found.docnums]]
    elif order == "recent":
        keys = [ranks, -found.scores * recent_factors(gen.datekey[found.docnums], gen.newest, half_life_days,
                                                      gen.oldest)]
    else:
        keys = [ranks, -found.scores]
    if tiered:
        keys.append(found.missing)
    return keys


def _coarse(keys: list[np.ndarray], tiered: bool) -> np.ndarray:
    """One array in the order of the primary keys, for the partial sort: the tier and the key within it.

    Rounding may tie neighbours (they are then kept or left out together) but never swaps them.
    """
    if not tiered:
        return keys[-1]
    within = keys[-2].astype(np.float64)
    lo = within.min()
    span = within.max() - lo + 1.0
    return keys[-1] * span + (within - lo)


def _ordered(gen, found, keys: list[np.ndarray], collapse: bool, enough: int | None, tiered: bool) -> np.ndarray:
    """Positions in ``found``, in order; one per near-duplicate group when collapsing.

    With ``enough``, only the first ``enough`` are sure to be there: the
    candidates are the hits whose primary key is within the best
    ``enough``-th (ties included), widened until they hold enough groups.
    Every member of a group outside the candidates ranks below all of them,
    so a group's best candidate is its best hit.
    """
    n = len(found)
    take = (int(enough * 2 * gen.group_size) + 8 if collapse else enough) if enough is not None else n
    primary = _coarse(keys, tiered) if take < n else keys[-1]
    while take < n:
        kth = np.partition(primary, take - 1)[take - 1]
        chosen = np.nonzero(primary <= kth)[0]
        positions = chosen[_lexsorted(gen, found, keys, chosen)]
        if collapse:
            positions = _first_of_each_group(gen, found, positions)
        if len(positions) >= enough:
            return positions
        take *= 4
    positions = _lexsorted(gen, found, keys, None) if n else np.empty(0, np.int64)
    return _first_of_each_group(gen, found, positions) if collapse else positions


def _lexsorted(gen, found, keys: list, chosen: np.ndarray | None) -> np.ndarray:
    """``np.lexsort`` of the ``chosen`` positions' keys (every position's with None), the id ranks looked up."""
    if chosen is None:
        return np.lexsort([gen.id_rank[found.docnums]] + keys[1:])
    return np.lexsort([gen.id_rank[found.docnums[chosen]]] + [k[chosen] for k in keys[1:]])


def _first_of_each_group(gen, found, positions: np.ndarray) -> np.ndarray:
    groups = gen.group[found.docnums[positions]]
    _, first = np.unique(groups, return_index=True)
    return positions[np.sort(first)]


class Orderings:
    """A bounded LRU of ``Ordering``s keyed by commit + query: cursor pages after the first cost O(page)."""

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
            if key in self._entries or len(ordering.found) > self.max_items:
                return
            self._entries[key] = ordering
            self._items += len(ordering.found)
            while self._items > self.max_items or len(self._entries) > self.max_entries:
                _, old = self._entries.popitem(last=False)
                self._items -= len(old.found)
