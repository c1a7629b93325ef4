"""Finding a query's words in an article's text and marking them: snippets, titles, passages, the article page.

A word matches when the analyzer turns it into one of the query's index
terms, so every form counts for ranking and for choosing passages. Only the
forms of the word itself are marked: ``ferries`` and ``ferried`` for
``ferry``, not ``Ferris``, which only the stemmer joins to it (``Forms``,
from an English lemma dictionary). Text is always escaped first; only the
``<mark>`` tags are added.
"""
from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from searchsvc import schema
from searchsvc.query import parse, words_of

SCAN_CHARS = 100_000  # passages are looked for in this much of an article


@lru_cache(maxsize=256)
def _heads(stems: frozenset[str]) -> tuple[str, ...]:
    """What a word must begin with to stem to one of ``stems``: each stem but its last letter.

    Snowball mostly keeps a word's beginning (city -> citi); a short stem
    is its own head. Each candidate word is then stemmed to confirm it.
    """
    return tuple(sorted({stem_head(t) for t in stems if t}))


def stem_head(stem: str) -> str:
    """What a word must begin with to stem to ``stem`` (see ``_heads``)."""
    return stem[:-1] if len(stem) > 3 else stem


@lru_cache(maxsize=256)
def _stem_pattern(heads: tuple[str, ...]) -> re.Pattern:
    """The words beginning with one of ``heads``, any case: for text whose lower-casing changes its length."""
    alternatives = sorted(map(re.escape, heads), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(alternatives), re.IGNORECASE)


_WORD_REST = re.compile(r"\w*")


