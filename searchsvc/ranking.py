"""How a query's words are scored: BM25 with Lucene's idf, and pseudo-relevance feedback.

Measured in bench/relevance.py (see the README's Relevance section). The
weighting is attached to the query's own terms, so the ranking is the same
whatever searcher runs them (page, API, CLI, batch).

Feedback (RM3) reads the few best documents of a long question and adds the
words they share, weighted by idf, to it. It holds back where it would
guess: short queries (a person typing two or three words means those words;
the planner in plan.py never asks), too few matching documents, and, in
proportion, short documents (titles, briefs) among the best ones, which added
words would bury.
Its cost is the question's top 10 (already evaluated) plus the stored text of five documents,
capped at ``FEEDBACK_TEXT_CHARS`` each: no term vectors in the index.
"""
from __future__ import annotations

from collections import Counter
from math import log
from typing import Callable

from whoosh import query as wq
from whoosh import scoring

from searchsvc import schema

K1 = 1.2
B = 0.75


class _BM25Scorer(scoring.WeightLengthScorer):
    def __init__(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        n = parent.doc_frequency(fieldname, text)
        total = parent.doc_count_all()
        self.idf = lucene_idf(total, n)
        self.avgfl = parent.avg_field_length(fieldname) or 1
        self.setup(searcher, fieldname, text)

    def _score(self, weight, length):
        return scoring.bm25(self.idf, weight, length, self.avgfl, B, K1)


def lucene_idf(total: int, df: int) -> float:
    """ln(1 + (N - n + .5) / (n + .5)): never negative, and gentler than Whoosh's on rare words."""
    return log(1 + (total - df + 0.5) / (df + 0.5))


class BM25(scoring.WeightingModel):
    def supports_block_quality(self):
        return True

    def scorer(self, searcher, fieldname, text, qf=1):
        if not searcher.schema[fieldname].scorable:
            return scoring.WeightScorer.for_(searcher, fieldname, text)
        return _BM25Scorer(searcher, fieldname, text)


WEIGHTING = BM25()


class RankedTerm(wq.Term):
    """A term scored by ``WEIGHTING``, not by whatever weighting the searcher was opened with."""

    def matcher(self, searcher, context=None):
        context = (context or searcher.context()).set(weighting=WEIGHTING)
        return super().matcher(searcher, context)


# --- pseudo-relevance feedback (RM3) ------------------------------------------

FEEDBACK_DOCS = 5            # best documents the feedback reads
FEEDBACK_TERMS = 20          # words it may add
FEEDBACK_ORIGINAL = 0.5      # share of the original question in the expanded query
FEEDBACK_CANDIDATES = 200    # best-voted words whose document frequency is looked up
FEEDBACK_MIN_DOC_TERMS = 40  # a feedback document shorter than this (a title, a brief) is not read
FEEDBACK_MIN_DOCS = 3        # with fewer matching documents than this, feedback holds back
FEEDBACK_PROBE = 10          # best documents whose lengths set how far feedback goes (see below)
FEEDBACK_TEXT_CHARS = 3000   # each document's text read is capped (the lead says what it is about)


def feedback_weights(searcher, best: list[tuple[int, float]], weights: dict[str, float],
                     stored_fields: Callable[[int], dict] | None = None,
                     doc_frequency: Callable[[str], int] | None = None) -> dict[str, float] | None:
    """The question's term weights mixed with words from its best documents (RM3), or None to hold back.

    ``stored_fields`` (a document's) and ``doc_frequency`` (a merged-field
    term's) default to the searcher's; a server passes its own, the same
    answers without Whoosh's column and term table (``plan._with_feedback``:
    200 term lookups were a fifth of a six-word query).

    ``best`` is the question's best ``FEEDBACK_PROBE`` (docnum, score) in
    order; ``weights`` are its own term weights (how often it repeats each).
    The best ``FEEDBACK_DOCS`` documents vote for their words in proportion
    to their score and each word's share of the text.
    It holds back when too few documents match, and in proportion to the
    short documents (titles, briefs) among the best ``FEEDBACK_PROBE``: added
    words cannot be in them, so full feedback would bury them under longer,
    vaguer ones. Its share of the query is ``1 - FEEDBACK_ORIGINAL`` times
    the square of the share of long documents; none when all are short.
    """
    if FEEDBACK_DOCS <= 0:
        return None
    reader = searcher.reader()
    probe = [(docnum, score, reader.doc_field_length(docnum, schema.CONTENT, 0)) for docnum, score in best]
    if len(probe) < FEEDBACK_MIN_DOCS:
        return None
    long_share = sum(1 for _, _, length in probe if length >= FEEDBACK_MIN_DOC_TERMS) / len(probe)
    feedback_share = (1 - FEEDBACK_ORIGINAL) * long_share ** 2
    docs = [(docnum, score) for docnum, score, length in probe[:FEEDBACK_DOCS] if length >= FEEDBACK_MIN_DOC_TERMS]
    if not docs or feedback_share <= 0:
        return None
    stored_fields = stored_fields or searcher.stored_fields
    votes: Counter = Counter()
    for docnum, score in docs:
        stored = stored_fields(docnum)
        text = f"{stored.get(schema.TITLE) or ''}\n\n{(stored.get(schema.BODY) or '')[:FEEDBACK_TEXT_CHARS]}"
        tf = Counter(schema.stems(text))
        length = sum(tf.values())
        if not length:
            continue
        for term, n in tf.items():
            votes[term] += score * n / length
    chosen = _topical(reader.doc_count_all(), doc_frequency or (lambda t: reader.doc_frequency(schema.CONTENT, t)),
                      votes, FEEDBACK_TERMS)
    if not chosen:
        return None
    return _mix(weights, chosen, 1 - feedback_share)


def _topical(total: int, doc_frequency: Callable[[str], int], votes: Counter, limit: int) -> dict[str, float]:
    """The ``limit`` words with the best vote times idf: common words say little about the topic.

    Stop words, one-letter words and bare numbers never count.
    """
    total = total or 1
    stop = schema.query_stop_words()
    scored = []
    for term, vote in votes.most_common(FEEDBACK_CANDIDATES):
        if len(term) < 2 or term.isdigit() or term in stop:
            continue
        df = doc_frequency(term)
        scored.append((vote * lucene_idf(total, df), term))
    scored.sort(reverse=True)
    return {term: weight for weight, term in scored[:limit]}


def _mix(original: dict[str, float], feedback: dict[str, float], share: float) -> dict[str, float]:
    """``share`` of the L1-normalised original weights plus the rest from the normalised feedback."""
    q_total = sum(original.values()) or 1.0
    f_total = sum(feedback.values()) or 1.0
    mixed = {t: share * w / q_total for t, w in original.items()}
    for t, w in feedback.items():
        mixed[t] = mixed.get(t, 0.0) + (1 - share) * w / f_total
    # Back to the original's scale, so scores read like the plain query's.
    return {t: w * q_total for t, w in mixed.items()}
