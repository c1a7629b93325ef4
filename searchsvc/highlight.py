"""Finding a query's words in an article's text and marking them: snippets, passages, the article page.

A word matches when the analyzer turns it into one of the query's index
terms, so every form counts (``striking`` for ``strikes``). Text is always
escaped first; only the ``<mark>`` tags are added.
"""
from __future__ import annotations

import html
import re
from bisect import bisect_right
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
    return tuple(sorted({t[:-1] if len(t) > 3 else t for t in stems if t}))


@lru_cache(maxsize=256)
def _stem_pattern(heads: tuple[str, ...]) -> re.Pattern:
    """The words beginning with one of ``heads``, any case: for text whose lower-casing changes its length."""
    alternatives = sorted(map(re.escape, heads), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(alternatives), re.IGNORECASE)


_WORD_REST = re.compile(r"\w*")


def matches(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """(start, end) of every word in ``text`` whose index term is one of ``stems``.

    Candidates are the words that begin with a stem's head, found with
    ``str.find`` in the lower-cased text (a regex would try every position
    of the text, a few times slower); when lower-casing changes the text's
    length (a dotted capital I), offsets would shift, and a regex finds them.
    """
    heads = _heads(frozenset(stems))  # cached: one per query, not per hit
    if not heads:
        return []
    lowered = text.lower()
    if len(lowered) == len(text):
        starts = _word_starts(lowered, heads)
        ends = [_WORD_REST.match(lowered, i).end() for i in starts]
        spans = zip(starts, ends)
    else:
        spans = (m.span() for m in _stem_pattern(heads).finditer(text))
    stem = schema.word_stem
    return [(a, b) for a, b in spans if stem(text[a:b]) in stems]


def _word_starts(lowered: str, heads: tuple[str, ...]) -> list[int]:
    """Where a word beginning with one of ``heads`` begins, ascending (a word character: alphanumeric or ``_``)."""
    starts = set()
    for head in heads:
        i = lowered.find(head)
        while i != -1:
            if i == 0 or not (lowered[i - 1].isalnum() or lowered[i - 1] == "_"):
                starts.add(i)
            i = lowered.find(head, i + 1)
    return sorted(starts)


def passages(body: str, stems: set[str], size: int = 240, limit: int = 3) -> list[tuple[int, str]]:
    """Up to ``limit`` highlighted passages (offset, escaped html with <mark>), best first."""
    text = body[:SCAN_CHARS]
    spans = matches(text, stems) if stems else []
    if not spans:
        return [_window_html(text, 0, size, [])] if text else []
    chosen: list[tuple[int, int, list]] = []
    used = []
    candidates = []
    ends = [b for _, b in spans]  # ascending: matches never overlap
    for i, (start, _) in enumerate(spans):
        lo = max(0, min(start - size // 4, len(text) - size))
        hi = lo + size
        inside = spans[i:bisect_right(ends, hi, lo=i)]
        distinct = len({text[a:b].lower() for a, b in inside})
        candidates.append((distinct * 10 + len(inside), -lo, lo, hi))
    for _, _, lo, hi in sorted(candidates, reverse=True):
        if any(lo < u_hi and hi > u_lo for u_lo, u_hi in used):
            continue
        used.append((lo, hi))
        chosen.append((lo, hi, [sp for sp in spans if sp[0] >= lo and sp[1] <= hi]))
        if len(chosen) >= limit:
            break
    return [_window_html(text, lo, hi - lo, inside) for lo, hi, inside in chosen]


def _window_html(text: str, lo: int, size: int, spans: list[tuple[int, int]]) -> tuple[int, str]:
    """(offset, html): ``text[lo:lo+size]`` snapped to word boundaries, escaped, with <mark> around ``spans``."""
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
    return lo, ("… " if lo > 0 else "") + body + (" …" if hi < len(text) else "")


# --- did-you-mean ------------------------------------------------------------


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
