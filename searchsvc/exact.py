"""Exact forms first: a word an article has only in a form the stemmer joins to it counts less.

The index holds stems, so ``ferry`` matches ``Ferris`` as fully as
``ferries``. Re-scoring happens among the best ``DEPTH`` candidates only,
from their stored text: a query word whose matches in an article are none
of them its own forms (highlight.Forms: the word, or one sharing a lemma
with it) keeps ``STEM_ONLY_SHARE`` of its score there. The words are looked
up in the index's vocabulary first: a word whose stem no other word of the
index shares (most of them) costs nothing more, so neither does a query of
such words. No layout change: an unstemmed field would post every word of
every article a second time for what a few dozen stored texts answer.

Keyword queries only (plan.py gives a written question no ``forms``): a
question describes a topic, and there the stemmer's reach is worth more than
the form (bench/relevance.py: ``neoplasm immunology.`` wants the articles
saying ``immunological``; re-scoring questions too cost MED 0.715 -> 0.710
and CISI 0.430 -> 0.428 nDCG@10).
"""
from __future__ import annotations

import re

import numpy as np
from whoosh import query as wq

from searchsvc import engine, highlight, schema
from searchsvc.highlight import Forms

DEPTH = 30              # candidates re-scored: the first three pages, whatever page is asked (pages stay consistent)
STEM_ONLY_SHARE = 0.25  # of a word's score where the article has only other forms of it (a filler word's share)


def exact_first(ev: engine.Evaluator, forms: Forms | None, word_scores: dict[str, wq.Query],
                found: engine.Matches) -> engine.Matches:
    """``found`` with its best ``DEPTH`` candidates re-scored: a word they have only in another word's form
    (``Ferris`` for ``ferry``) keeps ``STEM_ONLY_SHARE`` of its score."""
    if forms is None or not len(found) or DEPTH <= 0:
        return found
    checked = {}
    for term, clause in word_scores.items():
        own = _own_words(ev, term, forms) if term in forms.words else None
        if own is not None:
            checked[term] = (clause, own)
    if not checked:
        return found
    best = _best(found, DEPTH)
    scores = found.scores.copy()
    texts: dict[int, str] = {}
    for term, (clause, own) in checked.items():
        part = ev.matches(clause)
        if not len(part):
            continue
        docnums = found.docnums[best]
        at = np.minimum(np.searchsorted(part.docnums, docnums), len(part) - 1)
        for position, i in zip(best[part.docnums[at] == docnums], at[part.docnums[at] == docnums]):
            docnum = int(found.docnums[position])
            text = texts.get(docnum)
            if text is None:
                text = texts[docnum] = _text(ev, docnum)
            if not _has_own_form(text, term, forms, own):
                scores[position] -= (1 - STEM_ONLY_SHARE) * part.scores[i]
    return engine.Matches(found.docnums, scores, found.missing)


def _own_words(ev: engine.Evaluator, term: str, forms: Forms) -> re.Pattern | None:
    """The index's words with this term that are forms of the typed word, as a pattern of whole words; None
    when no other word of the index has the term (nothing to re-score: ``ferris`` makes ``ferry`` checked)."""
    words = [w for w in ev.gen.vocabulary(ev.searcher, highlight.stem_head(term)) if schema.word_stem(w) == term]
    own = [w for w in words if forms.is_form(w)]
    if len(own) == len(words):
        return None
    return re.compile(r"(?<!\w)(?:%s)(?!\w)" % "|".join(map(re.escape, own)) if own else r"(?!)")


def _best(found: engine.Matches, n: int) -> np.ndarray:
    """Positions of the best ``n`` hits by tier, then score (some of equal ones, in position order)."""
    if len(found) <= n:
        return np.arange(len(found))
    key = -found.scores
    if found.missing is not None:
        key = found.missing * (found.scores.max() - found.scores.min() + 1.0) + (found.scores.max() - found.scores)
    return np.sort(np.argpartition(key, n - 1)[:n])


def _text(ev: engine.Evaluator, docnum: int) -> str:
    stored = ev.stored_fields(docnum)
    return f"{stored.get(schema.TITLE) or ''}\n\n{(stored.get(schema.BODY) or '')[:highlight.SCAN_CHARS]}"


def _has_own_form(text: str, term: str, forms: Forms, own: re.Pattern) -> bool:
    """Whether ``text`` has one of the typed word's own forms (or no word with ``term`` at all: nothing to say).

    ASCII text is searched for the index's own forms of the word as they are
    written in its vocabulary (lower-case), stopping at the first; other text
    word by word, as highlighting does (accents fold).
    """
    if text.isascii():
        return own.search(text.lower()) is not None or not highlight.matches(text, {term})
    spans = highlight.matches(text, {term})
    return not spans or any(forms.is_form(text[a:b]) for a, b in spans)