def matches(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """(start, end) of every word in ``text`` whose index term is one of ``stems``."""
    return [(a, b) for a, b, _ in found_words(text, stems)]


def found_words(text: str, stems: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, word) of every match (``matches``), each word sliced once for every later use.

    Candidates are the words that begin with a stem's head, found with
    ``str.find`` in the lower-cased text (a regex would try every position
    of the text, a few times slower: 3.7 against 9 microseconds a hit's text
    with a look-behind, 4.3 without one and the word starts checked after);
    when lower-casing changes the text's length (a dotted capital I),
    offsets would shift, and a regex finds them.
    """
    heads = _heads(frozenset(stems))  # cached: one per query, not per hit
    if not heads:
        return []
    lowered = text.lower()
    stem = schema.word_stem
    found = []
    if len(lowered) == len(text):
        rest = _WORD_REST.match
        # an ASCII word has the index term of its lower-case form (``index_words`` lower-cases ASCII text whole):
        # one cache entry for ``Oil``, ``oil`` and ``OIL``
        keys = lowered if text.isascii() else text
        for a in _word_starts(lowered, heads):
            b = rest(lowered, a).end()
            if stem(keys[a:b]) in stems:
                found.append((a, b, text[a:b]))
    else:
        for m in _stem_pattern(heads).finditer(text):
            word = m.group()
            if stem(word) in stems:
                found.append((m.start(), m.end(), word))
    return found


def _word_starts(lowered: str, heads: tuple[str, ...]) -> list[int]:
    """Where a word beginning with one of ``heads`` begins, ascending (a word character: alphanumeric or ``_``)."""
    starts = []
    for head in heads:
        i = lowered.find(head)
        while i != -1:
            if i == 0 or not (lowered[i - 1].isalnum() or lowered[i - 1] == "_"):
                starts.append(i)
            i = lowered.find(head, i + 1)
    # one head (most queries' words) finds each start once, in order; several may find one twice
    return starts if len(heads) == 1 else sorted(set(starts))


@dataclass(frozen=True)
class Forms:
    """Which matches to mark: for the index terms of the words a person typed, only those words' own forms.

    ``words`` maps an index term to the typed words it came from. A match of
    another term (a ``prefix*`` expansion) is always marked; a match of one
    of these is marked when it is one of the words, or shares a lemma with
    one (``lemmas``): ``ferries`` for ``ferry``, ``striking`` for ``strike``,
    but not ``Ferris`` for ``ferry`` or ``election`` for ``elect``.
    """

    words: dict[str, frozenset[str]]
    # is_form's answer by word as found: a query's hits repeat their words (about 50 asked a query, most again)
    verdicts: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, typed) -> "Forms":
        return _forms_of(tuple(typed))

    def marked(self, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """The matches (``found_words``) that are a typed word's own forms."""
        verdicts, kept = self.verdicts, []
        for match in found:
            verdict = verdicts.get(match[2])
            if verdict is None:
                verdict = self.is_form(match[2])
            if verdict:
                kept.append(match)
        return kept

    def is_form(self, found: str) -> bool:
        verdict = self.verdicts.get(found)
        if verdict is None:
            verdict = self.verdicts[found] = self._is_form(found)
        return verdict

    def _is_form(self, found: str) -> bool:
        typed = self.words.get(schema.word_stem(found))
        if typed is None:
            return True
        lowered = found.lower()
        if lowered in typed:
            return True
        wanted = _lemmas_of(typed)
        # the cheap superset first: most words an index has under a typed word's stem share no lemma with it
        return not wanted.isdisjoint(possible_lemmas(lowered)) and not wanted.isdisjoint(lemmas(lowered))


@lru_cache(maxsize=4096)
def _forms_of(typed: tuple[str, ...]) -> Forms:
    """``Forms.of``, once per query's words (a request asks for them twice: its plan, its hits; never changed)."""
    words: dict[str, set[str]] = {}
    for w in typed:
        for term in schema.stems(w):
            words.setdefault(term, set()).add(w.lower())
    return Forms({t: frozenset(ws) for t, ws in words.items()})


@lru_cache(maxsize=65536)
def lemmas(word: str) -> frozenset[str]:
    """``word`` (lower-case) and its dictionary forms in any part of speech (lemminflect; its rules for unknown words).

    The dictionary loads on first use (about 0.3 s); ``serve`` loads it before it answers.
    """
    found = _dictionary_lemmas(word)
    if found is None:
        from lemminflect import getAllLemmasOOV

        found = {lemma for pos in ("NOUN", "VERB") for forms in getAllLemmasOOV(word, pos).values() for lemma in forms}
    return frozenset({word} | {lemma.lower() for lemma in found})


@lru_cache(maxsize=65536)
def possible_lemmas(word: str) -> frozenset[str]:
    """A superset of ``lemmas(word)`` that never runs lemminflect's model: ``lemmas`` itself for a word of its
    dictionary, else the word and every lemma its rules for unknown words could give.

    For a word the dictionary lacks, the model picks one of 34 ending rules
    per part of speech, about 40 µs a word; applying all of them is a few
    µs. When none of them gives a lemma of the typed words, neither does
    the model's pick: the answer is the same without asking it.
    """
    if _dictionary_lemmas(word) is not None:
        return lemmas(word)
    return frozenset({word} | {_with_rule(word, rule).lower() for rule in _oov_rules()})


@lru_cache(maxsize=4096)
def _lemmas_of(words: frozenset[str]) -> frozenset[str]:
    """Every lemma of ``words`` (the typed words of one index term)."""
    return frozenset().union(*(lemmas(w) for w in words))


def _dictionary_lemmas(word: str) -> set[str] | None:
    """The lemmas lemminflect's ``getAllLemmas(word)`` gives (None: the word is not in its dictionary).

    Read from its tables directly for a lower-case word: the call copies
    them deeply, about 6 µs a word against one. Any other word goes
    through the call (its capitals are applied to the lemmas).
    """
    from lemminflect.core.Lemmatizer import Lemmatizer

    if word != word.lower() or word.isupper() or word[:1].isupper():
        from lemminflect import getAllLemmas

        found = {lemma for forms in getAllLemmas(word).values() for lemma in forms}
        return found or None
    lemmatizer = Lemmatizer()
    entries = lemmatizer._getLemmaDict().get(word)
    overrides = lemmatizer._getOverridesDict().get(word)
    if overrides:
        entries = {**(entries or {}), **overrides}
    if not entries:
        return None
    return {lemma for forms in entries.values() for lemma in forms} or None


@lru_cache(maxsize=1)
def _oov_rules() -> tuple[tuple[int, str, bool], ...]:
    """lemminflect's ending rules for unknown words, as (letters removed, letters added, last letter dropped)."""
    from lemminflect.core.Lemmatizer import Lemmatizer

    rules = []
    for rule in Lemmatizer()._getOOVLemmatizer().rules:
        removed, added, double = rule.split(",")
        rules.append((len(removed), added, double == "True"))
    return tuple(rules)


def _with_rule(word: str, rule: tuple[int, str, bool]) -> str:
    """``word`` with one ending rule applied, as lemminflect's ``LemmatizerRules._applyRule`` applies it."""
    removed, added, double = rule
    lemma = (word[:-removed] if removed else word) + added
    return lemma[:-1] if double else lemma


def mark(text: str, stems: set[str], forms: Forms | None = None) -> str:
    """``text`` escaped, with the query's words marked (a title, the article page)."""
    found = found_words(text, stems) if stems else []
    return _marked_html(text, 0, len(text), forms.marked(found) if forms else found)


def passages(body: str, stems: set[str], size: int = 240, limit: int = 3,
             forms: Forms | None = None) -> list[tuple[int, str]]:
    """Up to ``limit`` highlighted passages (offset, escaped html with <mark>): the best ones, in article order.

    Passages are chosen around the marked words (``forms``), or around any
    form when no word is the query's own. A passage is never cut just
    before a query word: one starting within a quarter of a passage after
    its end is taken in. A text no longer than a passage is its own only
    passage (a fifth of a page's bodies at 21,000 Reuters articles).
    """
    text = body[:SCAN_CHARS]
    found = found_words(text, stems) if stems else []
    marked = forms.marked(found) if forms is not None else found
    if len(text) <= size:
        return [(0, _passage_html(text, 0, len(text), marked))] if text else []
    around = marked or found
    if not around:
        return [_window_html(text, 0, size, [])]
    starts = [a for a, _, _ in around]
    ends = [b for _, b, _ in around]  # ascending: matches never overlap
    chosen = _best(_candidates(starts, ends, [w.lower() for _, _, w in around], size, len(text)), limit)
    return [_window_html(text, lo, hi - lo, around[_first_from(starts, lo):bisect_right(ends, hi)] if marked else [])
            for lo, hi in sorted(chosen)]


def _candidates(starts: list[int], ends: list[int], words: list[str], size: int,
                length: int) -> list[tuple[int, int, int, int]]:
    """(score, -lo, lo, hi) of the passage around each match: ``size`` characters from a quarter before it,
    moved past the words it would cut or that follow within a quarter (at most two quarters on);
    scored by its distinct words, then its matches.

    One sweep: a passage's start never goes back from one match to the
    next, so neither does the first match ending after its end (a bisect
    and a function call per match were a third of choosing passages).
    """
    quarter, last, n = size // 4, length - size, len(starts)
    out = []
    after = 0  # the first match ending after the passage's end (lo + size)
    for i in range(n):
        lo = min(starts[i] - quarter, last)
        if lo < 0:
            lo = 0
        hi = lo + size
        while after < n and ends[after] <= hi:
            after += 1
        j, limit = after, hi + 2 * quarter
        while j < n and starts[j] < hi + quarter and ends[j] <= limit:  # each word taken in reaches on
            hi = ends[j]
            j += 1
        if hi > length:
            hi = length
        # matches i to j - 1 are in the passage (those before i end before its start, never after its end)
        out.append((len(set(words[i:j])) * 10 + j - i, -lo, lo, hi))
    return out


def _best(candidates: list[tuple[int, int, int, int]], limit: int) -> list[tuple[int, int]]:
    """(lo, hi) of up to ``limit`` of the best candidates (``_candidates``) that do not overlap."""
    chosen: list[tuple[int, int]] = []
    for _, _, lo, hi in sorted(candidates, reverse=True):
        for u_lo, u_hi in chosen:
            if lo < u_hi and hi > u_lo:
                break  # overlaps one chosen
        else:
            chosen.append((lo, hi))
            if len(chosen) >= limit:
                break
    return chosen


def _first_from(starts: list[int], lo: int) -> int:
    """The first match starting at ``lo`` or after (then those ending by a passage's end are in it)."""
    return bisect_left(starts, lo)


def _window_html(text: str, lo: int, size: int, spans: list[tuple]) -> tuple[int, str]:
    """(offset, html): ``text[lo:lo+size]`` snapped to word boundaries, escaped, with <mark> around ``spans``.

    The start moves forward to a word's beginning; the end moves forward to
    the end of the word it falls in, so no word at the end is cut.
    """
    hi = min(len(text), lo + size)
    if lo > 0:
        space = text.find(" ", lo, min(hi, lo + 30))
        lo = space + 1 if space != -1 else lo
    if hi < len(text) and not text[hi - 1].isspace():
        space = _WORD_REST.match(text, hi).end()
        hi = space if space - hi <= 30 else hi
    return lo, _passage_html(text, lo, hi, spans)


def _passage_html(text: str, lo: int, hi: int, spans: list[tuple]) -> str:
    """``_marked_html`` on one line, with … where the text goes on before or after."""
    return ("… " if lo > 0 else "") + _one_line(_marked_html(text, lo, hi, spans)) + (" …" if hi < len(text) else "")


def _one_line(s: str) -> str:
    """``s``'s whitespace runs made one space, none at either end: ``" ".join(s.split())``.

    A cleaned article's only whitespace is single spaces and a blank line
    between paragraphs; replacing those, and checking that nothing else is
    left (the only whitespace character ``isprintable`` accepts is the
    space), spares making a string of each word: 1.7 against 2.0 µs a
    passage hot, and in a server, where the words' strings are made with
    cold caches, 10-15 µs of a page's hits (bench/hit_cost.py, 5 rounds of 6).
    """
    joined = s.replace("\n\n", " ")
    if joined.isprintable() and "  " not in joined and not joined.startswith(" ") and not joined.endswith(" "):
        return joined
    return " ".join(s.split())


_OPEN, _CLOSE = "\x00", "\x01"  # where <mark> and </mark> go, while the text around them is escaped in one go


def _marked_html(text: str, lo: int, hi: int, spans: list[tuple]) -> str:
    """``text[lo:hi]`` escaped with <mark> around ``spans`` ((start, end, ...), those inside).

    The text is escaped in one call, with stand-ins for the tags (escaping
    piece by piece was about half of marking a passage), unless it holds
    the stand-ins itself.
    """
    out, pos, marks = [], lo, 0
    for span in spans:
        a, b = span[0], span[1]
        if a < lo or b > hi:
            continue
        out.append(text[pos:a])
        out.append(_OPEN)
        out.append(text[a:b])
        out.append(_CLOSE)
        pos, marks = b, marks + 1
    if not marks:
        return html.escape(text[lo:hi])
    out.append(text[pos:hi])
    raw = "".join(out)
    if raw.count(_OPEN) == marks and raw.count(_CLOSE) == marks:
        return html.escape(raw).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
    # out: text, _OPEN, a word, _CLOSE, text, ...
    return "".join(html.escape(piece) if k % 4 in (0, 2) else ("<mark>" if k % 4 == 1 else "</mark>")
                   for k, piece in enumerate(out))


def highlight_html(text: str, q: str) -> str:
    """``text`` escaped, with the query's words (their own forms) marked: the article page."""
    words = words_of(parse(q))
    return mark(text, {t for w in words for t in schema.stems(w)}, Forms.of(words))
