"""Searching the live index: one function, ``search``, behind every door.

Ranking (measured in bench/relevance.py): BM25 over the merged title+body
field, each query word weighted by how often the query repeats it, plus a
light title clause; long questions lose their filler words (SMART stop list);
queries of up to three words require every word (falling back to any word
when no article has them all), longer ones rank by any word.
"""
from __future__ import annotations

import html
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Mapping, Sequence

from whoosh import query as wq
from whoosh.searching import Searcher
from whoosh.sorting import Count, FieldFacet, ScoreFacet, MultiFacet

from searchsvc import schema
from searchsvc.config import Settings
from searchsvc.errors import BadRequest, NotFound
from searchsvc.query import WORD, Clause, ParsedQuery, parse, words_of
from searchsvc.store import IndexHome

SORTS = ("relevance", "date")
TITLE_WEIGHT = 0.25
ALL_WORDS_UP_TO = 3       # queries with this many distinct terms or fewer require all of them
LONG_QUERY_WORDS = 5      # longer queries drop SMART stop words
SNIPPET_SCAN_CHARS = 100_000
SUGGEST_WORDS = 8         # did-you-mean corrects at most this many unknown words per query...
SUGGEST_MAX_CHARS = 40    # ...each at most this long (edit-distance automata grow with length)


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
    # Presentation only (batch runs skip them); the ranking is the same either way.
    with_snippets: bool = True
    with_facets: bool = True


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


@dataclass
class FacetValue:
    value: str
    count: int


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

    def to_dict(self) -> dict:
        return asdict(self)


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
    page = _int_param("page", one("page"), 1, 1, settings.max_page)
    per_page = _int_param("per_page", one("per_page"), settings.per_page, 1, settings.max_per_page)
    sort = one("sort", "relevance") or "relevance"
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}, not {sort!r}", "bad_sort")
    sources = tuple(dict.fromkeys(s for s in params.get("source") or [] if s))
    date_from = _date_param("from", one("from"))
    date_to = _date_param("to", one("to"), end=True)
    if date_from and date_to and date_from > date_to:
        raise BadRequest("from must not be after to", "bad_date_range")
    return SearchRequest(q, page, per_page, sort, sources, date_from, date_to)


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


def _date_param(name, raw, end=False) -> date | None:
    """An ISO date; ``YYYY`` or ``YYYY-MM`` mean the period's first day, or its last for ``end``."""
    if raw in (None, ""):
        return None
    try:
        if len(raw) >= 10:
            return date.fromisoformat(raw[:10])
        return _period(raw, end)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date (YYYY-MM-DD), not {raw[:40]!r}", f"bad_{name}") from None


