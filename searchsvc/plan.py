"""Planning a query: what to ask the index for what the person typed, and what to try when it finds nothing.

Reading (query.py) says what the person meant; this module turns it into
the engine's query trees (engine.py) and makes every decision about them:

- **Words.** Each distinct word is BM25 on the merged title + body field plus
  a light title clause, weighted by how often the question repeats it; in
  long questions a filler word (the SMART stop list) counts once, at a
  quarter of a word's weight: not dropped (``use of books``, ``need for``),
  and never piling up however often a question repeats it.
- **Tiers.** A query of two to ``TIER_WORDS`` distinct words (not counting
  filler words) ranks the articles with every word first, then those missing
  one, and so on, each tier best first. When the articles with every word
  fill a page (``Settings.per_page``, 10 by default), the list is those;
  otherwise the other tiers follow, so a first page is never short while
  articles match (and only those queries pay for the second pass).
- **Hints.** A phrase quoted inside a written question lifts the articles
  that have it (``PHRASE_HINT``) and filters nothing.
- **Feedback.** Questions of ``FEEDBACK_FROM_WORDS`` words or more may be
  widened with the words of their best documents (ranking.py decides how
  far); the question's own best match keeps first place.
- **Joined and split forms.** Two adjacent words also match the index's
  word they make together (``cyber attack``: ``cyberattack``), and a word
  also matches two indexed words it splits into, as a phrase
  (``cyberattack``: ``cyber attack``); an article with the other form has
  the word (for tiers, too). Only words the index has are tried, so a word
  they cover is not unknown: did-you-mean comes after them. A written
  question tries them only for its words the index lacks.
- **Exact forms** (exact.py), in keyword queries (not written questions):
  the best candidates are re-scored from their text, a word they have only
  in a form the stemmer joins to it counting less (``Ferris`` for ``ferry``).
- **Fallbacks** (``fallbacks``), in order, when nothing matched: the query
  without its operators (``relaxed``), then the spelling correction
  (``corrected``), itself relaxed if need be.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterator

import numpy as np
from whoosh import query as wq

from searchsvc import engine, paging, ranking, schema
from searchsvc.config import Settings
from searchsvc.highlight import Forms
from searchsvc.query import Clause, ParsedQuery, parse, relaxed

TITLE_WEIGHT = 0.25       # the title clause's share of a word's weight (the merged field carries the ranking)
TIER_WORDS = 3            # queries of 2 to this many distinct words are ordered by tiers
LONG_QUERY_WORDS = 5      # in longer questions, filler words (the SMART stop list) count...
FILLER_WEIGHT = 0.25      # ...once, at this share of a word's weight
FEEDBACK_FROM_WORDS = 6   # questions of this many words or more may get feedback (ranking.py)
PHRASE_HINT = 1.0         # a hinted phrase adds its words' scores once more where it occurs
SUGGEST_WORDS = 8         # did-you-mean corrects at most this many unknown words per query...
SUGGEST_MAX_CHARS = 40    # ...each at most this long (edit-distance automata grow with length)
SPLIT_PART = 3            # a word splits into two indexed words of at least this many letters each...
SPLIT_WEIGHT = 0.25       # ...matched as a phrase, which sums two words' scores: a quarter weighs half a word
SPLITS = 4                # at most this many split phrases per query (each reads positions)
JOINS = 4                 # at most this many joined words per query...
JOIN_WEIGHT = 0.25        # ...standing for both of its words at a quarter of a word's weight each: half a word in all


@dataclass
class Plan:
    """What to evaluate for a query, and how to order and present its hits."""

    query: wq.Query | None            # None: no positive terms (list newest first)
    excluded: list[wq.Query]
    stems: set[str]                   # index terms to highlight
    unknown: list[str]                # plain query words with no match in the index
    wider: wq.Query | None = None     # tiered queries: every article with any of the words
    tier_terms: list[wq.Query] = field(default_factory=list)  # one per word the tiers count
    before_feedback: wq.Query | None = None  # a question widened by feedback: its own query (keep_best_first)
    relaxed: bool = False             # a fallback: the query's words without its operators
    corrected: str | None = None      # a fallback: the spelling correction these words come from
    forms: Forms | None = None        # the typed words by index term (exact.py re-scores their stem-only matches)
    word_scores: dict[str, wq.Query] = field(default_factory=dict)  # index term -> its clause as the query weighs it

    @property
    def tiered(self) -> bool:
        return bool(self.tier_terms)


def plan(ev: engine.Evaluator, parsed: ParsedQuery, settings: Settings) -> Plan:
    """The plan of a read query: tiers for a short one, feedback for a long question, operators as required."""
    reader = ev.searcher.reader()
    terms_of = {w: schema.stems(w) for w in dict.fromkeys(parsed.words)}
    words, filler = _content_words(parsed.words)
    counts = Counter(t for w in words for t in terms_of[w])
    for t in (t for w in filler for t in terms_of[w]):
        if t not in counts:
            counts[t] = FILLER_WEIGHT
    # a word's postings are read once here: the query scores them next
    absent = {t for w in words for t in terms_of[w] if not len(ev.gen.term(ev.searcher, schema.CONTENT, t))}
    keywords = not parsed.question  # typed words, not a written question: the person means those words
    other_forms = _other_forms(ev, words, terms_of, None if keywords else absent)
    unknown = [w for w in words for t in terms_of[w]
               if t in absent and not any(len(ev.matches(q)) for _, q in other_forms.get(t, ()))]
    stems = {t for t, n in counts.items() if n >= 1}  # to highlight: filler words are not
    # a joined word is marked; a split's parts only for a word the index lacks (they are marked
    # one by one, so ``season``'s ``sea son`` would mark every ``sea``)
    stems.update(term for t, alternatives in other_forms.items() for term, clause in alternatives
                 if t in absent or not isinstance(clause, wq.Phrase))
    word_scores = {t: word_clause(t, n) for t, n in counts.items()}
    clauses = {t: _with_other_forms(q, [alt for _, alt in other_forms.get(t, ())]) for t, q in word_scores.items()}
    forms = Forms.of(words) if keywords else None
    hints = [h for h in (_hint(text, settings) for text in _distinct(parsed.hints)) if h is not None]
    groups = _distinct(parsed.groups)
    settings = _prefix_budget(settings, groups, parsed.excluded)
    required = [q for q in (_group_query(g, reader, settings, stems) for g in groups) if q is not None]
    excluded = [q for q in (_clause_query(c, reader, settings, set()) for c in _distinct(parsed.excluded))
                if q is not None]

    if not clauses:
        return Plan(wq.And(required) if required else None, excluded, stems, unknown)
    tiers = _tier_terms(words, terms_of)
    if tiers:
        every = [clauses[t] for t in tiers]
        others = [clauses[t] for t in counts if t not in tiers] + hints
        query = _with_optional(wq.And(required + every), others)
        wider = wq.Or(list(clauses.values()) + hints)
        presence = [_with_other_forms(word_scores[t].subqueries[0], [alt for _, alt in other_forms.get(t, ())])
                    for t in tiers]
        return Plan(query, excluded, stems, unknown, wider=wq.And(required + [wider]) if required else wider,
                    tier_terms=presence, forms=forms, word_scores=word_scores)
    own = wq.Or(list(clauses.values()) + hints)
    query = own
    if len(parsed.words) >= FEEDBACK_FROM_WORDS:
        query = _with_feedback(ev, own, required, excluded, counts, hints, word_scores)
    if required:
        own, query = wq.And(required + [own]), wq.And(required + [query])
    return Plan(query, excluded, stems, unknown, before_feedback=own if query is not own else None,
                forms=forms, word_scores=word_scores)


def _other_forms(ev: engine.Evaluator, words: list[str], terms_of: dict[str, list[str]],
                 only: set[str] | None = None) -> dict[str, list[tuple[str, wq.Query]]]:
    """Index term -> (term to highlight, clause) of the forms the word may also be written in.

    Two adjacent words (each one index term) also match the index's word they
    make together (``JOIN_WEIGHT`` for each of the two it stands for); a word
    also matches two indexed words it splits into, of ``SPLIT_PART`` letters
    or more, as a phrase (``SPLIT_WEIGHT``). Either weighs half a word: the
    form typed ranks above the other, other things equal (``heat wave``,
    ``heatwave``), as exact forms do above stem-mates (exact.py). Only words
    the index has (its did-you-mean vocabulary) are tried, at most ``JOINS``
    and ``SPLITS`` per query. With ``only`` (a written question), just for
    those terms (its words the index lacks): elsewhere a question keeps its
    words (bench/relevance.py: joining and splitting its known words cost
    nDCG@10 on NPL and MED).
    """
    found: dict[str, list[tuple[str, wq.Query]]] = {}
    single = [(w, terms_of[w][0]) if len(terms_of[w]) == 1 else (w, None) for w in words]
    joins = 0
    for (a, ta), (b, tb) in zip(single, single[1:]):
        if joins >= JOINS or ta is None or tb is None or ta == tb:
            continue
        if only is not None and ta not in only and tb not in only:
            continue
        joined = _written(a + b)
        term = schema.word_stem(joined) if joined else None
        if term and term not in (ta, tb) and ev.gen.has_word(ev.searcher, joined):
            clause = word_clause(term, JOIN_WEIGHT)
            found.setdefault(ta, []).append((term, clause))
            found.setdefault(tb, []).append((term, clause))
            joins += 1
    splits = 0
    for w, t in dict.fromkeys(single):
        if t is None or splits >= SPLITS or (only is not None and t not in only):
            continue
        for first, second in _splits(ev, _written(w)):
            found.setdefault(t, []).append((first, wq.Phrase(schema.CONTENT, [first, second], boost=SPLIT_WEIGHT)))
            found[t].append((second, found[t][-1][1]))
            splits += 1
            if splits >= SPLITS:
                break
    return found


@lru_cache(maxsize=65536)
def _written(word: str) -> str:
    """A word as the vocabulary writes it: lower-case, accent-folded, one token (else "")."""
    tokens = schema.written_words(word)
    return tokens[0] if len(tokens) == 1 else ""


def _splits(ev: engine.Evaluator, word: str) -> list[tuple[str, str]]:
    """(term, term) of each way ``word`` splits into two indexed, non-stop words of ``SPLIT_PART`` letters or more,
    each in at least as many articles as ``word`` itself.

    A compound splits into commoner words (``cyberattack``: ``cyber``,
    ``attack``), not into fragments rarer than itself (``tis sue``,
    ``develop ment``: line-break hyphenation in old abstracts), whose rare
    words' scores would lift the few articles with them above the word's own.
    """
    if len(word) < 2 * SPLIT_PART or not word.isalpha():
        return []
    def frequency(fieldname: str, term: str) -> int:
        return ev.gen.doc_frequency(ev.searcher, fieldname, term)

    own = None  # the word's own frequency, looked up once a split's two words are both in the index (few are)
    found = []
    for i in range(SPLIT_PART, len(word) - SPLIT_PART + 1):
        first, second = word[:i], word[i:]
        if ev.gen.has_word(ev.searcher, first) and ev.gen.has_word(ev.searcher, second):
            terms = (schema.word_stem(first), schema.word_stem(second))
            if not all(terms):
                continue
            if own is None:
                own = frequency(schema.CONTENT, schema.word_stem(word) or "")
            if min(frequency(schema.CONTENT, t) for t in terms) >= own:
                found.append(terms)
    return found


def _with_other_forms(clause: wq.Query, others: list[wq.Query]) -> wq.Query:
    """``clause`` or the other forms of its word (``_other_forms``), their scores added where several match."""
    return wq.Or([clause] + list(dict.fromkeys(others))) if others else clause


def _content_words(words: list[str]) -> tuple[list[str], list[str]]:
    """(the words that carry a long question, its filler words); a short query's words all carry it.

    Filler words are those of the SMART stop list. A question of more than
    ``LONG_QUERY_WORDS`` words keeps them at ``FILLER_WEIGHT`` (``use of
    books``, ``need for``), once however often it repeats them.
    """
    if len(words) <= LONG_QUERY_WORDS:
        return words, []
    stop = schema.query_stop_words()
    content = [w for w in words if w.lower() not in stop]
    if not content:
        return words, []
    return content, [w for w in words if w.lower() in stop]


def _tier_terms(words: list[str], terms_of: dict[str, list[str]]) -> list[str]:
    """The distinct words whose presence orders the hits (filler words rank but do not count), or none."""
    stop = schema.query_stop_words()
    content = [w for w in words if w.lower() not in stop] or words
    terms = list(dict.fromkeys(t for w in content for t in terms_of[w]))
    return terms if 2 <= len(terms) <= TIER_WORDS else []


def keep_best_first(found: engine.Matches, own: engine.Matches, gen: engine.Generation) -> engine.Matches:
    """``found`` (a question widened by feedback) with the question's own best match (in ``own``) first.

    Feedback brings in documents on the question's topic at large; the
    article that matched the person's own words best keeps first place
    (measured in bench/relevance.py: feedback alone pushed single right
    answers down on collections with few relevant articles per question).
    """
    if not len(own) or not len(found):
        return found
    top = own.docnums[own.scores == own.scores.max()]
    best = top[np.argmin(gen.id_rank[top])]
    at = int(np.searchsorted(found.docnums, best))
    if at >= len(found) or found.docnums[at] != best:
        return found
    scores = found.scores.copy()
    scores[at] = max(scores[at], np.nextafter(scores.max(), np.inf))
    return engine.Matches(found.docnums, scores, found.missing)


def _with_optional(query: wq.Query, optional: list[wq.Query]) -> wq.Query:
    """``query``'s documents, with ``optional``'s scores added where they match too."""
    if not optional:
        return query
    return wq.AndMaybe(query, optional[0] if len(optional) == 1 else wq.Or(optional))


def missing(ev: engine.Evaluator, p: Plan, found: engine.Matches) -> np.ndarray:
    """How many of the plan's tier words each hit lacks (0: it has every word)."""
    have = np.zeros(len(found), np.int64)
    for term in p.tier_terms:
        docs = ev.matches(term).docnums
        at = np.minimum(np.searchsorted(docs, found.docnums), max(len(docs) - 1, 0))
        have += (docs[at] == found.docnums) if len(docs) else False
    return len(p.tier_terms) - have


