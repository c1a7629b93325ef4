"""Searching the live index: one function, ``search``, behind every door.

A request's path: read the query (query.py), plan it (plan.py), evaluate
the plan over the index's arrays with the request's filters (engine.py),
order and cut the page (paging.py), try the plan's fallbacks when nothing
matched, then build the hits (stored fields, snippets, near-duplicates).
"""
from __future__ import annotations

import functools
import html
import math
import logging
import re
import secrets
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Mapping, Sequence

import numpy as np
import orjson
from whoosh import query as wq
from whoosh.searching import Searcher

from searchsvc import engine, exact, highlight, paging, plan as plans, schema
from searchsvc.highlight import Forms, mark, matches, passages
from searchsvc.cache import ResultCache
from searchsvc.config import Settings
from searchsvc.errors import BadRequest, IndexUnavailable, NotFound
from searchsvc.query import parse, words_of
from searchsvc.sources import valid_text
from searchsvc.store import IndexHome, Manifest

log = logging.getLogger(__name__)

SORTS = ("relevance", "date", "recent")
MISSING = ("source", "date")  # facets whose "no value" bucket can be chosen: ``missing=source``, ``missing=date``
MAX_CURSOR_CHARS = 65536  # a cursor token's length beyond its query's (sources, key, signature)


# --- records ------------------------------------------------------------

@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    page: int = 1
    per_page: int = 10
    sort: str = "relevance"
    sources: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    after: str | None = None      # a cursor token from a previous page's ``next``
    missing: tuple[str, ...] = ()  # also (or only) articles without a source / a date (``MISSING``)
    collapse: bool = True         # show each group of near-duplicates once
    explain: bool = False         # say which words matched where
    # Presentation only (batch runs skip them); the ranking is the same either way.
    with_snippets: bool = True
    with_facets: bool = True


@dataclass
class Passage:
    text: str      # escaped HTML with <mark> around matched words
    offset: int    # character position of the passage in the article's text


@dataclass(frozen=True)
class Version:
    """One near-duplicate version of a hit: the same objects in every page that shows its group (never changed)."""

    id: str
    title: str
    source: str | None
    published: str | None


@dataclass
class Match:
    term: str      # the query word
    field: str     # title | body
    via: str       # exact | stem | correction


@dataclass
class Hit:
    id: str
    title: str
    url: str | None
    published: str | None
    author: str | None
    source: str | None
    score: float
    snippet: str
    snippets: list[Passage] = field(default_factory=list)
    duplicates: list[Version] = field(default_factory=list)
    explain: dict | None = None
    title_html: str = ""   # the title escaped, with <mark> around the query's words

    def objects(self) -> tuple[int, int]:
        """(objects, strings) this hit holds: its own, its passages', its versions' and its explanation's."""
        objects = 3 + len(self.snippets) + len(self.duplicates)
        if self.explain is not None:
            objects += 2 * len(self.explain.get("matched", ()))
        return objects, 8 + len(self.snippets) + 4 * len(self.duplicates)

    def to_dict(self) -> dict:
        data = {
            "id": self.id, "title": self.title, "title_html": self.title_html, "url": self.url,
            "published": self.published,
            "author": self.author, "source": self.source, "score": self.score, "snippet": self.snippet,
            "snippets": [{"text": p.text, "offset": p.offset} for p in self.snippets],
            "duplicates": [{"id": v.id, "title": v.title, "source": v.source, "published": v.published}
                           for v in self.duplicates],
        }
        if self.explain is not None:
            data["explain"] = self.explain
        return data


OBJECT_BYTES = 200  # a dataclass instance with its dict, or a small dict or list, in CPython
STRING_BYTES = sys.getsizeof("")  # a string's own part, before its characters


def _text_bytes(page) -> int:
    """The length of ``page`` written as JSON (orjson), or of its ``repr`` where orjson cannot write it (a lone
    surrogate in an article's text)."""
    try:
        return len(orjson.dumps(page))
    except TypeError:
        return len(repr(page))


@dataclass
class FacetValue:
    value: str           # "" for the articles without one (``missing``)
    count: int
    missing: bool = False

    def to_dict(self) -> dict:
        return {"value": self.value, "count": self.count, "missing": self.missing}