def _period(raw: str, end: bool) -> date:
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", raw)
    if not m:
        raise ValueError(raw)
    year, month = int(m.group(1)), m.group(2)
    if not end:
        return date(year, int(month or 1), 1)
    if month is None:
        return date(year, 12, 31)
    first_of_next = date(year + int(month) // 12, int(month) % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


# --- the live index, one searcher per thread and generation --------------

class SearchIndex:
    """The live index, reopened when a reindex commits (checked with one stat per call).

    Whoosh searchers are not safe to share between threads (their files
    seek and read), so each thread keeps its own for the current generation;
    a new generation gets fresh searchers (never ``refresh()``: see the
    Whoosh pin in setup.cfg).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = IndexHome(settings.index)
        self._lock = threading.Lock()
        self._stamp = None
        self._ix = None
        self._local = threading.local()

    def searcher(self) -> Searcher:
        stamp = self.home.stamp()
        with self._lock:
            if self._ix is None or stamp != self._stamp:
                self._ix = self.home.open_index()
                self._stamp = stamp
            ix, stamp = self._ix, self._stamp
        local = self._local
        if getattr(local, "stamp", None) != stamp:
            old = getattr(local, "searcher", None)
            local.searcher = ix.searcher()
            local.stamp = stamp
            if old is not None:
                old.close()
        return local.searcher

    @property
    def generation(self):
        return self._stamp


# --- searching -------------------------------------------------------------

def search(index: SearchIndex, req: SearchRequest) -> ResultPage:
    started = time.perf_counter()
    settings = index.settings
    s = index.searcher()
    parsed = parse(req.q, settings.max_query_terms)
    plan = _plan(s, parsed, settings)
    filt = _filter(req)
    sortedby = None
    if plan.query is None or req.sort == "date":
        sortedby = [FieldFacet(schema.DATEKEY, reverse=True), ScoreFacet()]
    q = plan.query if plan.query is not None else wq.Every()
    if plan.excluded:
        q = wq.AndNot(q, wq.Or(plan.excluded))
    facets = {
        "source": FieldFacet(schema.SOURCE, maptype=Count),
        "year": FieldFacet(schema.YEAR, maptype=Count),
    } if req.with_facets else None
    results = s.search_page(q, req.page, pagelen=req.per_page, sortedby=sortedby,
                            filter=filt, groupedby=facets, terms=False)
    if results.total == 0 and plan.relaxed is not None:
        q = plan.relaxed if not plan.excluded else wq.AndNot(plan.relaxed, wq.Or(plan.excluded))
        results = s.search_page(q, req.page, pagelen=req.per_page, sortedby=sortedby,
                                filter=filt, groupedby=facets, terms=False)
    total = results.total
    stems = plan.stems if req.with_snippets else None
    on_page = results.pagenum == req.page  # Whoosh clamps a page past the end to the last one
    hits = [_hit(hit, stems, settings) for hit in results] if on_page else []
    return ResultPage(
        query=req.q,
        total=total,
        page=req.page,
        per_page=req.per_page,
        pages=max(1, math.ceil(total / req.per_page)) if total else 0,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        suggestion=_suggestion(s, req.q, parsed, plan),
        hits=hits,
        facets={name: _facet_values(results.results, name) for name in facets or ()},
    )


@dataclass
class Plan:
    query: wq.Query | None            # None: no positive terms (list newest first)
    relaxed: wq.Query | None          # any-word version when all words were required
    excluded: list[wq.Query]
    stems: set[str]                   # index terms to highlight
    unknown: list[str]                # plain query words with no match in the index


def _plan(s: Searcher, parsed: ParsedQuery, settings: Settings) -> Plan:
    stems: set[str] = set()
    unknown: list[str] = []
    reader = s.reader()
    words = parsed.words
    if len(words) > LONG_QUERY_WORDS:
        stop = schema.query_stop_words()
        kept = [w for w in words if w.lower() not in stop]
        words = kept or words
    counts = Counter(t for w in words for t in schema.stems(w))
    for w in words:
        for t in schema.stems(w):
            if reader.doc_frequency(schema.CONTENT, t) == 0:
                unknown.append(w)
    stems.update(counts)
    word_clauses = [_word_clause(t, n) for t, n in counts.items()]
    groups = _distinct(parsed.groups)
    settings = _prefix_budget(settings, groups, parsed.excluded)
    required = [_group_query(g, reader, settings, stems) for g in groups]
    required = [r for r in required if r is not None]
    excluded = [c for c in (_clause_query(c, reader, settings, set()) for c in _distinct(parsed.excluded)) if c is not None]

    if not word_clauses and not required:
        return Plan(None, None, excluded, stems, unknown)
    relaxed = None
    if word_clauses and len(word_clauses) <= ALL_WORDS_UP_TO:
        query = wq.And(required + word_clauses)
        if len(word_clauses) > 1 or required:
            relaxed = wq.And(required + [wq.Or(word_clauses)]) if required else wq.Or(word_clauses)
    elif word_clauses:
        query = wq.And(required + [wq.Or(word_clauses)]) if required else wq.Or(word_clauses)
    else:
        query = wq.And(required)
    return Plan(query, relaxed, excluded, stems, unknown)


def _distinct(items: list) -> list:
    """``items`` without repeats (``a* a* a* …`` is one clause, not hundreds), order kept."""
    seen, out = set(), []
    for item in items:
        key = repr(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _prefix_budget(settings: Settings, groups: list[list[Clause]], excluded: list[Clause]) -> Settings:
    """``max_prefix_terms`` is the whole query's budget: several ``prefix*`` clauses share it."""
    n = sum(c.kind == "prefix" for g in groups for c in g) + sum(c.kind == "prefix" for c in excluded)
    if n <= 1:
        return settings
    return settings.replace(max_prefix_terms=max(1, settings.max_prefix_terms // n))


def _word_clause(term: str, weight: int) -> wq.Query:
    return wq.Or([
        wq.Term(schema.CONTENT, term, boost=weight),
        wq.Term(schema.TITLE, term, boost=TITLE_WEIGHT * weight),
    ])


def _group_query(group: list[Clause], reader, settings, stems) -> wq.Query | None:
    parts = [q for q in (_clause_query(c, reader, settings, stems) for c in group) if q is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _clause_query(c: Clause, reader, settings: Settings, stems: set[str]) -> wq.Query | None:
    if c.field == "author":
        words = [t.text for t in schema.word_analyzer()(c.text)]
        if not words:
            return None
        return wq.Term(schema.AUTHOR, words[0]) if len(words) == 1 else wq.Phrase(schema.AUTHOR, words)
    fieldname = schema.TITLE if c.field == "title" else schema.CONTENT
    if c.kind == "prefix":
        prefix = "".join(t.text for t in schema.word_analyzer()(c.text))
        terms = _expand_prefix(reader, fieldname, prefix, settings.max_prefix_terms)
        stems.update(terms)
        if not terms:
            return wq.NullQuery
        return wq.Or([wq.Term(fieldname, t) for t in terms])
    terms = schema.stems(c.text)
    stems.update(terms)
    if not terms:
        return None
    if len(terms) == 1:
        return _word_clause(terms[0], 1) if fieldname == schema.CONTENT else wq.Term(fieldname, terms[0])
    return wq.Phrase(fieldname, terms)


def _expand_prefix(reader, fieldname: str, prefix: str, limit: int) -> list[str]:
    """The ``limit`` most frequent index terms starting with ``prefix`` (bounded wildcard)."""
    if not prefix:
        return []
    found = []
    for term in reader.expand_prefix(fieldname, prefix):
        term = term.decode("utf-8") if isinstance(term, bytes) else term
        found.append((reader.doc_frequency(fieldname, term), term))
        if len(found) >= 20 * limit:
            break
    found.sort(reverse=True)
    return [t for _, t in found[:limit]]


def _filter(req: SearchRequest) -> wq.Query | None:
    parts = []
    if req.sources:
        parts.append(wq.Or([wq.Term(schema.SOURCE, s) for s in req.sources]))
    if req.date_from or req.date_to:
        start = datetime.combine(req.date_from, datetime.min.time()) if req.date_from else None
        end = datetime.combine(req.date_to, datetime.max.time()) if req.date_to else None
        parts.append(wq.DateRange(schema.PUBLISHED, start, end))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def _facet_values(results, name: str) -> list[FacetValue]:
    try:
        groups = results.groups(name)
    except KeyError:
        return []
    values = [FacetValue(_text(k), n) for k, n in groups.items() if k not in (None, "", b"")]
    if name == "year":
        return sorted(values, key=lambda v: v.value, reverse=True)
    return sorted(values, key=lambda v: (-v.count, v.value))


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _hit(hit, stems: set[str] | None, settings: Settings) -> Hit:
    stored = hit.fields()
    body = stored.get(schema.BODY) or ""
    return Hit(
        id=stored[schema.ID],
        title=stored.get(schema.TITLE) or stored[schema.ID],
        url=stored.get(schema.URL) or None,
        published=_iso(stored.get(schema.PUBLISHED)),
        author=stored.get(schema.AUTHOR) or None,
        source=stored.get(schema.SOURCE) or None,
        score=_score(hit.score),
        snippet=snippet(body, stems, settings.snippet_chars) if stems is not None else "",
    )


def _score(value) -> float:
    """The relevance score; under a date sort Whoosh gives the sort key, whose last part is -score."""
    if isinstance(value, tuple):
        value = -value[-1] if value and isinstance(value[-1], (int, float)) else 0.0
    return round(float(value or 0.0), 4)


def _iso(value) -> str | None:
    if not value:
        return None
    return value.replace(microsecond=0).isoformat() + "Z"  # stored as naive UTC


# --- snippets --------------------------------------------------------------

def _stem_pattern(stems: set[str]) -> re.Pattern | None:
    """Words that may stem to one of ``stems``: each stem's first letters, then any word characters.

    Snowball mostly keeps a word's beginning (city -> citi), so a candidate
    regex on all but the stem's last letter finds every form in one C-level
    scan; each candidate is then stemmed to confirm it.
    """
    heads = sorted({re.escape(t[:-1] if len(t) > 3 else t) for t in stems if t}, key=len, reverse=True)
    if not heads:
        return None
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(heads), re.IGNORECASE)


def matches(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """(start, end) of every word in ``text`` whose index term is one of ``stems``."""
    pattern = _stem_pattern(stems)
    if pattern is None:
        return []
    found = []
    for m in pattern.finditer(text):
        terms = schema.stems(m.group())
        if terms and terms[0] in stems:
            found.append(m.span())
    return found


def passages(body: str, stems: set[str], size: int = 240, limit: int = 3) -> list[tuple[int, str]]:
    """Up to ``limit`` highlighted passages (offset, escaped html with <mark>), best first."""
    text = body[:SNIPPET_SCAN_CHARS]
    spans = matches(text, stems) if stems else []
    if not spans:
        return [(0, _window_html(text, 0, size, []))] if text else []
    chosen: list[tuple[int, int, list]] = []
    used = []
    candidates = []
    for i, (start, _) in enumerate(spans):
        lo = max(0, min(start - size // 4, len(text) - size))
        hi = lo + size
        inside = [sp for sp in spans[i:] if sp[1] <= hi]
        distinct = len({text[a:b].lower() for a, b in inside})
        candidates.append((distinct * 10 + len(inside), -lo, lo, hi))
    for _, _, lo, hi in sorted(candidates, reverse=True):
        if any(lo < u_hi and hi > u_lo for u_lo, u_hi in used):
            continue
        used.append((lo, hi))
        chosen.append((lo, hi, [sp for sp in spans if sp[0] >= lo and sp[1] <= hi]))
        if len(chosen) >= limit:
            break
    return [(lo, _window_html(text, lo, hi - lo, inside)) for lo, hi, inside in chosen]


def snippet(body: str, stems: set[str], size: int = 240) -> str:
    found = passages(body, stems, size, limit=1)
    return found[0][1] if found else ""


def _window_html(text: str, lo: int, size: int, spans: list[tuple[int, int]]) -> str:
    """Escape ``text[lo:lo+size]`` (snapped to word boundaries), then add <mark> around ``spans``."""
    hi = min(len(text), lo + size)
    if lo > 0:
        space = text.find(" ", lo, min(hi, lo + 30))
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", max(lo, hi - 30), hi)
        hi = space if space != -1 else hi
    out, pos = [], lo
    for a, b in spans:
        if a < lo or b > hi:
            continue
        out.append(html.escape(text[pos:a]))
        out.append("<mark>" + html.escape(text[a:b]) + "</mark>")
        pos = b
    out.append(html.escape(text[pos:hi]))
    body = " ".join("".join(out).split())
    return ("… " if lo > 0 else "") + body + (" …" if hi < len(text) else "")


# --- did-you-mean ------------------------------------------------------------

def _suggestion(s: Searcher, q: str, parsed: ParsedQuery, plan: Plan) -> str | None:
    if not plan.unknown:
        return None
    corrector = s.corrector(schema.CONTENT)
    fixed = q
    changed = False
    candidates = [w for w in dict.fromkeys(plan.unknown) if len(w) <= SUGGEST_MAX_CHARS]
    for word in candidates[:SUGGEST_WORDS]:
        options = corrector.suggest(word.lower(), limit=1, maxdist=2, prefix=1)
        if options and options[0] != word.lower():
            fixed = re.sub(r"(?<!\w)%s(?!\w)" % re.escape(word), options[0], fixed, count=1)
            changed = True
    return fixed if changed and fixed != q else None


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


def highlight_html(text: str, q: str) -> str:
    """``text`` escaped, with the query's words (any form) marked: the article page."""
    parsed = parse(q)
    stems = {t for w in words_of(parsed) for t in schema.stems(w)}
    spans = matches(text, stems) if stems else []
    out, pos = [], 0
    for a, b in spans:
        out.append(html.escape(text[pos:a]))
        out.append("<mark>" + html.escape(text[a:b]) + "</mark>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)