def fallbacks(ev: engine.Evaluator, parsed: ParsedQuery, fixed: str | None, settings: Settings) -> Iterator[Plan]:
    """What to try, in order, when a query found nothing: its words without operators, then the spelling
    correction ``fixed`` (``suggestion``), without operators too if need be."""
    if parsed.strict:
        yield replace(plan(ev, relaxed(parsed, settings.max_query_terms), settings), relaxed=True)
    if fixed is None:
        return
    fixed_parsed = parse(fixed, settings.max_query_terms)
    yield replace(plan(ev, fixed_parsed, settings), corrected=fixed)
    if fixed_parsed.strict:
        yield replace(plan(ev, relaxed(fixed_parsed, settings.max_query_terms), settings),
                      relaxed=True, corrected=fixed)


def _with_feedback(ev: engine.Evaluator, query: wq.Query, required: list[wq.Query], excluded: list[wq.Query],
                   counts: Counter, hints: list[wq.Query], word_scores: dict[str, wq.Query]) -> wq.Query:
    """A long question widened with the words of its best documents (``ranking.feedback_weights``),
    or ``query`` itself when feedback holds back."""
    probe_query = wq.And(required + [query]) if required else query
    probe = ev.matches(wq.AndNot(probe_query, wq.Or(excluded)) if excluded else probe_query)
    best = paging.Ordering(ev.gen, probe, "relevance", collapse=False, half_life_days=1.0,
                           enough=ranking.FEEDBACK_PROBE).page_after(None, 0, ranking.FEEDBACK_PROBE)[0]
    weights = ranking.feedback_weights(ev.searcher, [(r.docnum, r.score) for r in best], counts,
                                       stored_fields=ev.stored_fields,
                                       doc_frequency=lambda t: ev.gen.doc_frequency(ev.searcher, schema.CONTENT, t))
    if weights is None:
        return query
    # Added words count in the merged field only: a title clause for each costs time and buys nothing.
    clauses = []
    for t, w in weights.items():
        if t in counts:
            clauses.append(word_clause(t, w))
            word_scores[t] = clauses[-1]  # the query's own words as feedback weighs them (exact.py)
        else:
            clauses.append(ranking.RankedTerm(schema.CONTENT, t, boost=w))
    return wq.Or(clauses + hints)


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