@dataclass
class ResultPage:
    query: str
    total: int
    page: int
    per_page: int
    pages: int
    took_ms: float
    suggestion: str | None
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    next: str | None = None        # cursor for the page after this one; None on the last page
    corrected: bool = False        # no article matched the query: these hits answer ``suggestion``
    articles: int = 0              # matching articles (``total`` counts stories when collapsing); facets sum to it
    offset: int = 0                # hits before this page
    sort: str = "relevance"        # the order the hits are in (the empty query lists the newest first)
    relaxed: bool = False          # no article matched the query's operators: these hits answer its words
    total_all_words: int | None = None  # of ``total``, how many have every word (they come first); None: no tiers

    def counted_noun(self) -> str:
        """What ``total`` counts, in words: stories when near-duplicates are grouped, else articles."""
        stories = self.total != self.articles
        if self.total == 1:
            return "story" if stories else "article"
        return "stories" if stories else "articles"

    def tiers_note(self) -> str | None:
        """Where the results with every word end, when others follow them (the page, the CLI; search.js too)."""
        n = self.total_all_words
        if n is None or not self.total or n >= self.total:
            return None
        if n == 0:
            return "No result has all your words; these have some of them."
        if n == 1:
            return "The first result has all your words; the rest have some of them."
        return f"The first {n:,} results have all your words; the rest have some of them."

    def approximate_bytes(self) -> int:
        """The memory this page holds, roughly (the result cache's measure): its text, a fixed cost per object and
        per string.

        The text is the page written as JSON by orjson, in C: adding up each
        string's size in Python cost a fresh query more than its JSON answer
        (36 against 14 µs a page at 21k). tests/test_cache.py keeps it within
        a factor of two of what the page holds.
        """
        objects, strings = 6, 3  # itself, its facets and lists; the query, suggestion and cursor
        for hit in self.hits:
            o, t = hit.objects()
            objects, strings = objects + o, strings + t
        values = sum(len(v) for v in self.facets.values())
        return _text_bytes(self) + OBJECT_BYTES * (objects + values) + STRING_BYTES * (strings + values)

    def to_dict(self) -> dict:
        """The JSON API's shape (written out by hand: ``asdict`` deep-copies, a tenth of a request)."""
        return {
            "query": self.query, "total": self.total, "page": self.page, "per_page": self.per_page,
            "pages": self.pages, "took_ms": self.took_ms, "suggestion": self.suggestion,
            "hits": [hit.to_dict() for hit in self.hits],
            "facets": {name: [f.to_dict() for f in values] for name, values in self.facets.items()},
            "next": self.next, "corrected": self.corrected, "relaxed": self.relaxed,
            "total_all_words": self.total_all_words,
            "articles": self.articles, "offset": self.offset, "sort": self.sort,
        }


@dataclass
class Article:
    id: str
    title: str
    body: str
    url: str | None
    published: str | None
    author: str | None
    source: str | None
    topics: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


# --- reading requests ----------------------------------------------------

def request_from_params(params: Mapping[str, Sequence[str]], settings: Settings) -> SearchRequest:
    """A validated ``SearchRequest`` from query-string style parameters (name -> values)."""
    def one(name, default=None):
        values = params.get(name) or []
        return values[-1] if values else default

    q = one("q", "") or ""
    if len(q) > settings.max_query_chars:
        raise BadRequest(f"q is longer than {settings.max_query_chars} characters", "query_too_long")
    if "\x00" in q:
        q = q.replace("\x00", " ")
    q = valid_text(q)  # a command line's undecodable bytes: U+FFFD, as in file names
    page = _int_param("page", one("page"), 1, 1, settings.max_page)
    per_page = _int_param("per_page", one("per_page"), settings.per_page, 1, settings.max_per_page)
    sort = one("sort", "relevance") or "relevance"
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}, not {sort!r}", "bad_sort")
    sources = tuple(dict.fromkeys(valid_text(s) for s in params.get("source") or [] if s))
    date_from = _date_param("from", one("from"))
    date_to = _date_param("to", one("to"), end=True)
    if date_from and date_to and date_from > date_to:
        raise BadRequest("from must not be after to", "bad_date_range")
    after = one("after") or None
    if after is not None and len(after) > MAX_CURSOR_CHARS + 8 * settings.max_query_chars:
        raise BadRequest("after is not a cursor this service gave out", "bad_after")
    missing = _missing_param(params.get("missing") or [])
    return SearchRequest(q, page, per_page, sort, sources, date_from, date_to, after=after, missing=missing,
                         collapse=_bool_param("collapse", one("collapse"), True),
                         explain=_bool_param("explain", one("explain"), False))


