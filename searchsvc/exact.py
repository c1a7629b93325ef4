"""Exact forms first: a word an article has only in a form the stemmer joins to it counts less.

The index holds stems, so ``ferry`` matches ``Ferris`` as fully as
``ferries``. Re-scoring happens among the best candidates only (the first
page's, ``exact_first``), from their stored text: a query word whose
matches in an article are none of them its own forms (highlight.Forms: the
word, or one sharing a lemma with it) keeps ``STEM_ONLY_SHARE`` of its
score there. The words are looked up in the index's vocabulary first: a
word whose stem no other word of the index shares costs nothing more. No
layout change: an unstemmed field would post every word of every article a
second time (and need a rebuild) for what the first page's stored texts,
read for its passages anyway, answer.

Keyword queries only (plan.py gives a written question no ``forms``): a
question describes a topic, and there the stemmer's reach is worth more than
the form (bench/relevance.py: ``neoplasm immunology.`` wants the articles
saying ``immunological``; re-scoring questions too, at a quarter, cost MED
0.715 -> 0.710 and CISI 0.430 -> 0.428 nDCG@10). Half, not a quarter: see
``bench/exact_forms.py --keywords`` and the README's Relevance section.
"""
from __future__ import annotations


import numpy as np
from whoosh import query as wq

from searchsvc import engine, highlight, schema
from searchsvc.highlight import Forms

WARM_WORDS = 60_000     # index words a server sorts by term before it answers (``warm``): lemmas keeps 65,536
DEPTH = 10              # the best this many are re-scored until all of them were (a first page)...
ROUNDS = 4              # ...in at most this many rounds (each reads the newcomers' text)
STEM_ONLY_SHARE = 0.5   # of a word's score where the article has only other forms of it (measured: bench/exact_forms.py)


def exact_first(ev: engine.Evaluator, forms: Forms | None, word_scores: dict[str, wq.Query],
                found: engine.Matches) -> engine.Matches:
    """``found`` with its best candidates re-scored: a word they have only in another word's form
    (``Ferris`` for ``ferry``) keeps ``STEM_ONLY_SHARE`` of its score.

    The best ``DEPTH`` are re-scored; those that rise into the best
    ``DEPTH`` in their place are re-scored in turn, until the best ``DEPTH``
    have all been (or ``ROUNDS`` are spent). The first page's hits are read
    for their passages anyway (the evaluator keeps them), so a page costs
    little more than its own text. The same query re-scores the same
    articles whatever page is asked: pages stay consistent.
    """
    if forms is None or not len(found) or DEPTH <= 0:
        return found
    checked = {}
    for term, clause in word_scores.items():
        own = _own_words(ev, term, forms) if term in forms.words else None
        if own is not None:
            checked[term] = (ev.matches(clause), own)
    if not checked:
        return found
    scores = found.scores.copy()
    done = np.zeros(len(found), bool)
    for _ in range(ROUNDS):
        best = _best(scores, found.missing, DEPTH)
        new = best[~done[best]]
        if not len(new):
            break
        done[new] = True
        _rescore(ev, found.docnums, new, scores, checked, forms)
    return engine.Matches(found.docnums, scores, found.missing)


def _rescore(ev: engine.Evaluator, docnums: np.ndarray, positions: np.ndarray, scores: np.ndarray,
             checked: dict, forms: Forms) -> None:
    """Lower ``scores`` at ``positions`` by the share of each checked word the article has only in other forms."""
    texts: dict[int, tuple[str, str | None]] = {}  # an article's text, and lower-cased where it is ASCII
    for term, (part, own) in checked.items():
        if not len(part):
            continue
        wanted = docnums[positions]
        at = np.minimum(np.searchsorted(part.docnums, wanted), len(part) - 1)
        has = part.docnums[at] == wanted
        for position, i in zip(positions[has], at[has]):
            docnum = int(docnums[position])
            found = texts.get(docnum)
            if found is None:
                text = _text(ev, docnum)
                found = texts[docnum] = (text, text.lower() if text.isascii() else None)
            if not _has_own_form(*found, term, forms, own):
                scores[position] -= (1 - STEM_ONLY_SHARE) * part.scores[i]


