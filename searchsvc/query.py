"""Reading what a person typed into a search box, tolerantly.

The query language: words, ``"phrases"``, ``-excluded`` words or phrases,
``OR`` between two items, ``title:word`` / ``author:word`` (or a quoted
phrase after the colon), and ``prefix*``. Only well-formed operators count;
every other character is punctuation, so a natural-language question (a
stray ``-``, ``:``, ``"``, ``*``, ``?``, parentheses) can never fail or turn
into a different query than the person meant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELDS = ("title", "author")
WORD = re.compile(r"\w+(?:[.'’]\w+)*")
ITEM = re.compile(
    r"""
      (?P<or>(?<!\S)OR(?!\S))                           # OR standing alone
    | (?P<neg>(?<!\S)-)?                                # - at the start of an item
    (?:(?P<field>[A-Za-z]+):(?=["\w]))?                 # field: directly followed by a value
    (?: "(?P<phrase>[^"]*)"                             # a closed quote
      | (?P<prefix>\w+)\*                               # prefix*
      | (?P<word>\w+(?:[.'’]\w+)*)                      # a word
    )
    """,
    re.VERBOSE,
)


@dataclass
class Clause:
    kind: str              # word | phrase | prefix
    text: str              # the raw text (words of a phrase joined by spaces)
    field: str | None = None
    negated: bool = False


@dataclass
class ParsedQuery:
    """Required groups (all must match), each an OR of clauses; plus excluded clauses.

    Plain words without operators sit in ``words``: they rank, and the
    searcher decides how many must match (see ``search``).
    """

    words: list[str] = field(default_factory=list)
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.groups or self.excluded)


def parse(text: str, max_terms: int = 200) -> ParsedQuery:
    parsed = ParsedQuery()
    items: list[Clause | str] = []
    for m in ITEM.finditer(text):
        if len(items) >= max_terms:
            break
        if m.group("or"):
            items.append("OR")
            continue
        fieldname = (m.group("field") or "").lower() or None
        if fieldname not in FIELDS:
            if fieldname:  # an unknown `foo:` is just a word followed by a colon
                items.append(Clause("word", m.group("field")))
            fieldname = None
        negated = bool(m.group("neg"))
        if m.group("phrase") is not None:
            words = WORD.findall(m.group("phrase"))
            if not words:
                continue
            kind, value = ("phrase", " ".join(words)) if len(words) > 1 else ("word", words[0])
        elif m.group("prefix") is not None:
            kind, value = "prefix", m.group("prefix")
        else:
            kind, value = "word", m.group("word")
        items.append(Clause(kind, value, fieldname, negated))
    _group(items, parsed)
    return parsed


def _group(items: list, parsed: ParsedQuery) -> None:
    """Join ``a OR b OR c`` into one group; a dangling OR is dropped."""
    i = 0
    while i < len(items):
        item = items[i]
        if item == "OR":
            i += 1
            continue
        group = [item]
        while i + 2 < len(items) and items[i + 1] == "OR" and isinstance(items[i + 2], Clause):
            group.append(items[i + 2])
            i += 2
        i += 1
        positive = [c for c in group if not c.negated]
        parsed.excluded.extend(c for c in group if c.negated)
        if len(positive) > 1:
            parsed.groups.append(positive)
        elif positive:
            c = positive[0]
            if c.kind == "word" and c.field is None:
                parsed.words.append(c.text)
            else:
                parsed.groups.append([c])


def words_of(parsed: ParsedQuery) -> list[str]:
    """Every positive word the query mentions (for highlighting and did-you-mean)."""
    out = list(parsed.words)
    for group in parsed.groups:
        for c in group:
            out.extend(WORD.findall(c.text))
    return out