def _missing_param(values: Sequence[str]) -> tuple[str, ...]:
    """The chosen "no value" buckets, in ``MISSING`` order."""
    chosen = {v for v in values if v}
    unknown = chosen - set(MISSING)
    if unknown:
        raise BadRequest(f"missing must be {' or '.join(MISSING)}, not {sorted(unknown)[0][:40]!r}", "bad_missing")
    return tuple(m for m in MISSING if m in chosen)


def _bool_param(name, raw, default: bool) -> bool:
    if raw in (None, ""):
        return default
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"{name} must be true or false, not {raw[:40]!r}", f"bad_{name}")


def _int_param(name, raw, default, lo, hi) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}", f"bad_{name}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}", f"bad_{name}")
    return value


ISO_DAY = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")  # openapi.ISO_DATE_PATTERN, less its calendar


def _date_param(name, raw, end=False) -> date | None:
    """An ISO date; ``YYYY`` or ``YYYY-MM`` mean the period's first day, or its last for ``end``.

    Exactly what the OpenAPI description allows (``openapi.ISO_DATE_PATTERN``),
    and only days the calendar has: ``2024-13`` and ``2023-02-29`` are
    refused, not rolled over. Year 0000 (ISO 8601's 1 BC, which Python's dates
    do not reach) means the earliest day there is, 0001-01-01.
    """
    if raw in (None, ""):
        return None
    try:
        return _iso_day(raw, end)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date (YYYY-MM-DD, YYYY-MM or YYYY), not {raw[:40]!r}",
                         f"bad_{name}") from None


def _iso_day(raw: str, end: bool) -> date:
    m = ISO_DAY.fullmatch(raw)
    if not m:
        raise ValueError(raw)
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if month is not None and not 1 <= int(month) <= 12:
        raise ValueError(raw)
    if year == 0:
        if day is not None:
            date(2000, int(month), int(day))  # a day the month has (a leap year, as 0000 is)
        return date.min
    if day is not None:
        return date(year, int(month), int(day))
    if not end:
        return date(year, int(month or 1), 1)
    if month is None or int(month) == 12:
        return date(year, 12, 31)
    return date(year, int(month) + 1, 1) - timedelta(days=1)


# --- the live index, one searcher per thread and generation --------------