def _own_words(ev: engine.Evaluator, term: str, forms: Forms) -> tuple[str, ...] | None:
    """The index's words with this term that are forms of the typed word (found as whole words, ``_has_word``);
    None when no other word of the index has the term (nothing to re-score: ``ferris`` makes ``ferry`` checked).

    Not a regular expression of them: a query's is new more often than not, and compiling one cost more
    than the search it made faster.
    """
    held = ev.gen.memo("exact.own")  # the same typed word asks the same question in any query
    key = (term, forms.words.get(term))
    if key not in held:
        words = _words_of_term(ev, term)
        own = tuple(w for w in words if forms.is_form(w))
        held[key] = None if len(own) == len(words) else own
    return held[key]


def warm(gen: engine.Generation, limit: int = WARM_WORDS) -> int:
    """Before a server answers (after ``Generation.warm``): ``_words_of_term``'s answer for every term of the
    index's words, a first letter at a time up to ``limit`` words, and the possible lemmas
    (``highlight.possible_lemmas``: a dictionary word's lemmas) of the words that share their term with
    another (what ``_own_words`` asks of them); returns how many words.

    A fresh query's first question about a typed word read the words under
    its stem's head, stemmed them and looked up their lemmas: at 21,000
    articles about a tenth of a fresh query's calls. Here all at once, in
    under a second at 21,000 articles (59,509 words, 16,392 of them
    sharing a term).
    """
    held = gen.memo("exact.words")
    done = 0
    for words in gen.words_by_letter():
        if done + len(words) > limit:
            continue  # a letter whole or not at all: its terms' answers must hold every word
        done += len(words)
        by_term: dict[str, list[str]] = {}
        for word, term in zip(words, schema.vocabulary_terms(words)):
            if term is not None and word.startswith(highlight.stem_head(term)):  # as ``vocabulary`` finds them
                by_term.setdefault(term, []).append(word)
        for term, found in by_term.items():
            held.setdefault(term, found)
            if len(found) > 1:
                for word in found:
                    highlight.possible_lemmas(word)  # and so its lemmas: what ``Forms.is_form`` asks of a word
    return done


def _words_of_term(ev: engine.Evaluator, term: str) -> list[str]:
    """The index's words whose term is ``term``: the vocabulary under its head stemmed once per commit."""
    held = ev.gen.memo("exact.words")
    found = held.get(term)
    if found is None:
        words = ev.gen.vocabulary(ev.searcher, highlight.stem_head(term))
        found = held[term] = [w for w, t in zip(words, schema.vocabulary_terms(words)) if t == term]
    return found


def _best(scores: np.ndarray, missing: np.ndarray | None, n: int) -> np.ndarray:
    """Positions of the best ``n`` hits by tier, then score (some of equal ones, in position order)."""
    if len(scores) <= n:
        return np.arange(len(scores))
    key = -scores
    if missing is not None:
        key = missing * (scores.max() - scores.min() + 1.0) + (scores.max() - scores)
    return np.sort(np.argpartition(key, n - 1)[:n])


def _text(ev: engine.Evaluator, docnum: int) -> str:
    stored = ev.stored_fields(docnum)
    return f"{stored.get(schema.TITLE) or ''}\n\n{(stored.get(schema.BODY) or '')[:highlight.SCAN_CHARS]}"


def _has_own_form(text: str, lowered: str | None, term: str, forms: Forms, own: tuple[str, ...]) -> bool:
    """Whether ``text`` has one of the typed word's own forms (or no word with ``term`` at all: nothing to say).

    ASCII text (``lowered``: it lower-cased, once an article for all the
    query's words) is searched for the index's own forms of the word as
    they are written in its vocabulary (lower-case), stopping at the first;
    other text (``lowered`` None) word by word, as highlighting does
    (accents fold).
    """
    if lowered is not None:
        return _has_word(lowered, own) or not highlight.matches(text, {term})
    spans = highlight.matches(text, {term})
    return not spans or any(forms.is_form(text[a:b]) for a, b in spans)


def _has_word(lowered: str, words: tuple[str, ...]) -> bool:
    """Whether one of ``words`` stands in ``lowered`` as a whole word (no word character, ``\\w``, either side)."""
    for word in words:
        i = lowered.find(word)
        while i != -1:
            end = i + len(word)
            if (i == 0 or not _word_char(lowered[i - 1])) and (end == len(lowered) or not _word_char(lowered[end])):
                return True
            i = lowered.find(word, i + 1)
    return False


def _word_char(c: str) -> bool:
    """What ``\\w`` matches (Python's: alphanumeric or the underscore)."""
    return c.isalnum() or c == "_"