def word_clause(term: str, weight: float) -> wq.Query:
    """One query word: BM25 on the merged title+body field plus a light title clause."""
    return wq.Or([
        ranking.RankedTerm(schema.CONTENT, term, boost=weight),
        ranking.RankedTerm(schema.TITLE, term, boost=TITLE_WEIGHT * weight),
    ])


def _hint(text: str, settings: Settings) -> wq.Query | None:
    """A phrase that lifts the articles having it: its words' scores once more (``PHRASE_HINT``)."""
    terms = schema.stems(text)[:settings.max_phrase_words]
    return wq.Phrase(schema.CONTENT, terms, boost=PHRASE_HINT) if len(terms) > 1 else None


def _group_query(group: list[Clause], reader, settings, stems) -> wq.Query | None:
    parts = [q for q in (_clause_query(c, reader, settings, stems) for c in group) if q is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _clause_query(c: Clause, reader, settings: Settings, stems: set[str]) -> wq.Query | None:
    if c.field == "author":
        words = [t.text for t in schema.word_analyzer()(c.text)][:settings.max_phrase_words]
        if not words:
            return None
        return ranking.RankedTerm(schema.AUTHOR, words[0]) if len(words) == 1 else wq.Phrase(schema.AUTHOR, words)
    fieldname = schema.TITLE if c.field == "title" else schema.CONTENT
    if c.kind == "prefix":
        prefix = "".join(t.text for t in schema.word_analyzer()(c.text))
        terms = _expand_prefix(reader, fieldname, prefix, settings.max_prefix_terms)
        stems.update(terms)
        if not terms:
            return wq.NullQuery
        return wq.Or([ranking.RankedTerm(fieldname, t) for t in terms])
    terms = schema.stems(c.text)
    stems.update(terms)
    terms = terms[:settings.max_phrase_words]  # highlighting still marks every word
    if not terms:
        return None
    if len(terms) == 1:
        return word_clause(terms[0], 1) if fieldname == schema.CONTENT else ranking.RankedTerm(fieldname, terms[0])
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


def suggestion(ev: engine.Evaluator, q: str, p: Plan) -> str | None:
    """Did-you-mean: ``q`` with its unknown words replaced by the index's closest words, or None."""
    if not p.unknown:
        return None
    fixed = q
    changed = False
    candidates = [w for w in dict.fromkeys(p.unknown) if len(w) <= SUGGEST_MAX_CHARS]
    for word in candidates[:SUGGEST_WORDS]:
        option = ev.gen.suggestion(ev.searcher, word.lower(), maxdist=2)
        if option and option != word.lower():
            fixed = re.sub(r"(?<!\w)%s(?!\w)" % re.escape(word), option, fixed, count=1)
            changed = True
    return fixed if changed and fixed != q else None