class SearchIndex:
    """The live index, reopened when a reindex commits (checked with one stat per call).

    Whoosh searchers are not safe to share between threads (their files
    seek and read), so each thread keeps its own for the current generation;
    a new generation gets fresh searchers (never ``refresh()``: see the
    Whoosh pin in setup.cfg). Each generation also gets one *snapshot*
    searcher, kept for a while after the next commit, so that a cursor keeps
    paging through the same snapshot it started on: no duplicates or gaps
    while a reindex commits.
    """

    SNAPSHOTS = 4

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = IndexHome(settings.index)
        self._lock = threading.Lock()
        self._stamp = None
        self._ix = None
        self._local = threading.local()
        self._snapshots: OrderedDict[str, tuple[Searcher, threading.Lock]] = OrderedDict()
        self._open: set[Searcher] = set()  # every thread's searcher, so close() reaches them all
        self.orderings = paging.Orderings()
        self._arrays: OrderedDict[tuple, engine.Generation] = OrderedDict()
        self._arrays_lock = threading.Lock()
        self.segments = engine.SegmentCache()  # shared by the generations: a commit reads only its new segments
        self._checked: set = set()  # segments whose files were found whole (``IndexHome.open_index``)
        self._warmers: list[threading.Thread] = []
        self._warm_next = None  # (arrays, index): the newest commit waiting for the warming thread
        self._stop = threading.Event()  # set by close(): warming threads end
        self.results = ResultCache(settings.cache_entries, settings.cache_bytes, ResultPage.approximate_bytes)
        self._cursors: paging.CursorCodec | None = None
        self._own_cursors: paging.CursorCodec | None = None
        self.stats: tuple[str, dict] | None = None  # (generation, collection_stats)

    def searcher(self) -> Searcher:
        ix, stamp = self._live()
        local = self._local
        if getattr(local, "stamp", None) != stamp:
            old = getattr(local, "searcher", None)
            local.searcher = ix.searcher()
            self.segments.share_columns(local.searcher)
            local.stamp = stamp
            with self._lock:
                self._open.add(local.searcher)
                if old is not None:
                    self._open.discard(old)
            if old is not None:
                old.close()
        return local.searcher

    def close(self) -> None:
        """Close every searcher this index opened (a server shutting down, a test ending)."""
        self._stop.set()
        for thread in self._warmers:
            thread.join()
        self._warmers = []
        self._stop = threading.Event()
        with self._lock:
            searchers = list(self._open) + [s for s, _ in self._snapshots.values()]
            self._open.clear()
            self._snapshots.clear()
            self._ix = self._stamp = None
        for searcher in searchers:
            searcher.close()
        self._local = threading.local()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _live(self):
        stamp = self.home.stamp()
        with self._lock:
            if self._ix is None or stamp != self._stamp:
                self._ix, stamp = self._open_latest(stamp)
                self._stamp = stamp
                snapshot = self._ix.searcher()
                self.segments.share_columns(snapshot)
                self._keep_snapshot(_generation(stamp), snapshot)
            return self._ix, self._stamp

    def _open_latest(self, stamp):
        """Open the live generation; if a full rebuild swapped it away between our look and our open, look again."""
        for _ in range(3):
            try:
                return self.home.open_index(self._checked), stamp
            except IndexUnavailable:
                newer = self.home.stamp()
                if newer == stamp:
                    raise
                stamp = newer
        return self.home.open_index(self._checked), self.home.stamp()

    def _keep_snapshot(self, generation: str, searcher: Searcher) -> None:
        self._snapshots[generation] = (searcher, threading.Lock())
        while len(self._snapshots) > self.SNAPSHOTS:
            _, (old, lock) = self._snapshots.popitem(last=False)
            with lock:
                old.close()

    def arrays(self, searcher: Searcher, background_warming: bool = True) -> engine.Generation:
        """The columns of the commit ``searcher`` reads, as arrays, built once.

        A new commit also starts warming its most frequent words' postings in
        a background thread (``Settings.warm_postings``).
        """
        key = engine.fingerprint(searcher)
        with self._arrays_lock:
            found = self._arrays.get(key)
            if found is None:
                found = self._arrays[key] = engine.Generation(searcher, self.segments)
                while len(self._arrays) > self.SNAPSHOTS:
                    self._arrays.popitem(last=False)
                self.segments.keep_only({k for gen in self._arrays.values() for k in gen.keys})
                with self._lock:
                    ix = self._ix
                if background_warming and self.settings.warm_postings > 0 and ix is not None and found.needs_warming():
                    self._start_warming(found, ix)
            return found

    def warm(self) -> int:
        """Build the live commit's arrays and load its frequent words' postings now; how many were loaded.

        A server calls this before it answers, so its first requests do not
        compete with a background warm-up; later commits warm in the background.
        """
        if self.settings.warm_postings <= 0:
            return 0
        try:
            s = self.searcher()
        except IndexUnavailable:
            return 0
        return self._warmed(self.arrays(s, background_warming=False), s)

    def _warmed(self, gen: engine.Generation, s: Searcher) -> int:
        """Warm one commit: its postings (``Generation.warm``), then its exact forms (``exact.warm``)."""
        loaded = gen.warm(s, self.settings.warm_postings, self._stop)
        exact.warm(gen)
        return loaded

    def _start_warming(self, arrays: engine.Generation, ix) -> None:
        """Warm the newest commit in one background thread (a commit every second must not start a thread each)."""
        with self._lock:
            self._warm_next = (arrays, ix)
            if any(t.is_alive() for t in self._warmers):
                return  # the running thread takes the newest commit when it is done
            thread = threading.Thread(target=self._warm_newest, name="searchsvc-warm", daemon=True)
            self._warmers = [thread]
        thread.start()

    def _warm_newest(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                job, self._warm_next = self._warm_next, None
                if job is None:
                    self._warmers = []
                    return
            arrays, ix = job
            try:
                with ix.searcher() as s:
                    self._warmed(arrays, s)
            except Exception:  # a generation removed under us, a closed index: warming is only an optimisation
                pass

    @property
    def cursors(self) -> paging.CursorCodec:
        """Signs and checks cursor tokens with ``Settings.cursor_key``, else the index home's key.

        Without either (an index home that cannot be written, and no key in
        it yet) a key of this process's own: its cursors work on it alone.
        """
        with self._lock:
            if self._cursors is not None:
                return self._cursors
            key = self.settings.cursor_key or self.home.cursor_key()
            if key is not None:
                self._cursors = paging.CursorCodec(key)
                return self._cursors
            if self._own_cursors is None:  # asked again next time: a reindex may make the folder
                log.warning("no cursor key in %s and it cannot be made there: cursors are signed with a key of "
                            "this process only (set SEARCHSVC_CURSOR_KEY to share one)", self.home.path)
                self._own_cursors = paging.CursorCodec(secrets.token_urlsafe(32))
            return self._own_cursors

    @property
    def generation(self) -> str:
        self._live()
        return _generation(self._stamp)

    @contextmanager
    def pinned(self, generation: str | None):
        """(searcher, generation): a cursor's snapshot while it is kept, else the live generation.

        A first page (no cursor) uses this thread's own searcher: the same
        generation as its snapshot, without waiting for the snapshot's lock.
        """
        if generation is None:
            searcher = self.searcher()
            yield searcher, _generation(self._local.stamp)
            return
        live = self.generation
        with self._lock:
            snapshot = self._snapshots.get(generation or live) or self._snapshots.get(live)
        if snapshot is None:  # closed meanwhile by a newer generation: use this thread's own
            yield self.searcher(), live
            return
        searcher, lock = snapshot
        with lock:
            yield searcher, (generation if generation in self._snapshots else live)


def _generation(stamp) -> str:
    return "-".join(str(x) for x in stamp) if stamp else "none"


# --- searching -------------------------------------------------------------

@dataclass
class _Found:
    ranked: list[paging.Ranked]     # the page's hits, in order
    total: int
    facets: dict[str, list[FacetValue]]
    more: bool                      # hits exist after this page
    articles: int = 0               # articles matching (``total`` counts stories when collapsing)
    all_words: int | None = None    # of ``total``, the hits with every word (tiered queries)


def search(index: SearchIndex, req: SearchRequest) -> ResultPage:
    started = time.perf_counter()
    if req.after is None:  # first pages repeat across users: see cache.py
        cached = index.results.get(index.generation, req)
        if cached is not None:
            return replace(cached, took_ms=round((time.perf_counter() - started) * 1000, 2))
    cursor = index.cursors.decode(req.after) if req.after else None
    if cursor is not None:
        req = _continued(req, cursor, index.settings)
    with index.pinned(cursor.generation if cursor else None) as (s, generation):
        page = _search(s, generation, req, cursor, index, started)
    if cursor is None:
        index.results.put(generation, req, page)
    return page


def _continued(req: SearchRequest, c: paging.Cursor, settings: Settings) -> SearchRequest:
    """The request a cursor continues (same query, filters, order and page size), checked as that request was:
    the same limits, the same 400s."""
    checked = request_from_params({
        "q": [c.q], "sort": [c.sort], "source": list(c.sources), "per_page": [str(c.per_page)],
        "from": [c.date_from or ""], "to": [c.date_to or ""], "collapse": ["true" if c.collapse else "false"],
        "missing": list(c.missing),
    }, settings)
    return replace(req, q=checked.q, sort=checked.sort, sources=checked.sources, per_page=checked.per_page,
                   collapse=checked.collapse, missing=checked.missing, date_from=checked.date_from,
                   date_to=checked.date_to, page=1)


def _search(s: Searcher, generation: str, req: SearchRequest, cursor, index: SearchIndex, started) -> ResultPage:
    settings = index.settings
    parsed = parse(req.q, settings.max_query_terms)
    ev = engine.Evaluator(index.arrays(s), s, phrase_documents=settings.max_phrase_documents)
    plan = plans.plan(ev, parsed, settings)
    order = "date" if plan.query is None and req.sort == "relevance" else req.sort
    mask = ev.gen.filter_mask(req.sources, req.date_from, req.date_to, req.missing)
    if cursor is not None and not paging.key_fits(order, cursor.key):
        raise BadRequest("after is not a cursor this service gave out", "bad_after")
    after = tuple(cursor.key) if cursor else None
    find = functools.partial(_find, ev, index, mask=mask, order=order, req=req, after=after)
    found = find(plan)
    suggestion = plans.suggestion(ev, req.q, plan)
    if found.total == 0:
        # A cursor carries the corrected query itself, so its pages only ever relax their operators.
        for fallback in plans.fallbacks(ev, parsed, suggestion if cursor is None else None, settings):
            retry = find(fallback)
            if retry.total:
                found, plan = retry, fallback
                break
    corrected = plan.corrected is not None
    stems = plan.stems if req.with_snippets else None
    forms = Forms.of(words_of(parse(suggestion, settings.max_query_terms) if corrected else parsed))
    words = _explained_words(req.q, suggestion if corrected else None, settings) if req.explain else None
    hits = [_hit(ev, r, stems, settings, req, words, forms) for r in found.ranked]
    offset = cursor.offset if cursor else (req.page - 1) * req.per_page
    next_token = None
    if found.more and found.ranked:
        next_token = index.cursors.encode(paging.Cursor(
            q=req.q if not corrected else suggestion, sort=req.sort, sources=req.sources,
            date_from=req.date_from.isoformat() if req.date_from else None,
            date_to=req.date_to.isoformat() if req.date_to else None,
            per_page=req.per_page, collapse=req.collapse, key=found.ranked[-1].key, generation=generation,
            missing=req.missing, offset=offset + len(found.ranked),
        ))
    return ResultPage(
        query=req.q,
        total=found.total,
        page=req.page,
        per_page=req.per_page,
        pages=max(1, math.ceil(found.total / req.per_page)) if found.total else 0,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        suggestion=suggestion,
        hits=hits,
        facets=found.facets,
        next=next_token,
        corrected=corrected,
        relaxed=plan.relaxed,
        total_all_words=found.all_words,
        articles=found.articles,
        offset=offset,
        sort=order,
    )


FACETS = {"source": schema.SOURCE, "year": schema.YEAR}


def _find(ev: engine.Evaluator, index: SearchIndex, plan: plans.Plan, *, mask, order: str,
          req: SearchRequest, after) -> _Found:
    """The page's hits, the total and the facets: array operations over every match (engine.py)."""
    first = req.page * req.per_page
    settings = index.settings
    if after is None:
        found = _matching(ev, plan, mask, settings.per_page)
        ordering = paging.Ordering(ev.gen, found, order, collapse=req.collapse, enough=first,
                                   half_life_days=settings.recent_half_life_days)
        page, end = ordering.page_after(None, first - req.per_page, req.per_page)
        total = _total(ev, found, req)  # the ordering holds only the hits that can reach this page
        return _Found(page, total, _facets(ev, found, req), end < total, len(found), _all_words(ev, found, req, total))
    # cursor pages: every hit ordered once per commit and query, then slices of it
    key = (ev.gen.fingerprint, repr(plan.query), repr(plan.wider), repr(plan.excluded), repr(_filter_key(req)),
           order, req.collapse, req.with_facets, settings.recent_half_life_days)
    ordering = index.orderings.get(key)
    if ordering is None:
        found = _matching(ev, plan, mask, settings.per_page)
        ordering = paging.Ordering(ev.gen, found, order, collapse=req.collapse,
                                   half_life_days=settings.recent_half_life_days, facets=_facets(ev, found, req))
        ordering.all_words = _all_words(ev, found, req, len(ordering) if req.collapse else len(found))
        index.orderings.put(key, ordering)
    page, end = ordering.page_after(after, 0, req.per_page)
    total = len(ordering) if req.collapse else len(ordering.found)
    return _Found(page, total, ordering.facets, end < total, len(ordering.found), ordering.all_words)


def _matching(ev: engine.Evaluator, plan: plans.Plan, mask, page: int) -> engine.Matches:
    """Every hit the plan allows, within the filters; a tiered plan's hits say how many words each lacks.

    The articles with every word when they fill a ``page`` (the server's
    default page size, whatever a request asks: the same query lists the same
    hits at any page size); otherwise every article with any of the words
    (the second pass only then).
    """
    if plan.query is None:
        return _filtered(ev, wq.Every(), plan.excluded, mask)
    return exact.exact_first(ev, plan.forms, plan.word_scores, _scored(ev, plan, mask, page))


def _scored(ev: engine.Evaluator, plan: plans.Plan, mask, page: int) -> engine.Matches:
    found = _filtered(ev, plan.query, plan.excluded, mask)
    if plan.before_feedback is not None:
        return plans.keep_best_first(found, _filtered(ev, plan.before_feedback, plan.excluded, mask), ev.gen)
    if not plan.tiered:
        return found
    if len(found) >= page:
        return found.tiered(np.zeros(len(found), np.int64))
    found = _filtered(ev, plan.wider, plan.excluded, mask)
    return found.tiered(plans.missing(ev, plan, found))


def _all_words(ev: engine.Evaluator, found: engine.Matches, req: SearchRequest, total: int) -> int | None:
    """How many of the ``total`` hits have every word (counted as ``total`` is), or None when the query is not
    tiered."""
    if found.missing is None:
        return None
    if not found.missing.any():
        return total
    return _total(ev, found.where(found.missing == 0), req)


def _filter_key(req: SearchRequest) -> tuple:
    return (req.sources, req.date_from, req.date_to, req.missing)


def _filtered(ev: engine.Evaluator, q, excluded: list[wq.Query], mask) -> engine.Matches:
    found = ev.matches(wq.AndNot(q, wq.Or(excluded)) if excluded else q)
    return found if mask is None else found.where(mask[found.docnums])


def _total(ev: engine.Evaluator, found: engine.Matches, req: SearchRequest) -> int:
    """Articles, or stories (near-duplicate groups) when collapsing."""
    return ev.gen.distinct_groups(found.docnums) if req.collapse else len(found)


def _facets(ev: engine.Evaluator, found: engine.Matches, req: SearchRequest) -> dict[str, list[FacetValue]]:
    if not req.with_facets:
        return {}
    facets = {}
    for name, counts in zip(FACETS, _facet_counts(ev.gen, found.docnums)):
        values = [FacetValue(v, n) for v, n in counts if v]
        if name == "year":
            values.sort(key=lambda v: v.value, reverse=True)
        else:
            values.sort(key=lambda v: (-v.count, v.value))
        # the articles without a value last, so that every facet adds up to ``articles``
        facets[name] = values + [FacetValue("", n, missing=True) for v, n in counts if not v]
    return facets


FACET_CELLS = 1 << 16  # the facets counted in one pass while their values' combinations are at most this many...
FACETS_COMBINED_FROM = 2000  # ...and the hits this many (fewer: one small count per facet costs less)


def _facet_counts(gen: engine.Generation, docnums: np.ndarray) -> list[list[tuple[str, int]]]:
    """``gen.facet_counts`` of each of ``FACETS``: one gather of a combined column and one count, when the
    combinations of their values are few (a source and a year: a few thousand), else one facet at a time."""
    held = gen.memo("search.facets")
    combined = held.get("combined")
    if combined is None:
        sizes = [len(gen.codes[f].values) + 1 for f in FACETS.values()]  # 0: no value
        combined = held["combined"] = (None, sizes)
        if np.prod(sizes) <= FACET_CELLS:
            column = np.zeros(gen.doc_count, np.intp)
            for fieldname, size in zip(FACETS.values(), sizes):
                column = column * size + (gen.codes[fieldname].codes + 1)
            combined = held["combined"] = (column, sizes)
    column, sizes = combined
    if column is None or len(docnums) < FACETS_COMBINED_FROM:
        return [gen.facet_counts(fieldname, docnums) for fieldname in FACETS.values()]
    cells = np.bincount(column[docnums], minlength=int(np.prod(sizes))).reshape(sizes)
    return [engine._named_counts(gen.codes[fieldname].values,
                                 cells.sum(axis=tuple(a for a in range(len(sizes)) if a != axis)))
            for axis, fieldname in enumerate(FACETS.values())]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _hit(ev: engine.Evaluator, r: paging.Ranked, stems: set[str] | None, settings: Settings,
         req: SearchRequest, words: list[tuple[str, str]] | None, forms: Forms | None = None) -> Hit:
    stored = ev.stored_fields(r.docnum)
    body = stored.get(schema.BODY) or ""
    found = passages(body, stems, settings.snippet_chars, limit=3, forms=forms) if stems is not None else []
    title = stored.get(schema.TITLE) or stored[schema.ID]
    return Hit(
        id=stored[schema.ID],
        title=title,
        title_html=mark(title, stems, forms) if stems is not None else html.escape(title),
        url=stored.get(schema.URL) or None,
        published=_iso(stored.get(schema.PUBLISHED)),
        author=stored.get(schema.AUTHOR) or None,
        source=stored.get(schema.SOURCE) or None,
        score=round(r.score, 4),
        snippet=found[0][1] if found else "",
        snippets=[Passage(text, offset) for offset, text in found],
        duplicates=_versions(ev, r.docnum) if req.collapse else [],
        explain=_explain(title, body, words) if words is not None else None,
    )


def _versions(ev: engine.Evaluator, docnum: int) -> list[Version]:
    """The other members of this hit's near-duplicate group, oldest first (undated last).

    From the columns: an archive keeps many copies of a wire story, and a
    stored document per copy would be decompressed whole for its title.
    """
    if not ev.gen.in_group(docnum):
        return []
    gen = ev.gen
    held = gen.memo("search.versions", VERSIONS_KEPT)  # a story's versions are the same in every query that finds it
    group = int(gen.group[docnum])
    members = held.get(group)
    if members is None:
        members = held[group] = _group_versions(ev, docnum)
    return [v for d, v in members if d != docnum]


VERSIONS_KEPT = 2_000  # near-duplicate groups whose versions are kept per commit (about 4 kB each at 216k)


def _group_versions(ev: engine.Evaluator, docnum: int) -> list[tuple[int, Version]]:
    """(document, Version) of every live member of ``docnum``'s group, oldest first (undated last), then
    by id."""
    gen = ev.gen
    members = gen.group_members(docnum)
    dates = gen.datekey[members]
    members = members[np.lexsort((gen.id_rank[members], dates, dates == schema.UNDATED))]
    sources = gen.codes[schema.SOURCE]
    docs = members.tolist()
    ids = [gen.ids[d] for d in docs]
    return [(d, Version(i, title or i, sources.values[code] if code >= 0 else None, published))
            for d, i, title, code, published in zip(docs, ids, ev.titles(docs), sources.codes[members].tolist(),
                                                     _iso_seconds(gen.datekey[members]))]


def _iso_seconds(datekeys: np.ndarray) -> list[str | None]:
    """Datekeys (seconds since 1970) as the API writes dates, as ``_iso`` does the stored ``published``; None
    for UNDATED. All at once: a group's dates one at a time through ``datetime`` took twice as long."""
    undated = datekeys == schema.UNDATED
    written = np.datetime_as_string(np.where(undated, 0, datekeys).astype("datetime64[s]"), unit="s").tolist()
    return [None if u else w + "Z" for w, u in zip(written, undated.tolist())]


def _explained_words(q: str, corrected: str | None, settings: Settings) -> list[tuple[str, str]]:
    """(word, via) for each positive query word; words a correction brought in are ``correction``."""
    original = words_of(parse(q, settings.max_query_terms))
    if corrected is None:
        return [(w, "exact") for w in dict.fromkeys(original)]
    before = {w.lower() for w in original}
    return [(w, "exact" if w.lower() in before else "correction")
            for w in dict.fromkeys(words_of(parse(corrected, settings.max_query_terms)))]


def _explain(title: str, body: str, words: list[tuple[str, str]]) -> dict:
    """Which query words matched in the title and body, and how (same word, another form, a correction)."""
    matched = []
    for word, via in words:
        terms = set(schema.stems(word))
        if not terms:
            continue
        for fieldname, text in (("title", title), ("body", body[:highlight.SCAN_CHARS])):
            forms = {text[a:b].lower() for a, b in matches(text, terms)}
            if not forms:
                continue
            how = via if via == "correction" else ("exact" if word.lower() in forms else "stem")
            matched.append(Match(word, fieldname, how))
    return {"matched": [asdict(m) for m in matched]}


def _iso(value) -> str | None:
    if not value:
        return None
    return value.isoformat(timespec="seconds") + "Z"  # stored as naive UTC; whole seconds, as without microseconds


# --- the collection --------------------------------------------------------------

def collection_stats(index: SearchIndex) -> dict:
    """Documents, stories (near-duplicate groups), sources and years with their counts, last reindex.

    Computed once per index generation (the manifest of a large index takes a while to read).
    """
    with index.pinned(None) as (s, generation):
        held = index.stats
        if held is not None and held[0] == generation:
            return held[1]
        gen = index.arrays(s)
        live = np.nonzero(gen.live)[0]
        facets = _facets(engine.Evaluator(gen, s), engine.Matches(live, np.ones(len(live))), SearchRequest())
        stats = {
            "documents": int(len(live)),
            "stories": gen.distinct_groups(live),
            "sources": [f.to_dict() for f in facets["source"]],
            "years": [f.to_dict() for f in facets["year"]],
            "last_reindex": Manifest.load(index.home.live_dir()).last_reindex,
        }
    index.stats = (generation, stats)
    return stats


# --- one article ---------------------------------------------------------------

def get_article(index: SearchIndex, doc_id: str) -> Article:
    s = index.searcher()
    stored = s.document(id=doc_id)
    if stored is None:
        raise NotFound(f"no article with id {doc_id!r}")
    return Article(
        id=stored[schema.ID],
        title=stored.get(schema.TITLE) or doc_id,
        body=stored.get(schema.BODY) or "",
        url=stored.get(schema.URL) or None,
        published=_iso(stored.get(schema.PUBLISHED)),
        author=stored.get(schema.AUTHOR) or None,
        source=stored.get(schema.SOURCE) or None,
        topics=[t for t in (stored.get(schema.TOPICS) or "").split(",") if t],
    )
